//! The stack's lifecycle: CloudFormation invokes the function for the custom resource on Create,
//! Update and Delete, and waits for an answer PUT to a pre-signed URL. Create and Update (a change
//! of destination, filter or selection) check the destination and start a sweep; Delete takes this
//! stack's filters off every group, one [slice](crate::sweep::slices::Sweeper::slice) per
//! invocation, and answers when the removal ends or before CloudFormation stops waiting. Every
//! request is answered, failures included, so a stack never hangs for an hour.
//!
//! - [`crate::cloudformation`]: the request and the answer as they are on the wire (below the
//!   sweep, which carries a removal's request from one invocation to the next);
//! - [`response_url`]: where an answer may be sent;
//! - this module: which requests are admitted ([`StackRequest::admit`]) and what each is answered.
//!
//! The stack calls the sweep; the sweep never calls it. The answer goes out through the [`Aws`]
//! port, so the in-memory fake stands in for CloudFormation in the tests below.

pub(crate) mod response_url;

use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;
use tracing::{info, warn};

use crate::aws::Aws;
use crate::cloudformation::{
    CustomResourceRequest, CustomResourceResponse, RequestType, Status, counts_data,
};
use crate::decision::Goal;
use crate::filter::DesiredFilter;
use crate::outcome::Tally;
use crate::sweep::request::SweepRequest;
use crate::sweep::slices::{SWEEP_RESERVE, SWEEP_SLICE, SweepResponse, Sweeper, log_sweep_done};
use response_url::{Endpoints, ResponseUrl};

/// A custom resource request the function acts on and answers: from its own stack, with a
/// response URL it may PUT to (checked once, here, where the request is read).
#[derive(Debug, Clone)]
pub struct StackRequest {
    pub request: CustomResourceRequest,
    pub url: ResponseUrl,
}

impl PartialEq for StackRequest {
    fn eq(&self, other: &Self) -> bool {
        self.request == other.request
    }
}

impl StackRequest {
    /// Admits `request` for the function of stack `own_stack` (`STACK_ID`), whose SDK endpoints
    /// are `endpoints`; the reason to refuse it otherwise.
    pub fn admit(
        request: CustomResourceRequest,
        own_stack: Option<&str>,
        endpoints: &Endpoints,
    ) -> Result<Self, String> {
        match own_stack {
            Some(own) if own == request.stack_id => {}
            Some(own) => {
                return Err(format!(
                    "custom resource request refused: it comes from stack {}, and this function belongs to stack {own}",
                    request.stack_id
                ));
            }
            None => {
                return Err(format!(
                    "custom resource request refused: it comes from stack {}, and this function has no STACK_ID to check it against",
                    request.stack_id
                ));
            }
        }
        let url = request
            .partition()
            .and_then(|partition| ResponseUrl::check(&request.response_url, &partition, endpoints))
            .map_err(|e| format!("custom resource request refused: {e}"))?;
        Ok(Self { request, url })
    }

    /// The sweep that removes this stack's filters, carrying the request to answer when it ends.
    fn removal(&self) -> SweepRequest {
        SweepRequest {
            custom_resource: Some(self.request.clone()),
            ..SweepRequest::default()
        }
    }
}

/// What the function did for a stack request.
#[derive(Debug, Clone, PartialEq)]
pub enum StackAnswer {
    /// CloudFormation was answered with this.
    Answered(CustomResourceResponse),
    /// A slice of the removal ran (and CloudFormation was answered if it ended).
    Swept(SweepResponse),
    /// Nothing done and nothing sent, for this reason (a removal's continuation while the stack
    /// is not being deleted).
    Refused(String),
}

/// CloudFormation could not be answered: Lambda retries the invocation (and the answer) rather
/// than leave the stack waiting.
#[derive(Debug, Error)]
#[error("answering CloudFormation: {0}")]
pub struct StackError(String);

/// Handles CloudFormation's request: Create and Update check the destination and start a sweep;
/// Delete takes this stack's filters off every group, once CloudFormation confirms the stack is
/// being deleted, unless the stack says to leave them.
pub(crate) async fn handle<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    stack: StackRequest,
) -> Result<StackAnswer, StackError> {
    match stack.request.request_type {
        RequestType::Create | RequestType::Update => {
            sweeper.destination.forget();
            let started = async {
                let destination = sweeper.destination().await?;
                sweeper.start().await?;
                Ok::<_, crate::sweep::slices::SweepError>(destination)
            }
            .await;
            let answer = match started {
                Ok(destination) => {
                    let reserved = reserve(sweeper, &stack.request).await;
                    let data = json!({
                        "DestinationArn": destination.as_str(),
                        "ReservedConcurrency": reserved,
                    });
                    answer(sweeper, &stack, Status::Success, "sweep started", data).await?
                }
                Err(e) => {
                    answer(sweeper, &stack, Status::Failed, &e.to_string(), json!({})).await?
                }
            };
            Ok(StackAnswer::Answered(answer))
        }
        RequestType::Delete if !stack.request.remove_on_delete() => {
            let reason = "filters left in place (RemoveFiltersOnDelete is false)";
            let answer = answer(sweeper, &stack, Status::Success, reason, json!({})).await?;
            Ok(StackAnswer::Answered(answer))
        }
        RequestType::Delete => {
            let request = stack.removal();
            removal(sweeper, &request, &stack).await
        }
    }
}

/// With `ReservedConcurrency=auto` (the default), one execution environment for the function, so
/// its pacing holds account-wide, where the account can afford it; none where Lambda refuses (a
/// freshly vended account's quota leaves nothing to reserve), which never fails the stack. What
/// it came to: `"1"`, `"none"`, or `"as the template says"` when the stack does not ask.
async fn reserve<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    request: &CustomResourceRequest,
) -> &'static str {
    if !request.reserve_where_affordable() {
        return "as the template says";
    }
    match sweeper
        .aws
        .reserve_concurrency(sweeper.function.as_str(), 1)
        .await
    {
        Ok(()) => {
            info!("one execution environment reserved: the function's pacing holds account-wide");
            "1"
        }
        Err(e) => {
            warn!(
                error = %e,
                "no execution environment reserved: the account cannot afford one; bursts may run \
                 several environments, each paced, and the sweeps catch what failed"
            );
            "none"
        }
    }
}

/// The stack statuses in which CloudFormation deletes the custom resource with its stack: the
/// stack's deletion, and the rollback of a failed create.
const DELETING: [&str; 2] = ["DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"];

/// Whether a stack in `status` is going: being deleted, or rolled back after a failed create.
pub(crate) fn is_going(status: &str) -> bool {
    DELETING.contains(&status)
}

/// Why a removal could not be confirmed.
enum Unconfirmed {
    /// CloudFormation says the stack is not being deleted.
    NotDeleting(String),
    /// CloudFormation could not be asked (its answers kept failing past the adapter's retries).
    Unknown(String),
}

impl std::fmt::Display for Unconfirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotDeleting(why) | Self::Unknown(why) => f.write_str(why),
        }
    }
}

/// Whether CloudFormation itself says the stack is being deleted: `Err` with the reason when it
/// does not, or cannot be asked.
async fn confirm_deletion<A: Aws>(
    aws: &A,
    stack: &CustomResourceRequest,
) -> Result<(), Unconfirmed> {
    match aws.stack_status(&stack.stack_id).await {
        Ok(status) if is_going(&status) => Ok(()),
        Ok(status) => Err(Unconfirmed::NotDeleting(format!(
            "CloudFormation reports the stack as {status}, not being deleted"
        ))),
        Err(e) => Err(Unconfirmed::Unknown(format!(
            "could not confirm with CloudFormation that the stack is being deleted: {e}"
        ))),
    }
}

/// One slice of the stack's removal (its first, or a continuation carrying `stack`): hands on
/// while the account is not covered and CloudFormation will still be waiting, and answers when
/// the removal ends or must stop. Every slice first asks CloudFormation whether the stack is being
/// deleted: no payload alone can remove a filter.
pub(crate) async fn removal<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    request: &SweepRequest,
    stack: &StackRequest,
) -> Result<StackAnswer, StackError> {
    match confirm_deletion(sweeper.aws.as_ref(), &stack.request).await {
        Ok(()) => {}
        Err(Unconfirmed::NotDeleting(why)) if request.is_continuation() => {
            // A real removal's chain ends with the stack's deletion; a continuation arriving
            // while the stack is not being deleted was not sent by it. Nothing is removed or sent.
            let reason = format!("removal refused: {why}");
            warn!(stack = %stack.request.stack_id, "{reason}");
            return Ok(StackAnswer::Refused(reason));
        }
        Err(Unconfirmed::Unknown(why)) if request.is_continuation() => {
            // The removal was confirmed by its earlier slices, and CloudFormation waits for an
            // answer: stop here and say how to finish, rather than drop the chain in silence.
            let whole = request.so_far;
            let desired = sweeper.settings.filter.to(sweeper
                .destination()
                .await
                .map_err(|e| StackError(format!("the removal's destination: {e}")))?);
            let reason = format!(
                "{why}; {}",
                cut_short(&stack.request, &whole, &desired, sweeper.function.region())
            );
            warn!(stack = %stack.request.stack_id, "{reason}");
            let answer = answer(
                sweeper,
                stack,
                Status::Success,
                &reason,
                counts_data(&whole, false),
            )
            .await?;
            return Ok(StackAnswer::Answered(answer));
        }
        Err(why) => return removal_failed(sweeper, stack, &why).await,
    }
    // Only a chain of the stack's real deletion gets this far: stopped, it still answers, so the
    // stack deletes.
    if let Some(reason) = crate::sweep::slices::stop_reason(request) {
        let answer = answer(sweeper, stack, Status::Success, &reason, json!({})).await?;
        return Ok(StackAnswer::Answered(answer));
    }
    let slice = match sweeper.slice(request, Goal::Teardown).await {
        Ok(slice) => slice,
        Err(e) => return removal_failed(sweeper, stack, &e).await,
    };
    let whole = slice.whole;
    match &slice.next {
        Some(_) if out_of_time(&stack.request, slice.started_at_ms, sweeper.budget.now_ms()) => {
            let reason = cut_short(
                &stack.request,
                &whole,
                &slice.desired,
                sweeper.function.region(),
            );
            warn!(
                checked = whole.total,
                unsubscribed = whole.unsubscribed,
                "{reason}"
            );
            let data = counts_data(&whole, false);
            answer(sweeper, stack, Status::Success, &reason, data).await?;
        }
        Some(next) => {
            if let Err(e) = sweeper.hand_on(next).await {
                return removal_failed(sweeper, stack, &e).await;
            }
        }
        None => {
            log_sweep_done(slice.kind, &whole);
            let reason = format!(
                "{} log groups checked, this stack's filter taken off {}, {} failed",
                whole.total, whole.unsubscribed, whole.failed
            );
            let data = counts_data(&whole, true);
            answer(sweeper, stack, Status::Success, &reason, data).await?;
        }
    }
    Ok(StackAnswer::Swept(slice.response()))
}

/// A removal that could not run answers CloudFormation anyway, with SUCCESS, so that deleting
/// the stack is never blocked by it; the reason says what was left in place.
async fn removal_failed<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    stack: &StackRequest,
    error: &dyn std::fmt::Display,
) -> Result<StackAnswer, StackError> {
    let reason = format!("filters left in place: {error}");
    warn!(error = %error, "removal could not run");
    let answer = answer(sweeper, stack, Status::Success, &reason, json!({})).await?;
    Ok(StackAnswer::Answered(answer))
}

/// The longest an answer to CloudFormation may take; less when the invocation ends sooner.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// PUTs the answer to CloudFormation's response URL, within [`ANSWER_TIMEOUT`] and the
/// invocation's own time.
async fn answer<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    stack: &StackRequest,
    status: Status,
    reason: &str,
    data: Value,
) -> Result<CustomResourceResponse, StackError> {
    let answer = stack.request.answer(status, reason, data);
    let url = &stack.url;
    info!(request = ?stack.request.request_type, status = ?status, reason, host = url.host(), "answering CloudFormation");
    let timeout = ANSWER_TIMEOUT
        .min(sweeper.budget.left_before(Duration::from_secs(2)))
        .max(Duration::from_secs(1));
    let body = serde_json::to_value(&answer).map_err(|e| StackError(e.to_string()))?;
    sweeper
        .aws
        .answer_cloudformation(url.uri(), &body, timeout)
        .await
        .map_err(|e| StackError(e.to_string()))?;
    Ok(answer)
}

/// The longest the next invocation of a sweep can take to start and finish: the wait behind events
/// queued for the one execution environment, listing, then finishing what was listed.
const NEXT_SLICE_AT_MOST: Duration =
    Duration::from_secs(120 + SWEEP_SLICE.as_secs() + SWEEP_RESERVE.as_secs());

/// Whether a removal must answer CloudFormation now, because one more invocation might end after
/// CloudFormation stops waiting (its `ServiceTimeout`, at most an hour, from the Delete request).
fn out_of_time(stack: &CustomResourceRequest, started_at_ms: u64, now_ms: u64) -> bool {
    let elapsed = Duration::from_millis(now_ms.saturating_sub(started_at_ms));
    elapsed + NEXT_SLICE_AT_MOST >= stack.service_timeout()
}

/// What a removal cut short by CloudFormation's wait says: what it did, what is left, and the
/// command that finishes it.
fn cut_short(
    stack: &CustomResourceRequest,
    whole: &Tally,
    desired: &DesiredFilter,
    region: &str,
) -> String {
    let (name, destination) = (desired.name.as_str(), desired.destination.as_str());
    // Quoted for a POSIX shell: a filter name may hold spaces and quotes.
    let quoted = format!("'{}'", name.replace('\'', r"'\''"));
    format!(
        "removal stopped within CloudFormation's {}s wait: this stack's filter was taken off {} of the {} log groups \
         checked, and the account has more. Groups not yet checked still hold filter {name:?} to {destination}; \
         to remove it, run in this account: backfill --remove --region {region} --filter-name {quoted} \
         --destination-arn {destination}",
        stack.service_timeout().as_secs(),
        whole.unsubscribed,
        whole.total,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ApiError;
    use crate::aws::fake::{Call, FakeAws};
    use crate::filter::SubscriptionFilter;
    use crate::fixtures::{DEST, desired, spec};
    use crate::names::{DestinationArn, FilterName};
    use crate::sweep::slices::tests::{Deployed, LATER, OUT_OF_TIME, PARAMETER, STARTED_MS};

    const STACK: &str = "arn:aws:cloudformation:us-east-1:111111111111:stack/auto-subscribe/1";
    const GROUPS: [&str; 3] = ["/app/0", "/app/1", "/app/2"];

    fn vendor() -> SubscriptionFilter {
        SubscriptionFilter {
            name: "vendor".into(),
            destination_arn: "arn:aws:lambda:us-east-1:111111111111:function:shipper".into(),
            ..desired().to_filter()
        }
    }

    /// Three groups holding ours and a vendor's (listed two per page), the parameter, and the
    /// stack in `status` as DescribeStacks reports it.
    fn account(status: &str) -> Deployed {
        let aws = FakeAws::with_group(GROUPS[0], vec![desired().to_filter(), vendor()], 2)
            .with_parameter(PARAMETER, DEST);
        for group in &GROUPS[1..] {
            aws.add_group(group, vec![desired().to_filter(), vendor()]);
        }
        aws.set_stack_status(STACK, status);
        Deployed::new(aws)
    }

    /// CloudFormation's request of `kind` from the fixtures, with `RemoveFiltersOnDelete`, admitted.
    fn stack(kind: &str, remove: bool) -> StackRequest {
        let text = match kind {
            "Create" => include_str!("../../events/stack/custom-resource-create.json"),
            "Update" => include_str!("../../events/stack/custom-resource-update.json"),
            _ => include_str!("../../events/stack/custom-resource-delete.json"),
        };
        let mut payload: Value = serde_json::from_str(text).expect("fixture is JSON");
        payload["ResourceProperties"]["RemoveFiltersOnDelete"] = remove.to_string().into();
        let request = CustomResourceRequest::read(&payload).expect("a request");
        StackRequest::admit(request, Some(STACK), &Endpoints::default()).expect("admitted")
    }

    /// A removal's continuation, carrying `stack`'s request, from a sweep that began `ago` (the
    /// fake's token "0" lists from the first group again).
    fn continuation(stack: &StackRequest, ago: Duration, hops: u64) -> SweepRequest {
        let ago = u64::try_from(ago.as_millis()).expect("small");
        SweepRequest {
            started_at_ms: Some(STARTED_MS - ago),
            next_token: Some("0".into()),
            hops,
            ..stack.removal()
        }
    }

    /// What one row expects CloudFormation to have been told (none: nothing sent).
    struct Told {
        status: &'static str,
        reason: &'static str,
    }

    /// What one row expects of the groups and the chain.
    #[derive(Debug, PartialEq)]
    struct After {
        /// Groups still holding ours.
        ours: usize,
        /// Vendors' filters still there (always all of them).
        vendors: usize,
        /// Invocations the function handed on to (a new sweep, or the removal's next slice).
        handed_on: usize,
    }

    /// (case, request, RemoveFiltersOnDelete, stack status, continuation (age, hops), time left,
    /// what CloudFormation is told, what the groups and the chain are left with).
    type Row = (
        &'static str,
        &'static str,
        bool,
        &'static str,
        Option<(Duration, u64)>,
        Duration,
        Option<Told>,
        After,
    );

    #[tokio::test]
    async fn the_lifecycle_as_a_table() {
        let hour = Duration::from_secs(3600);
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let kept = After {
            ours: 3,
            vendors: 3,
            handed_on: 0,
        };
        let started = After {
            ours: 3,
            vendors: 3,
            handed_on: 1,
        };
        let removed = After {
            ours: 0,
            vendors: 3,
            handed_on: 0,
        };
        let first_page = After {
            ours: 1,
            vendors: 3,
            handed_on: 1,
        };
        let first_page_answered = After {
            ours: 1,
            vendors: 3,
            handed_on: 0,
        };
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            ("create starts a sweep", "Create", true, "CREATE_IN_PROGRESS", None, LATER,
                Some(Told { status: "SUCCESS", reason: "sweep started" }), started),
            ("update starts a sweep", "Update", true, "UPDATE_IN_PROGRESS", None, LATER,
                Some(Told { status: "SUCCESS", reason: "sweep started" }), After { ours: 3, vendors: 3, handed_on: 1 }),
            ("delete that keeps the filters", "Delete", false, "DELETE_IN_PROGRESS", None, LATER,
                Some(Told { status: "SUCCESS", reason: "filters left in place (RemoveFiltersOnDelete is false)" }), kept),
            ("delete while the stack is not being deleted", "Delete", true, "UPDATE_COMPLETE", None, LATER,
                Some(Told { status: "SUCCESS", reason: "filters left in place: CloudFormation reports the stack as UPDATE_COMPLETE" }),
                After { ours: 3, vendors: 3, handed_on: 0 }),
            ("continuation while the stack is not being deleted", "Delete", true, "UPDATE_COMPLETE", Some((minutes(5), 1)), LATER,
                None, After { ours: 3, vendors: 3, handed_on: 0 }),
            ("delete with the stack's deletion", "Delete", true, "DELETE_IN_PROGRESS", None, LATER,
                Some(Told { status: "SUCCESS", reason: "3 log groups checked, this stack's filter taken off 3, 0 failed" }), removed),
            ("delete with a failed create's rollback", "Delete", true, "ROLLBACK_IN_PROGRESS", None, LATER,
                Some(Told { status: "SUCCESS", reason: "3 log groups checked" }), After { ours: 0, vendors: 3, handed_on: 0 }),
            ("a slice out of time hands on, unanswered", "Delete", true, "DELETE_IN_PROGRESS", None, OUT_OF_TIME,
                None, first_page),
            ("the hour's end answers with the command that finishes", "Delete", true, "DELETE_IN_PROGRESS", Some((minutes(56), 3)), OUT_OF_TIME,
                Some(Told { status: "SUCCESS", reason: "run in this account: backfill --remove" }), first_page_answered),
            ("a chain past its bound answers and stops", "Delete", true, "DELETE_IN_PROGRESS", Some((minutes(5), 50)), LATER,
                Some(Told { status: "SUCCESS", reason: "sweep stopped" }), After { ours: 3, vendors: 3, handed_on: 0 }),
            ("a last slice past the hour still answers", "Delete", true, "DELETE_IN_PROGRESS", Some((hour, 3)), LATER,
                Some(Told { status: "SUCCESS", reason: "this stack's filter taken off 3" }), After { ours: 0, vendors: 3, handed_on: 0 }),
        ];
        for (case, kind, remove, status, carried, left, told, after) in rows {
            let deployed = account(status);
            let sweeper = deployed.sweeper(left);
            let stack = stack(kind, remove);
            let answer = match carried {
                None => handle(&sweeper, stack.clone()).await,
                Some((ago, hops)) => {
                    let request = continuation(&stack, ago, hops);
                    removal(&sweeper, &request, &stack).await
                }
            }
            .unwrap_or_else(|e| panic!("{case}: {e}"));
            let answers = deployed.aws.answers();
            match &told {
                None => assert!(answers.is_empty(), "{case}: nothing sent, got {answers:?}"),
                Some(Told { status, reason }) => {
                    let [sent] = answers.as_slice() else {
                        panic!("{case}: answered once, got {answers:?}")
                    };
                    assert_eq!(sent["Status"], *status, "{case}: {sent}");
                    let said = sent["Reason"].as_str().unwrap_or_default();
                    assert!(said.contains(reason), "{case}: {said}");
                    assert_eq!(sent["RequestId"], stack.request.request_id, "{case}");
                    if let StackAnswer::Answered(response) = &answer {
                        assert_eq!(
                            serde_json::to_value(response).ok().as_ref(),
                            Some(sent),
                            "{case}"
                        );
                    }
                }
            }
            if told.is_none() && carried.is_some() {
                assert!(
                    matches!(answer, StackAnswer::Refused(_)),
                    "{case}: {answer:?}"
                );
            }
            let holding = |name: &str| {
                GROUPS
                    .iter()
                    .filter(|g| deployed.aws.filter_names(g).contains(&name.to_owned()))
                    .count()
            };
            let got = After {
                ours: holding("central-logging"),
                vendors: holding("vendor"),
                handed_on: deployed.aws.invocations().len(),
            };
            assert_eq!(got, after, "{case}");
        }
    }

    #[tokio::test]
    async fn create_reserves_one_environment_where_the_account_can_afford_it() {
        let mut auto = stack("Create", true);
        auto.request.resource_properties["ReservedConcurrency"] = "auto".into();
        // Affordable: reserved for the function itself, and said in the answer.
        let deployed = account("CREATE_IN_PROGRESS");
        handle(&deployed.sweeper(LATER), auto.clone())
            .await
            .expect("answered");
        assert!(deployed.aws.calls().contains(&Call::ReserveConcurrency {
            function: "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe".into(),
            executions: 1,
        }));
        let [answer] = deployed.aws.answers().try_into().expect("answered once");
        assert_eq!(
            (&answer["Status"], &answer["Data"]["ReservedConcurrency"]),
            (&json!("SUCCESS"), &json!("1"))
        );
        // Refused by Lambda (a freshly vended account): the stack still deploys, with none.
        let deployed = account("CREATE_IN_PROGRESS");
        deployed.aws.fail_nth(
            "reserve-concurrency",
            1,
            ApiError::InvalidParameter(
                "Specified ReservedConcurrentExecutions for function decreases account's \
                 UnreservedConcurrentExecution below its minimum value of [10]."
                    .into(),
            ),
        );
        handle(&deployed.sweeper(LATER), auto)
            .await
            .expect("answered");
        let [answer] = deployed.aws.answers().try_into().expect("answered once");
        assert_eq!(
            (&answer["Status"], &answer["Data"]["ReservedConcurrency"]),
            (&json!("SUCCESS"), &json!("none"))
        );
        // A stack that does not ask (ReservedConcurrency 1 or 0 in its template): no call.
        let deployed = account("CREATE_IN_PROGRESS");
        handle(&deployed.sweeper(LATER), stack("Create", true))
            .await
            .expect("answered");
        assert_eq!(deployed.aws.count("reserve-concurrency"), 0);
    }

    #[tokio::test]
    async fn create_with_an_unusable_destination_fails_the_resource_and_starts_nothing() {
        let deployed = Deployed::new(FakeAws::default());
        let sweeper = deployed.sweeper(LATER);
        let answer = handle(&sweeper, stack("Create", true))
            .await
            .expect("answered");
        let StackAnswer::Answered(response) = answer else {
            panic!("answered: {answer:?}")
        };
        assert_eq!(response.status, Status::Failed);
        assert!(
            response.reason.contains("does not exist"),
            "{}",
            response.reason
        );
        assert!(deployed.aws.invocations().is_empty());
    }

    #[tokio::test]
    async fn a_removal_across_slices_answers_once_with_the_whole_removal() {
        let deployed = account("DELETE_IN_PROGRESS");
        let stack = stack("Delete", true);
        handle(&deployed.sweeper(OUT_OF_TIME), stack.clone())
            .await
            .expect("first slice");
        let [next] = deployed.continuations().try_into().expect("handed on");
        assert!(deployed.aws.answers().is_empty(), "not answered yet");
        assert_eq!(
            next.custom_resource.as_ref(),
            Some(&stack.request),
            "carried typed"
        );
        removal(&deployed.sweeper(LATER), &next, &stack)
            .await
            .expect("last slice");
        let [answer] = deployed.aws.answers().try_into().expect("answered once");
        assert_eq!(answer["Status"], "SUCCESS");
        assert_eq!(
            (
                &answer["Data"]["Checked"],
                &answer["Data"]["Unsubscribed"],
                &answer["Data"]["Complete"]
            ),
            (&json!(3), &json!(3), &json!(true))
        );
        assert_eq!(
            deployed.aws.count("describe-stacks"),
            2,
            "each slice asks CloudFormation"
        );
    }

    #[tokio::test]
    async fn failures_still_answer_or_are_errors_lambda_retries() {
        // DescribeStacks failing: the filters stay, and CloudFormation hears why.
        let deployed = account("DELETE_IN_PROGRESS");
        deployed.aws.fail_nth(
            "describe-stacks",
            1,
            ApiError::AccessDenied("not authorized to perform DescribeStacks".into()),
        );
        handle(&deployed.sweeper(LATER), stack("Delete", true))
            .await
            .expect("answered");
        let [answer] = deployed.aws.answers().try_into().expect("answered once");
        let reason = answer["Reason"].as_str().unwrap_or_default();
        assert!(reason.contains("could not confirm"), "{reason}");
        assert_eq!(
            deployed.aws.filter_names(GROUPS[0]),
            ["central-logging", "vendor"]
        );
        // The answer itself failing: an error, so Lambda retries the invocation and the answer.
        let deployed = account("CREATE_IN_PROGRESS");
        deployed.aws.fail_nth(
            "answer",
            1,
            ApiError::Other("the response URL (host h) answered HTTP 403".into()),
        );
        let error = handle(&deployed.sweeper(LATER), stack("Create", true))
            .await
            .expect_err("unanswered");
        assert!(error.to_string().contains("HTTP 403"), "{error}");
    }

    #[test]
    fn the_command_that_finishes_a_removal_quotes_the_filter_name_for_a_shell() {
        let stack = CustomResourceRequest::read(&json!({
            "RequestType": "Delete", "ResponseURL": "https://example", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "Sweep",
        }))
        .expect("a request");
        let mut filter = spec();
        filter.name = FilterName::parse("it's ours").expect("valid");
        let desired = filter.to(DestinationArn::parse(DEST).expect("valid"));
        let reason = cut_short(&stack, &Tally::default(), &desired, "us-east-1");
        assert!(
            reason.ends_with(&format!(
                "backfill --remove --region us-east-1 --filter-name 'it'\\''s ours' --destination-arn {DEST}"
            )),
            "{reason}"
        );
    }

    #[test]
    fn a_removal_answers_before_cloudformation_stops_waiting() {
        let mut request = json!({
            "RequestType": "Delete", "ResponseURL": "https://example", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "Sweep",
            "ResourceProperties": {"ServiceTimeout": "3600"},
        });
        let stack = CustomResourceRequest::read(&request).expect("a request");
        let start = 1_700_000_000_000;
        let minutes = |m: u64| start + m * 60_000;
        assert!(!out_of_time(&stack, start, minutes(0)));
        assert!(!out_of_time(&stack, start, minutes(50)));
        // One more slice (up to 5 minutes with its wait to start) would end past the hour.
        assert!(out_of_time(&stack, start, minutes(56)));
        request["ResourceProperties"]["ServiceTimeout"] = "600".into();
        let stack = CustomResourceRequest::read(&request).expect("a request");
        assert!(out_of_time(&stack, start, minutes(6)));
    }

    #[test]
    fn only_the_functions_own_stack_with_a_safe_url_is_admitted() {
        let text = include_str!("../../events/stack/custom-resource-delete.json");
        let payload: Value = serde_json::from_str(text).expect("fixture is JSON");
        let request = || CustomResourceRequest::read(&payload).expect("a request");
        let none = Endpoints::default();
        assert!(StackRequest::admit(request(), Some(STACK), &none).is_ok());
        let other = StackRequest::admit(
            request(),
            Some("arn:aws:cloudformation:us-east-1:111111111111:stack/other/2"),
            &none,
        );
        assert!(other.is_err_and(|e| e.contains("belongs to stack")));
        let unchecked = StackRequest::admit(request(), None, &none);
        assert!(unchecked.is_err_and(|e| e.contains("no STACK_ID")));
        let mut elsewhere = request();
        elsewhere.response_url = "https://attacker.example/x?X-Amz-Signature=secret".into();
        let refused = StackRequest::admit(elsewhere, Some(STACK), &none).expect_err("refused");
        assert!(
            refused.contains("not an Amazon S3 host") && !refused.contains("secret"),
            "{refused}"
        );
    }
}
