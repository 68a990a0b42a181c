//! The Lambda function: one typed [`Invocation`] in, one answer out. [`Function::handle`] is the
//! table of contents: a new log group is reconciled here; sweeps and the stack's requests go to
//! [`crate::sweep`]. `main.rs` only wires it to the runtime ([`runtime`]), so tests call it
//! with a fake [`Aws`] too.

pub mod error;
pub mod invocation;
pub mod metrics;
pub mod repairs;
pub mod runtime;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use crate::aws::Aws;
use crate::decision::{Goal, LogGroup};
use crate::destination::{CACHE_TTL, Destination};
use crate::names::FunctionArn;
use crate::outcome::{Outcome, OutcomeLabel};
use crate::reconcile::Reconciler;
use crate::settings::Settings;
use crate::sweep::lambda::{SweepResponse, Sweeper, before_deadline, listing_deadline};
use crate::sweep::stack::{self, CustomResourceResponse, StackAnswer};
pub use error::FunctionError;
pub use invocation::{Deployment, Invocation};
use metrics::Counts;
use repairs::{MAX_REPAIRS, Repairs};

/// What the function answers for one log group's event (skips included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The group the event named; `null` when the event named none.
    pub log_group_name: Option<String>,
    pub outcome: OutcomeLabel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed_filters: Vec<String>,
    /// The group was repaired too often lately and is left alone (see [`repairs`]).
    #[serde(skip)]
    pub repairs_stopped: bool,
}

impl Response {
    fn skipped(log_group_name: Option<String>, reason: String) -> Self {
        Self {
            log_group_name,
            outcome: OutcomeLabel::Skipped,
            reason: Some(reason),
            removed_filters: Vec::new(),
            repairs_stopped: false,
        }
    }
}

/// What the function answers: one log group's outcome, one slice of a sweep, or what it told
/// CloudFormation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Group(Response),
    Sweep(SweepResponse),
    /// What was sent to CloudFormation for a custom resource request.
    Stack(CustomResourceResponse),
}

impl Answer {
    /// The answer's outcomes, for the metrics line.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        match self {
            Answer::Group(response) => {
                counts.outcomes.add(response.outcome);
                if response.repairs_stopped {
                    counts.repairs_stopped = response.log_group_name.clone();
                }
            }
            Answer::Stack(_) => {}
            Answer::Sweep(SweepResponse {
                sweep,
                stopped,
                kind,
            }) => {
                counts.outcomes = sweep.counts;
                counts.sweep_kind = Some(kind.as_str());
                counts.sweeps_stopped = u64::from(stopped.is_some());
            }
        }
        counts
    }

    /// The log group's outcome, when this answers a log group's event.
    pub fn group(&self) -> Option<&Response> {
        match self {
            Answer::Group(response) => Some(response),
            Answer::Sweep(_) | Answer::Stack(_) => None,
        }
    }
}

impl From<StackAnswer> for Answer {
    fn from(answer: StackAnswer) -> Self {
        match answer {
            StackAnswer::Answered(response) => Answer::Stack(response),
            StackAnswer::Swept(slice) => Answer::Sweep(slice),
            StackAnswer::Refused(reason) => Answer::Group(Response::skipped(None, reason)),
        }
    }
}

/// The handler with what it keeps between invocations: clients, settings, the cached destination.
#[derive(Debug)]
pub struct Function<A> {
    aws: Arc<A>,
    settings: Settings,
    destination: Destination,
    /// The stack the function belongs to (`STACK_ID`): the only one whose requests it acts on.
    stack_id: Option<String>,
    /// The function's role name (`FUNCTION_ROLE_NAME`), to know its own calls in CloudTrail.
    role_name: Option<String>,
    repairs: Repairs,
}

impl<A: Aws + 'static> Function<A> {
    pub fn new(aws: A, settings: Settings) -> Self {
        let destination = Destination::new(settings.destination.clone(), CACHE_TTL);
        Self {
            aws: Arc::new(aws),
            settings,
            destination,
            stack_id: None,
            role_name: None,
            repairs: Repairs::default(),
        }
    }

    /// The stack the function belongs to, and its role's name.
    pub fn deployed(mut self, stack_id: Option<String>, role_name: Option<String>) -> Self {
        self.stack_id = stack_id;
        self.role_name = role_name;
        self
    }

    pub fn aws(&self) -> &A {
        &self.aws
    }

    /// Handles one invocation. `Ok` for everything handled, skips included; `Err` only when the
    /// function cannot do what it should (broken configuration, AWS refusing, retries exhausted).
    pub async fn handle(
        &self,
        payload: &serde_json::Value,
        invoked_function_arn: &str,
        deadline_ms: u64,
    ) -> Result<Answer, FunctionError> {
        let function = FunctionArn::parse(invoked_function_arn)
            .map_err(|e| FunctionError::Identity(e.to_string()))?;
        let me = Deployment {
            function,
            stack_id: self.stack_id.clone(),
            role_name: self.role_name.clone(),
        };
        let function = &me.function;
        let sweeper = Sweeper {
            aws: &self.aws,
            settings: &self.settings,
            destination: &self.destination,
            function,
            deadline: listing_deadline(deadline_ms),
            answer_by: before_deadline(deadline_ms, Duration::from_secs(2)),
        };
        match Invocation::parse(payload, &me) {
            Invocation::Created(group) => self.reconcile(&group, Goal::Subscribe, function).await,
            Invocation::TagsChanged(group) => self.retag(&group, function).await,
            Invocation::FiltersChanged(group) => self.repair(&group, function).await,
            Invocation::Sweep(request) => {
                Ok(Answer::Sweep(Box::pin(sweeper.sweep(&request)).await?))
            }
            Invocation::Stack(request) => {
                Ok(Box::pin(stack::handle(&sweeper, request)).await?.into())
            }
            Invocation::Removal(request, stack) => {
                Ok(Box::pin(stack::removal(&sweeper, &request, &stack))
                    .await?
                    .into())
            }
            Invocation::Refused(reason) => {
                warn!(outcome = "skipped", reason = %reason, "request refused");
                Ok(Answer::Group(Response::skipped(None, reason)))
            }
            Invocation::NotOurs {
                log_group_name,
                reason,
            } => {
                info!(log_group = log_group_name, outcome = "skipped", reason = %reason, "event skipped");
                Ok(Answer::Group(Response::skipped(log_group_name, reason)))
            }
        }
    }

    /// A group whose filters someone else changed: reconciled again, unless it has been repaired
    /// too often lately (then nothing is called at all).
    async fn repair(
        &self,
        group: &LogGroup,
        function: &FunctionArn,
    ) -> Result<Answer, FunctionError> {
        let name = &group.name;
        if self.repairs.exhausted(name, Instant::now()) {
            let reason = format!(
                "repaired {MAX_REPAIRS} times within the hour: another tool keeps changing its \
                 subscription filters, so it is left alone for now"
            );
            warn!(log_group = %name, outcome = "skipped", reason = %reason, "repairs stopped");
            let mut response = Response::skipped(Some(name.to_string()), reason);
            response.repairs_stopped = true;
            return Ok(Answer::Group(response));
        }
        let answer = self.reconcile(group, Goal::Subscribe, function).await?;
        if answer
            .group()
            .is_some_and(|r| r.outcome == OutcomeLabel::Subscribed)
        {
            self.repairs.record(name, Instant::now());
        }
        Ok(answer)
    }

    /// A group whose tags changed: converged under the tag rules (subscribed if it entered the
    /// selection, our filter taken off if it left), its tags read from AWS. Without tag rules,
    /// tags do not matter, and nothing is called.
    async fn retag(
        &self,
        group: &LogGroup,
        function: &FunctionArn,
    ) -> Result<Answer, FunctionError> {
        if !self.settings.selection.has_tag_rules() {
            let reason = "its tags changed, and no tag rule (INCLUDE_TAGS, EXCLUDE_TAGS) is set";
            info!(log_group = %group.name, outcome = "skipped", reason, "event skipped");
            return Ok(Answer::Group(Response::skipped(
                Some(group.name.to_string()),
                reason.into(),
            )));
        }
        self.reconcile(group, Goal::Converge, function).await
    }

    /// One group, reconciled towards `goal`: a new log group, or one whose filters changed, is
    /// subscribed when the selection takes it (`Subscribe`); one whose tags changed also loses our
    /// filter when it left the selection (`Converge`).
    async fn reconcile(
        &self,
        group: &LogGroup,
        goal: Goal,
        function: &FunctionArn,
    ) -> Result<Answer, FunctionError> {
        let reconciler = Reconciler {
            filter: &self.settings.filter,
            mode: self.settings.existing_filters,
            selection: &self.settings.selection,
            goal,
            created_after_ms: None,
            destination: &self.destination,
            region: function.region(),
            dry_run: false,
        };
        let name = &group.name;
        let outcome = match reconciler.reconcile(self.aws.as_ref(), group).await {
            Ok(outcome) => outcome,
            Err(e) => {
                warn!(log_group = %name, outcome = "failed", error = %e, "destination unusable");
                return Err(e.into());
            }
        };
        let label = outcome.label();
        let removed = outcome.removed().to_vec();
        match outcome {
            Outcome::Failed { error, retryable } => {
                warn!(log_group = %name, outcome = %label, error = %error, "could not reconcile");
                Err(FunctionError::Failed {
                    group: name.to_string(),
                    message: error,
                    retryable,
                })
            }
            outcome => {
                let reason = outcome.reason().map(str::to_owned);
                info!(log_group = %name, outcome = %label, reason, removed_filters = ?removed, "log group handled");
                Ok(Answer::Group(Response {
                    log_group_name: Some(name.to_string()),
                    outcome: label,
                    reason,
                    removed_filters: removed,
                    repairs_stopped: false,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::FakeAws;
    use crate::settings::RawSettings;
    use crate::sweep::engine::Summary;
    use crate::sweep::lambda::now_ms;
    use crate::sweep::request::SweepRequest;
    use serde_json::Value;

    const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe";
    const PARAMETER: &str = "/central-logging/destination-arn";
    const DEST: &str = "arn:aws:logs:us-east-1:999999999999:destination:central";
    /// A runtime deadline far enough away that a sweep lists everything.
    const LATER: u64 = u64::MAX;

    fn function(aws: FakeAws) -> Function<FakeAws> {
        Function::new(
            aws,
            RawSettings::default().parse().expect("defaults are valid"),
        )
    }

    fn event(group: &str) -> Value {
        let mut e: Value = serde_json::from_str(include_str!("../../events/create-log-group.json"))
            .expect("fixture is JSON");
        e["detail"]["requestParameters"]["logGroupName"] = group.into();
        e
    }

    async fn outcome(f: &Function<FakeAws>, event: &Value) -> OutcomeLabel {
        let answer = f.handle(event, ARN, LATER).await.expect("handled");
        answer.group().expect("a log group's answer").outcome
    }

    /// A scheduled sweep whose runtime deadline is a second away, inside the reserve: one page is
    /// listed and finished, then the slice hands on.
    async fn sweep_out_of_time(f: &Function<FakeAws>) -> Summary {
        swept(f, &scheduled(), now_ms() + 1_000).await
    }

    /// The summary of the sweep slice `payload` asks for, with the runtime deadline at `deadline_ms`.
    async fn swept(f: &Function<FakeAws>, payload: &Value, deadline_ms: u64) -> Summary {
        match f.handle(payload, ARN, deadline_ms).await {
            Ok(Answer::Sweep(SweepResponse { sweep, .. })) => sweep,
            other => panic!("a sweep answer: {other:?}"),
        }
    }

    /// Five groups without filters (`/a` to `/e`), listed two per page, and the destination.
    fn five_groups() -> FakeAws {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        for name in ["/b", "/c", "/d", "/e"] {
            aws.add_group(name, vec![]);
        }
        aws
    }

    fn scheduled() -> Value {
        serde_json::json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
    }

    #[tokio::test]
    async fn a_sweep_with_time_enough_covers_the_account_in_one_invocation() {
        let f = function(five_groups());
        let sweep = swept(&f, &scheduled(), LATER).await;
        assert_eq!(
            (
                sweep.counts.total,
                sweep.counts.subscribed,
                sweep.next_token
            ),
            (5, 5, None)
        );
        assert!(
            !f.aws().calls().iter().any(|c| c.starts_with("invoke")),
            "no continuation needed"
        );
    }

    #[tokio::test]
    async fn a_sweep_out_of_time_hands_on_where_to_continue() {
        let f = function(five_groups());
        // The runtime's deadline is inside the reserve: list one page, finish it, hand on.
        let sweep = sweep_out_of_time(&f).await;
        assert_eq!(
            (sweep.counts.total, sweep.next_token.as_deref()),
            (2, Some("2"))
        );
        let [continuation] = continuations(&f).try_into().expect("one continuation");
        assert_eq!(continuation.next_token.as_deref(), Some("2"));
        assert_eq!(continuation.so_far.subscribed, 2, "the slice is counted");
        let started = continuation
            .started_at_ms
            .expect("the sweep's start is carried");
        let now = now_ms();
        assert!(started.abs_diff(now) < 60_000, "{started} vs {now}");
        // The continuation picks up at the third group.
        let sweep = swept(&f, &continuation.payload(), LATER).await;
        assert_eq!((sweep.counts.total, sweep.next_token.as_deref()), (3, None));
    }

    #[tokio::test]
    async fn groups_still_throttled_at_the_deadline_go_to_the_next_invocation() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        aws.add_group("/b", vec![]);
        aws.fail_nth(
            "put central-logging",
            1,
            crate::aws::ApiError::RetriesExhausted {
                attempts: 8,
                last: "ThrottlingException".into(),
            },
        );
        let f = function(aws);
        // The deadline is inside the reserve: the one page is listed, the second pass is not run.
        let sweep = sweep_out_of_time(&f).await;
        assert_eq!((sweep.counts.total, sweep.next_token.as_deref()), (1, None));
        let [continuation] = continuations(&f).try_into().expect("one continuation");
        assert!(continuation.listing_done(), "{continuation:?}");
        assert_eq!(continuation.retry.len(), 1);
        // The next invocation takes the carried group, lists nothing, and ends the sweep.
        let listed = |f: &Function<FakeAws>| {
            f.aws()
                .calls()
                .iter()
                .filter(|c| *c == "describe-log-groups")
                .count()
        };
        let before = listed(&f);
        let sweep = swept(&f, &continuation.payload(), LATER).await;
        assert_eq!((sweep.counts.total, sweep.counts.subscribed), (1, 1));
        assert_eq!(listed(&f), before, "nothing listed again");
        assert_eq!(continuations(&f).len(), 1, "the sweep ended");
        assert_eq!(f.aws().filter_names("/a"), vec!["central-logging"]);
        assert_eq!(f.aws().filter_names("/b"), vec!["central-logging"]);
    }

    /// The sweep requests the function handed on to its next invocation.
    fn continuations(f: &Function<FakeAws>) -> Vec<SweepRequest> {
        let prefix = format!("invoke {ARN} ");
        f.aws()
            .calls()
            .iter()
            .filter_map(|c| c.strip_prefix(&prefix))
            .map(|payload| {
                let payload: Value = serde_json::from_str(payload).expect("JSON payload");
                SweepRequest::from_payload(&payload)
                    .expect("a sweep payload")
                    .expect("a sweep request")
            })
            .collect()
    }

    #[tokio::test]
    async fn skips_cost_no_aws_call() {
        let f = function(FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST));
        assert_eq!(outcome(&f, &Value::Null).await, OutcomeLabel::Skipped);
        assert!(f.aws().calls().is_empty(), "{:?}", f.aws().calls());
    }

    #[tokio::test]
    async fn the_parameter_is_read_once_and_cached() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        let f = function(aws);
        assert_eq!(outcome(&f, &event("/a")).await, OutcomeLabel::Subscribed);
        assert_eq!(outcome(&f, &event("/a")).await, OutcomeLabel::Unchanged);
        let reads = f
            .aws()
            .calls()
            .iter()
            .filter(|c| c.starts_with("get "))
            .count();
        assert_eq!(reads, 1);
    }

    #[tokio::test]
    async fn unusable_destinations_are_errors_before_any_log_call() {
        let cases = [
            (None, "does not exist"),
            (Some("not-an-arn"), "not usable"),
            (
                Some("arn:aws:logs:eu-west-1:999999999999:destination:central"),
                "own Region (us-east-1)",
            ),
        ];
        for (value, expected) in cases {
            let aws = FakeAws::with_group("/a", vec![], 2);
            let aws = match value {
                Some(v) => aws.with_parameter(PARAMETER, v),
                None => aws,
            };
            let f = function(aws);
            let error = f
                .handle(&event("/a"), ARN, LATER)
                .await
                .expect_err("unusable")
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert_eq!(
                f.aws().calls(),
                vec![format!("get {PARAMETER}")],
                "no describe, no write"
            );
        }
    }

    #[tokio::test]
    async fn a_bad_invoked_arn_is_an_error() {
        let f = function(FakeAws::default());
        assert!(matches!(
            f.handle(&event("/a"), "nonsense", LATER).await,
            Err(FunctionError::Identity(_))
        ));
    }
}
