//! The Lambda function's handler: one event in, one decision out. `main.rs` only wires it to the
//! runtime; everything it decides is here, over [`Aws`], so tests call it with a fake too.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};
use thiserror::Error;
use tracing::{info, warn};

use crate::apply::{Outcome, OutcomeLabel, Subscriber, Tally};
use crate::aws::Aws;
use crate::backfill::{self, Goal, Job, Summary};
use crate::custom_resource::{
    self, CustomResourceRequest, CustomResourceResponse, RequestType, Status, counts_data,
};
use crate::destination::{CACHE_TTL, Destination, DestinationError};
use crate::event::{FunctionIdentity, SweepRequest, read_create_log_group, read_sweep};
use crate::metrics::Counts;
use crate::plan::DesiredFilter;
use crate::sdk::SdkAws;
use crate::selection::Selection;
use crate::settings::{ConfigError, RawSettings, Settings};

/// What the function answers for an event it handled (skips included).
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
            Answer::Group(response) => counts.outcomes.add(response.outcome),
            Answer::Stack(_) => {}
            Answer::Sweep(SweepResponse { sweep }) => counts.outcomes = sweep.counts,
        }
        counts
    }

    /// The log group's outcome, when this answers a CreateLogGroup event.
    pub fn group(&self) -> Option<&Response> {
        match self {
            Answer::Group(response) => Some(response),
            Answer::Sweep(_) | Answer::Stack(_) => None,
        }
    }
}

/// One invocation's share of a sweep; `sweep.nextToken` is set when the next invocation continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepResponse {
    pub sweep: Summary,
}

/// A sweep invocation stops listing new groups this long before the runtime's deadline, to
/// finish the groups already listed (at most a page and the queue: well under a minute at 5/s).
pub const SWEEP_RESERVE: Duration = Duration::from_secs(60);
/// And lists for at most this long, so CreateLogGroup events queued behind a sweep (the stack runs
/// one execution environment) wait minutes, not the whole sweep.
pub const SWEEP_SLICE: Duration = Duration::from_secs(120);

/// The function could not do what it should: Lambda retries the event, then keeps it on the stack's
/// failure destination. Each message says what to fix.
#[derive(Debug, Error)]
pub enum FunctionError {
    #[error("cannot tell this function's account and Region: {0}")]
    Identity(String),
    #[error("{0}")]
    Destination(#[from] DestinationError),
    #[error("log group {group}: {message}")]
    Failed { group: String, message: String },
    #[error("sweep: {0}")]
    Sweep(String),
    #[error("answering CloudFormation: {0}")]
    CustomResource(String),
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        let error_type = match &error {
            FunctionError::Identity(_) => "InvalidInvocation",
            FunctionError::Destination(_) => "DestinationUnusable",
            FunctionError::Failed { .. } => "SubscribeFailed",
            FunctionError::Sweep(_) => "SweepFailed",
            FunctionError::CustomResource(_) => "CustomResourceUnanswered",
        };
        Self {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// Reads the settings from the environment, adding the function's own log group to the exclusions
/// (subscribing it would ship our own logs, and a filter on it is nobody's intent).
pub fn settings_from_env() -> Result<Settings, ConfigError> {
    let mut settings = RawSettings::from_env(|k| std::env::var(k).ok()).parse()?;
    if let Ok(own) = std::env::var("AWS_LAMBDA_LOG_GROUP_NAME") {
        settings.selection =
            settings
                .selection
                .also_exclude_exactly(&own)
                .map_err(|e| ConfigError {
                    setting: crate::settings::Setting::Exclude,
                    message: e.to_string(),
                })?;
    }
    Ok(settings)
}

/// The handler with what it keeps between invocations: clients, settings, the cached destination.
#[derive(Debug)]
pub struct Function<A> {
    aws: Arc<A>,
    settings: Settings,
    destination: Destination,
}

impl<A: Aws + 'static> Function<A> {
    pub fn new(aws: A, settings: Settings) -> Self {
        let destination = Destination::new(settings.destination.clone(), CACHE_TTL);
        Self {
            aws: Arc::new(aws),
            settings,
            destination,
        }
    }

    pub fn aws(&self) -> &A {
        &self.aws
    }

    /// Handles one invocation. `Ok` for everything handled, skips included; `Err` only when the
    /// function cannot do what it should (broken configuration, AWS refusing, retries exhausted).
    pub async fn handle(
        &self,
        event: &Value,
        invoked_function_arn: &str,
        deadline_ms: u64,
    ) -> Result<Answer, FunctionError> {
        let identity = FunctionIdentity::from_function_arn(invoked_function_arn)
            .map_err(FunctionError::Identity)?;
        let deadline = listing_deadline(deadline_ms);
        if let Some(stack) = CustomResourceRequest::read(event) {
            return Box::pin(self.custom_resource(
                stack,
                &identity,
                invoked_function_arn,
                deadline,
            ))
            .await;
        }
        if let Some(request) = read_sweep(event) {
            return Box::pin(self.sweep(request, &identity, invoked_function_arn, deadline)).await;
        }
        self.handle_log_group(event, &identity)
            .await
            .map(Answer::Group)
    }

    /// One slice of a sweep over the account, with the same paging, pacing and plan as backfill:
    /// selected groups subscribed and our filter taken off groups no longer selected, or, for a
    /// removal, our filter taken off every group. When the slice ends before the account does,
    /// the function invokes itself with where to continue; a custom resource's removal answers
    /// CloudFormation when it ends, or when CloudFormation would stop waiting.
    async fn sweep(
        &self,
        request: SweepRequest,
        identity: &FunctionIdentity,
        invoked_function_arn: &str,
        deadline: Instant,
    ) -> Result<Answer, FunctionError> {
        let stack = request
            .custom_resource
            .as_ref()
            .and_then(CustomResourceRequest::read);
        let started_at_ms = request.started_at_ms.unwrap_or_else(now_ms);
        if request.next_token.is_none() {
            self.destination.forget();
        }
        let slice = async {
            let destination = self
                .destination
                .get(self.aws.as_ref(), &identity.region)
                .await?;
            let (goal, selection) = if request.remove {
                // This stack's filter comes off every group, whatever the selection says now.
                (Goal::Remove, Selection::everything())
            } else {
                (
                    Goal::SubscribeAndRemoveUnselected,
                    self.settings.selection.clone(),
                )
            };
            let desired = DesiredFilter::new(&self.settings, destination);
            let job = Job {
                desired: desired.clone(),
                mode: self.settings.existing_filters,
                selection,
                goal,
                dry_run: false,
                workers: 8,
                deadline: Some(deadline),
                start_token: request.next_token.clone(),
            };
            let slice = backfill::run(self.aws.clone(), job, |_| {})
                .await
                .map_err(|e| FunctionError::Sweep(format!("listing the log groups: {e}")))?;
            Ok::<_, FunctionError>((slice, desired))
        }
        .await;
        let (slice, desired) = match (slice, stack.as_ref()) {
            (Ok(done), _) => done,
            (Err(e), None) => return Err(e),
            (Err(e), Some(stack)) => return self.removal_failed(stack, &e).await,
        };
        log_slice(&slice);
        let whole = request.so_far.plus(&slice.counts);
        match (slice.next_token.as_deref(), stack) {
            (Some(_), Some(stack)) if removal_out_of_time(&stack, started_at_ms, now_ms()) => {
                let reason = removal_cut_short(&stack, &whole, &desired, &identity.region);
                warn!(
                    checked = whole.total,
                    unsubscribed = whole.unsubscribed,
                    "{reason}"
                );
                self.answer_stack(&stack, Status::Success, &reason, counts_data(&whole, false))
                    .await?;
            }
            (Some(token), stack) => {
                let next = request.continued(started_at_ms, &slice.counts, token);
                if let Err(e) = self
                    .aws
                    .invoke_async(invoked_function_arn, &next.payload())
                    .await
                {
                    let e = FunctionError::Sweep(format!("handing on to the next invocation: {e}"));
                    match stack {
                        None => return Err(e),
                        Some(stack) => return self.removal_failed(&stack, &e).await,
                    }
                }
            }
            (None, stack) => {
                log_counts("sweep done", &whole);
                if let Some(stack) = stack {
                    let reason = format!(
                        "{} log groups checked, this stack's filter taken off {}, {} failed",
                        whole.total, whole.unsubscribed, whole.failed
                    );
                    self.answer_stack(&stack, Status::Success, &reason, counts_data(&whole, true))
                        .await?;
                }
            }
        }
        Ok(Answer::Sweep(SweepResponse { sweep: slice }))
    }

    /// A removal that could not run answers CloudFormation anyway, with SUCCESS, so that deleting
    /// the stack is never blocked by it; the reason says what was left in place.
    async fn removal_failed(
        &self,
        stack: &CustomResourceRequest,
        error: &FunctionError,
    ) -> Result<Answer, FunctionError> {
        let reason = format!("filters left in place: {error}");
        warn!(error = %error, "removal could not run");
        self.answer_stack(stack, Status::Success, &reason, json!({}))
            .await
    }

    /// CloudFormation's custom resource: Create and Update (the destination, filter or selection
    /// changed) check the destination and start a sweep; Delete takes this stack's filters off
    /// every group, unless the stack says to leave them. Every request is answered.
    async fn custom_resource(
        &self,
        stack: CustomResourceRequest,
        identity: &FunctionIdentity,
        invoked_function_arn: &str,
        deadline: Instant,
    ) -> Result<Answer, FunctionError> {
        match stack.request_type {
            RequestType::Create | RequestType::Update => {
                self.destination.forget();
                let started = async {
                    let destination = self
                        .destination
                        .get(self.aws.as_ref(), &identity.region)
                        .await?;
                    let start = SweepRequest::default().payload();
                    self.aws
                        .invoke_async(invoked_function_arn, &start)
                        .await
                        .map_err(|e| FunctionError::Sweep(format!("starting the sweep: {e}")))?;
                    Ok::<_, FunctionError>(destination)
                }
                .await;
                match started {
                    Ok(destination) => {
                        let data = json!({ "DestinationArn": destination.as_str() });
                        self.answer_stack(&stack, Status::Success, "sweep started", data)
                            .await
                    }
                    Err(e) => {
                        self.answer_stack(&stack, Status::Failed, &e.to_string(), json!({}))
                            .await
                    }
                }
            }
            RequestType::Delete if !stack.remove_on_delete() => {
                let reason = "filters left in place (RemoveFiltersOnDelete is false)";
                self.answer_stack(&stack, Status::Success, reason, json!({}))
                    .await
            }
            RequestType::Delete => {
                let removal = SweepRequest {
                    remove: true,
                    custom_resource: Some(stack.raw.clone()),
                    ..SweepRequest::default()
                };
                Box::pin(self.sweep(removal, identity, invoked_function_arn, deadline)).await
            }
        }
    }

    /// PUTs the answer to CloudFormation's response URL. Failing to reach it is an error, so Lambda
    /// retries the invocation (and the answer) rather than leave the stack waiting.
    async fn answer_stack(
        &self,
        stack: &CustomResourceRequest,
        status: Status,
        reason: &str,
        data: Value,
    ) -> Result<Answer, FunctionError> {
        let answer = stack.answer(status, reason, data);
        info!(request = ?stack.request_type, status = ?status, reason, "answering CloudFormation");
        custom_resource::send(&stack.response_url, &answer)
            .await
            .map_err(FunctionError::CustomResource)?;
        Ok(Answer::Stack(answer))
    }

    async fn handle_log_group(
        &self,
        event: &Value,
        identity: &FunctionIdentity,
    ) -> Result<Response, FunctionError> {
        let group = match read_create_log_group(event, identity) {
            Ok(created) => created.name,
            Err(reason) => {
                let group = event
                    .pointer("/detail/requestParameters/logGroupName")
                    .and_then(Value::as_str);
                info!(log_group = group, outcome = "skipped", reason = %reason, "event skipped");
                return Ok(Response {
                    log_group_name: group.map(str::to_owned),
                    outcome: OutcomeLabel::Skipped,
                    reason: Some(reason),
                    removed_filters: Vec::new(),
                });
            }
        };
        let outcome = match self.settings.selection.check(&group) {
            Err(reason) => Outcome::Skipped { reason },
            Ok(()) => {
                let destination = match self
                    .destination
                    .get(self.aws.as_ref(), &identity.region)
                    .await
                {
                    Ok(d) => d,
                    Err(e) => {
                        warn!(log_group = %group, outcome = "failed", error = %e, "destination unusable");
                        return Err(e.into());
                    }
                };
                let desired = DesiredFilter::new(&self.settings, destination);
                let subscriber = Subscriber {
                    desired: &desired,
                    mode: self.settings.existing_filters,
                    account: Some(&identity.account),
                    dry_run: false,
                };
                subscriber.subscribe(self.aws.as_ref(), &group).await
            }
        };
        let label = outcome.label();
        let removed = outcome.removed().to_vec();
        match outcome {
            Outcome::Failed { error, .. } => {
                warn!(log_group = %group, outcome = %label, error = %error, "could not subscribe");
                Err(FunctionError::Failed {
                    group: group.to_string(),
                    message: error,
                })
            }
            outcome => {
                let reason = outcome.reason().map(str::to_owned);
                info!(log_group = %group, outcome = %label, reason, removed_filters = ?removed, "log group handled");
                Ok(Response {
                    log_group_name: Some(group.to_string()),
                    outcome: label,
                    reason,
                    removed_filters: removed,
                })
            }
        }
    }
}

impl Function<SdkAws> {
    /// Handles one invocation, then prints its outcome as an EMF metrics line (see
    /// [`crate::metrics`]): counted by CloudWatch Logs, at no API cost.
    pub async fn invoke(
        &self,
        event: &Value,
        invoked_function_arn: &str,
        deadline_ms: u64,
    ) -> Result<Answer, FunctionError> {
        let throttled = || self.aws.stats().throttled.load(Ordering::Relaxed);
        let before = throttled();
        let result = self.handle(event, invoked_function_arn, deadline_ms).await;
        let mut counts = match &result {
            Ok(answer) => answer.counts(),
            Err(_) => {
                let mut counts = Counts::default();
                counts.outcomes.add(OutcomeLabel::Failed);
                counts
            }
        };
        counts.throttled_retries = throttled().saturating_sub(before);
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        println!("{}", counts.emf(&function_name, now.as_millis()));
        result
    }
}

/// One sweep invocation's counts, and one line per group that failed.
fn log_slice(slice: &Summary) {
    log_counts("sweep slice done", &slice.counts);
    for failure in &slice.failures {
        warn!(log_group = %failure.log_group_name, outcome = "failed", error = %failure.error, "sweep could not handle a group");
    }
}

/// One line with a sweep's counts: one invocation's, or the whole sweep's when it ends.
fn log_counts(message: &str, counts: &Tally) {
    info!(
        total = counts.total,
        subscribed = counts.subscribed,
        unchanged = counts.unchanged,
        unsubscribed = counts.unsubscribed,
        skipped = counts.skipped,
        failed = counts.failed,
        "{message}"
    );
}

/// The longest the next invocation of a sweep can take to start and finish: the wait behind events
/// queued for the one execution environment, listing, then finishing what was listed.
const NEXT_SLICE_AT_MOST: Duration =
    Duration::from_secs(120 + SWEEP_SLICE.as_secs() + SWEEP_RESERVE.as_secs());

/// Whether a removal must answer CloudFormation now, because one more invocation might end after
/// CloudFormation stops waiting (its `ServiceTimeout`, at most an hour, from the Delete request).
fn removal_out_of_time(stack: &CustomResourceRequest, started_at_ms: u64, now_ms: u64) -> bool {
    let elapsed = Duration::from_millis(now_ms.saturating_sub(started_at_ms));
    elapsed + NEXT_SLICE_AT_MOST >= stack.service_timeout()
}

/// What a removal cut short by CloudFormation's wait says: what it did, what is left, and the
/// command that finishes it.
fn removal_cut_short(
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

fn now_ms() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

/// When a sweep invocation stops listing: [`SWEEP_RESERVE`] before the runtime's deadline (epoch
/// milliseconds), and at most [`SWEEP_SLICE`] from now.
fn listing_deadline(deadline_ms: u64) -> Instant {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let remaining = Duration::from_millis(deadline_ms).saturating_sub(now);
    Instant::now() + remaining.saturating_sub(SWEEP_RESERVE).min(SWEEP_SLICE)
}

/// Tells the Runtime API that initialisation failed (`/runtime/init/error`), so the invocation fails
/// with this message instead of a bare "Runtime exited". Used when the settings are unusable.
pub async fn report_init_error(error: &(dyn std::error::Error + Send + Sync)) {
    use lambda_runtime_api_client::{PooledClient, body::Body, build_request};
    let body = serde_json::json!({ "errorType": "Runtime.ConfigurationError", "errorMessage": error.to_string() });
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header(
            "lambda-runtime-function-error-type",
            "Runtime.ConfigurationError",
        )
        .body(Body::from(body.to_string()));
    match request {
        Ok(request) => {
            if let Err(e) = PooledClient::builder().build().call(request).await {
                warn!(error = %e, "could not report the init error to the Runtime API");
            }
        }
        Err(e) => warn!(error = %e, "could not build the init error report"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::read_sweep;
    use crate::fake::FakeAws;

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
        let mut e: Value = serde_json::from_str(include_str!("../events/create-log-group.json"))
            .expect("fixture is JSON");
        e["detail"]["requestParameters"]["logGroupName"] = group.into();
        e
    }

    async fn outcome(f: &Function<FakeAws>, event: &Value) -> OutcomeLabel {
        let answer = f.handle(event, ARN, LATER).await.expect("handled");
        answer.group().expect("a log group's answer").outcome
    }

    fn scheduled() -> Value {
        serde_json::json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
    }

    #[tokio::test]
    async fn a_sweep_with_time_enough_covers_the_account_in_one_invocation() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        for name in ["/b", "/c", "/d", "/e"] {
            aws.add_group(name, vec![]);
        }
        let f = function(aws);
        let Answer::Sweep(SweepResponse { sweep }) =
            f.handle(&scheduled(), ARN, LATER).await.expect("swept")
        else {
            panic!("a sweep answer")
        };
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
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        for name in ["/b", "/c", "/d", "/e"] {
            aws.add_group(name, vec![]);
        }
        let f = function(aws);
        // The runtime's deadline is inside the reserve: list one page, finish it, hand on.
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let answer = f
            .handle(&scheduled(), ARN, now_ms + 1_000)
            .await
            .expect("swept");
        let Answer::Sweep(SweepResponse { sweep }) = &answer else {
            panic!("a sweep answer")
        };
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
        assert!(started.abs_diff(now_ms) < 60_000, "{started} vs {now_ms}");
        // The continuation picks up at the third group.
        let answer = f
            .handle(&continuation.payload(), ARN, LATER)
            .await
            .expect("continued");
        let Answer::Sweep(SweepResponse { sweep }) = &answer else {
            panic!("a sweep answer")
        };
        assert_eq!((sweep.counts.total, sweep.next_token.as_deref()), (3, None));
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
                read_sweep(&payload).expect("a sweep request")
            })
            .collect()
    }

    #[test]
    fn the_command_that_finishes_a_removal_quotes_the_filter_name_for_a_shell() {
        let stack = CustomResourceRequest::read(&serde_json::json!({
            "RequestType": "Delete", "ResponseURL": "https://example", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "Sweep",
        }))
        .expect("a request");
        let settings = RawSettings {
            filter_name: Some("it's ours".into()),
            ..RawSettings::default()
        }
        .parse()
        .expect("valid");
        let destination = crate::names::DestinationArn::parse(DEST).expect("valid");
        let desired = DesiredFilter::new(&settings, destination);
        let reason = removal_cut_short(&stack, &Tally::default(), &desired, "us-east-1");
        assert!(
            reason.ends_with(&format!(
                "backfill --remove --region us-east-1 --filter-name 'it'\\''s ours' --destination-arn {DEST}"
            )),
            "{reason}"
        );
    }

    #[test]
    fn a_removal_answers_before_cloudformation_stops_waiting() {
        let mut request = serde_json::json!({
            "RequestType": "Delete", "ResponseURL": "https://example", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "Sweep",
            "ResourceProperties": {"ServiceTimeout": "3600"},
        });
        let stack = CustomResourceRequest::read(&request).expect("a request");
        let start = 1_700_000_000_000;
        let minutes = |m: u64| start + m * 60_000;
        assert!(!removal_out_of_time(&stack, start, minutes(0)));
        assert!(!removal_out_of_time(&stack, start, minutes(50)));
        // One more slice (up to 5 minutes with its wait to start) would end past the hour.
        assert!(removal_out_of_time(&stack, start, minutes(56)));
        request["ResourceProperties"]["ServiceTimeout"] = "600".into();
        let stack = CustomResourceRequest::read(&request).expect("a request");
        assert!(removal_out_of_time(&stack, start, minutes(6)));
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
