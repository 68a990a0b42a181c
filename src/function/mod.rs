//! The Lambda function: one typed [`Invocation`] in, one [`Answer`] out. [`Function::handle`] is
//! the table of contents: a new log group, a filter or tag change is reconciled here; sweeps go to
//! [`crate::sweep::slices`] and the stack's requests to [`crate::stack`]. `main.rs` wires it to
//! the runtime: it reads the environment once at init ([`runtime`]), the clock once per
//! invocation (a [`Budget`]), and prints the metrics line ([`metrics`]); tests call the same
//! `handle` with a fake [`Aws`].

pub mod error;
pub(crate) mod invocation;
pub mod metrics;
pub(crate) mod repairs;
pub mod runtime;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use crate::aws::Aws;
use crate::cloudformation::CustomResourceResponse;
use crate::decision::{Decision, Goal, Rules, decide};
use crate::destination::{CACHE_TTL, DestinationCache};
use crate::group::LogGroup;
use crate::names::FunctionArn;
use crate::outcome::{Outcome, OutcomeLabel};
use crate::reconcile::Reconciler;
use crate::settings::Settings;
use crate::stack::{self, StackAnswer};
use crate::sweep::engine::{self, Job, Resume, Summary};
use crate::sweep::slices::{Budget, SweepResponse, Sweeper};
pub use error::FunctionError;
pub use invocation::{Deployment, FilterCall, Invocation};
use repairs::{MAX_REPAIRS, Repairs};
use runtime::Environment;

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

/// What the function answers: one log group's outcome, one slice of a sweep, what it told
/// CloudFormation, or why it refused a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Group(Response),
    Sweep(SweepResponse),
    /// What was sent to CloudFormation for a custom resource request.
    Stack(CustomResourceResponse),
    /// A request the function would not act on (a forged or foreign stack request): answered as
    /// a skip that names no group, and counted as no group's outcome.
    Refused(Response),
}

impl Answer {
    /// The log group's outcome, when this answers a log group's event.
    pub fn group(&self) -> Option<&Response> {
        match self {
            Answer::Group(response) => Some(response),
            Answer::Sweep(_) | Answer::Stack(_) | Answer::Refused(_) => None,
        }
    }

    fn refused(reason: String) -> Self {
        Answer::Refused(Response::skipped(None, reason))
    }
}

impl From<StackAnswer> for Answer {
    fn from(answer: StackAnswer) -> Self {
        match answer {
            StackAnswer::Answered(response) => Answer::Stack(response),
            StackAnswer::Swept(slice) => Answer::Sweep(slice),
            StackAnswer::Refused(reason) => Answer::refused(reason),
        }
    }
}

/// The handler with what it keeps between invocations: clients, settings, the cached destination,
/// what the environment said at init, the repairs it made lately, and whether its stack is going.
#[derive(Debug)]
pub struct Function<A> {
    aws: Arc<A>,
    settings: Settings,
    destination: DestinationCache,
    env: Environment,
    repairs: Repairs,
    stack: StackWatch,
}

/// How long the function trusts what CloudFormation last said of its stack (not being deleted):
/// within this of the stack's deletion beginning, no environment subscribes anything again.
const STACK_STATUS_TTL: Duration = Duration::from_secs(60);

/// The reason nothing is subscribed once the stack's deletion has begun.
const STACK_GOING: &str = "the stack is being deleted: nothing is subscribed again";

/// Whether the function's stack is going (being deleted, or rolled back after a failed create):
/// asked of CloudFormation at most once per [`STACK_STATUS_TTL`], and known for good once a
/// removal has confirmed it.
#[derive(Debug, Default)]
struct StackWatch {
    /// When CloudFormation was last asked, and whether the stack was going.
    seen: Mutex<Option<(Instant, bool)>>,
}

impl StackWatch {
    fn cached(&self, now: Instant) -> Option<bool> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.and_then(|(at, going)| {
            (going || now.saturating_duration_since(at) < STACK_STATUS_TTL).then_some(going)
        })
    }

    fn record(&self, now: Instant, going: bool) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, going));
    }
}

impl<A: Aws + 'static> Function<A> {
    pub fn new(aws: A, settings: Settings) -> Self {
        let destination = DestinationCache::new(settings.destination.clone(), CACHE_TTL);
        Self {
            aws: Arc::new(aws),
            settings,
            destination,
            env: Environment::default(),
            repairs: Repairs::default(),
            stack: StackWatch::default(),
        }
    }

    /// What the environment says of the deployment: the stack the function belongs to, its
    /// role's name, the SDK's endpoints.
    pub fn deployed(mut self, env: Environment) -> Self {
        self.destination = DestinationCache::new(self.settings.destination.clone(), CACHE_TTL)
            .not_the_function(&env.function_name);
        self.env = env;
        self
    }

    pub fn aws(&self) -> &A {
        &self.aws
    }

    /// The function's name, as its metrics name it.
    pub fn function_name(&self) -> &str {
        &self.env.function_name
    }

    /// Handles one invocation of the function `invoked_function_arn`, within `budget`. `Ok` for
    /// everything handled, skips included; `Err` only when the function cannot do what it should
    /// (broken configuration, AWS refusing, retries exhausted).
    pub async fn handle(
        &self,
        payload: &serde_json::Value,
        invoked_function_arn: &str,
        budget: &Budget,
    ) -> Result<Answer, FunctionError> {
        let function = FunctionArn::parse(invoked_function_arn)
            .map_err(|e| FunctionError::Identity(e.to_string()))?;
        let me = Deployment {
            function: &function,
            env: &self.env,
        };
        match Invocation::parse(payload, &me) {
            Invocation::Created(group) => {
                self.reconcile(&group, Goal::Subscribe, &function, budget)
                    .await
            }
            Invocation::TagsChanged(group) => {
                self.reconcile(&group, Goal::Retag, &function, budget).await
            }
            Invocation::FiltersChanged(group, call) => {
                self.repair(&group, call, &function, budget).await
            }
            Invocation::Sweep(request) => {
                if self.stack_is_going(budget.started).await {
                    info!(
                        kind = request.kind().as_str(),
                        "sweep stopped: {STACK_GOING}"
                    );
                    return Ok(Answer::Sweep(SweepResponse {
                        sweep: Summary::default(),
                        kind: request.kind(),
                        stopped: Some(STACK_GOING.into()),
                        lost_events: 0,
                        coverage: None,
                    }));
                }
                if !request.is_continuation() {
                    Box::pin(self.recheck_paused(&function, budget)).await;
                }
                let sweeper = self.sweeper(&function, budget);
                Ok(Answer::Sweep(Box::pin(sweeper.sweep(&request)).await?))
            }
            Invocation::Stack(request) => {
                let sweeper = self.sweeper(&function, budget);
                let answer = Box::pin(stack::handle(&sweeper, *request)).await?;
                Ok(self.removing(answer, budget))
            }
            Invocation::Removal(request, stack) => {
                let sweeper = self.sweeper(&function, budget);
                let answer = Box::pin(stack::removal(&sweeper, &request, &stack)).await?;
                Ok(self.removing(answer, budget))
            }
            Invocation::Refused(reason) => {
                warn!(outcome = "skipped", reason = %reason, "request refused");
                Ok(Answer::refused(reason))
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

    /// [`Self::handle`] for a payload as the runtime hands it over, JSON text: what cannot be read
    /// into a value (nesting deeper than the parser allows, a lone surrogate) is answered
    /// `skipped` with the reason, never an error Lambda would retry into the failure queue.
    pub async fn handle_json(
        &self,
        payload: &str,
        invoked_function_arn: &str,
        budget: &Budget,
    ) -> Result<Answer, FunctionError> {
        match serde_json::from_str::<serde_json::Value>(payload) {
            Ok(value) => self.handle(&value, invoked_function_arn, budget).await,
            Err(e) => {
                let reason = format!("not JSON the function can read ({e})");
                info!(outcome = "skipped", reason = %reason, "event skipped");
                Ok(Answer::Group(Response::skipped(None, reason)))
            }
        }
    }

    /// What a stack request came to; a removal slice that ran means CloudFormation confirmed the
    /// stack is going, which this environment then knows for good.
    fn removing(&self, answer: StackAnswer, budget: &Budget) -> Answer {
        if let StackAnswer::Swept(_) = answer {
            self.stack.record(budget.started, true);
        }
        answer.into()
    }

    /// Whether the function's stack is being deleted (see [`StackWatch`]). Without `STACK_ID`
    /// (no stack to ask about) it never is; when CloudFormation cannot be asked, the function
    /// goes on subscribing, and says so.
    async fn stack_is_going(&self, now: Instant) -> bool {
        let Some(stack_id) = self.env.stack_id.as_deref() else {
            return false;
        };
        if let Some(going) = self.stack.cached(now) {
            return going;
        }
        let going = match self.aws.stack_status(stack_id).await {
            Ok(status) => stack::is_going(&status),
            Err(e) => {
                warn!(error = %e, "could not ask CloudFormation whether the stack is being deleted");
                false
            }
        };
        self.stack.record(now, going);
        going
    }

    /// The sweep's side of this invocation, for the requests that sweep.
    fn sweeper<'a>(&'a self, function: &'a FunctionArn, budget: &Budget) -> Sweeper<'a, A> {
        Sweeper {
            aws: &self.aws,
            settings: &self.settings,
            destination: &self.destination,
            function,
            budget: *budget,
            role: self.env.role_name.as_deref(),
        }
    }

    /// A group whose filters someone else changed (`call`): reconciled again. A deletion is undone
    /// every time; a put answered too often lately (two writers undoing each other, see
    /// [`repairs`]) pauses the group, at no call, until a sweep after the pause checks it again.
    async fn repair(
        &self,
        group: &LogGroup,
        call: FilterCall,
        function: &FunctionArn,
        budget: &Budget,
    ) -> Result<Answer, FunctionError> {
        let name = &group.name;
        let fight = call == FilterCall::Put;
        if fight && self.repairs.exhausted(name, budget.started) {
            self.repairs.pause(name);
            let reason = format!(
                "repaired {MAX_REPAIRS} times within the hour after another writer's puts: it keeps \
                 putting its own subscription filter, so its puts are left alone until the hour has \
                 passed, and the first sweep after that checks the group again"
            );
            warn!(log_group = %name, outcome = "skipped", reason = %reason, "repairs stopped");
            let mut response = Response::skipped(Some(name.to_string()), reason);
            response.repairs_stopped = true;
            return Ok(Answer::Group(response));
        }
        let answer = self
            .reconcile(group, Goal::Subscribe, function, budget)
            .await?;
        let wrote = answer.group().is_some_and(|r| {
            r.outcome == OutcomeLabel::Subscribed || !r.removed_filters.is_empty()
        });
        if fight && wrote {
            self.repairs.record(name, budget.started);
        }
        Ok(answer)
    }

    /// Groups whose pause ended since the last sweep, checked again at the start of a new sweep
    /// (whatever its window: a paused group may be old). Read again from AWS by name, converged
    /// as a full sweep would, within the slice's listing time; what is left waits for the next.
    async fn recheck_paused(&self, function: &FunctionArn, budget: &Budget) {
        let due = self.repairs.due(budget.started);
        if due.is_empty() {
            return;
        }
        let destination = match self
            .destination
            .get(self.aws.as_ref(), function.region())
            .await
        {
            Ok(destination) => destination,
            Err(e) => {
                warn!(error = %e, "paused groups not checked again: the destination is unusable");
                due.iter().for_each(|group| self.repairs.pause(group));
                return;
            }
        };
        let job = Job {
            rules: Rules::new(&self.settings, Goal::Converge),
            destination,
            workers: 4,
            deadline: Some(budget.listing_deadline()),
            resume: Resume::only(due.iter().map(ToString::to_string).collect()),
        };
        match engine::run(self.aws.clone(), job, |_| {}).await {
            Ok(summary) => {
                let counts = summary.counts;
                info!(
                    checked = counts.total,
                    subscribed = counts.subscribed,
                    failed = counts.failed,
                    "paused groups checked again"
                );
                for name in summary.leftovers {
                    if let Ok(group) = crate::names::LogGroupName::parse(&name) {
                        self.repairs.pause(&group);
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "paused groups not checked again");
                due.iter().for_each(|group| self.repairs.pause(group));
            }
        }
    }

    /// One group, reconciled towards `goal`: a new log group, or one whose filters changed, is
    /// subscribed when the selection takes it (`Subscribe`); one whose tags changed also loses our
    /// filter when it left the selection (`Retag`).
    async fn reconcile(
        &self,
        group: &LogGroup,
        goal: Goal,
        function: &FunctionArn,
        budget: &Budget,
    ) -> Result<Answer, FunctionError> {
        let rules = Rules::new(&self.settings, goal);
        // Once the stack is going, nothing is written again; a group the rules leave alone costs
        // no call to find that out.
        let leaves_alone = matches!(
            decide(group, &rules),
            Decision::Skip { .. } | Decision::NotChecked
        );
        if !leaves_alone && self.stack_is_going(budget.started).await {
            info!(log_group = %group.name, outcome = "skipped", reason = STACK_GOING, "event skipped");
            return Ok(Answer::Group(Response::skipped(
                Some(group.name.to_string()),
                STACK_GOING.into(),
            )));
        }
        let reconciler = Reconciler {
            rules: &rules,
            destination: &self.destination,
            region: function.region(),
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
    use crate::aws::fake::{Call, FakeAws};
    use crate::fixtures::DEST;
    use crate::settings::RawSettings;
    use serde_json::{Value, json};
    use std::time::Instant;

    const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe";
    const PARAMETER: &str = "/central-logging/destination-arn";

    /// An invocation with all the time it needs.
    fn later() -> Budget {
        Budget::new(u64::MAX, Instant::now(), 1_700_000_000_000)
    }

    fn function(aws: FakeAws) -> Function<FakeAws> {
        Function::new(
            aws,
            RawSettings::default().parse().expect("defaults are valid"),
        )
        .deployed(Environment {
            // The role the fixtures' own calls were made with.
            role_name: Some("auto-subscribe-role".into()),
            ..Environment::default()
        })
    }

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn event(group: &str) -> Value {
        let mut e = fixture(include_str!("../../events/create-log-group.json"));
        e["detail"]["requestParameters"]["logGroupName"] = group.into();
        e
    }

    async fn outcome(f: &Function<FakeAws>, event: &Value) -> OutcomeLabel {
        let answer = f.handle(event, ARN, &later()).await.expect("handled");
        answer.group().expect("a log group's answer").outcome
    }

    #[tokio::test]
    async fn skips_cost_no_aws_call() {
        let by_itself = fixture(include_str!(
            "../../events/put-subscription-filter-by-the-function.json"
        ));
        let mut other_account = event("/a");
        other_account["account"] = "222222222222".into();
        let cases = [
            ("null", Value::Null),
            ("not an object", json!([1])),
            ("another account", other_account),
            (
                "a failed call",
                fixture(include_str!("../../events/create-log-group-failed.json")),
            ),
            (
                "another call",
                fixture(include_str!("../../events/put-retention-policy.json")),
            ),
            (
                "a class without filters",
                fixture(include_str!(
                    "../../events/create-log-group-infrequent-access.json"
                )),
            ),
            ("the function's own call", by_itself),
            // Without tag rules, a tag change does not matter.
            (
                "a tag change",
                fixture(include_str!("../../events/tag-resource.json")),
            ),
            (
                "a failed filter change",
                fixture(include_str!(
                    "../../events/delete-subscription-filter-failed.json"
                )),
            ),
        ];
        for (case, payload) in cases {
            let aws = FakeAws::with_group("/aws/lambda/orders-api", vec![], 2)
                .with_parameter(PARAMETER, DEST);
            let f = function(aws);
            assert_eq!(outcome(&f, &payload).await, OutcomeLabel::Skipped, "{case}");
            assert!(f.aws().calls().is_empty(), "{case}: {:?}", f.aws().calls());
        }
    }

    #[tokio::test]
    async fn a_refused_request_names_no_group_and_sends_nothing() {
        // A custom resource request from a stack the function has no STACK_ID to check against.
        let f = function(FakeAws::default());
        let request = fixture(include_str!(
            "../../events/stack/custom-resource-delete.json"
        ));
        let answer = f.handle(&request, ARN, &later()).await.expect("answered");
        let Answer::Refused(response) = &answer else {
            panic!("refused: {answer:?}")
        };
        assert!(response.log_group_name.is_none());
        assert!(
            response
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("no STACK_ID")),
            "{response:?}"
        );
        assert!(f.aws().calls().is_empty(), "{:?}", f.aws().calls());
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
                .handle(&event("/a"), ARN, &later())
                .await
                .expect_err("unusable")
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert_eq!(
                f.aws().calls(),
                [format!("get {PARAMETER}").as_str()],
                "no describe, no write"
            );
        }
    }

    #[tokio::test]
    async fn the_parameter_is_read_once_across_invocations() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        let f = function(aws);
        assert_eq!(outcome(&f, &event("/a")).await, OutcomeLabel::Subscribed);
        assert_eq!(outcome(&f, &event("/a")).await, OutcomeLabel::Unchanged);
        assert_eq!(f.aws().count(&format!("get {PARAMETER}")), 1);
    }

    #[tokio::test]
    async fn json_it_cannot_hold_is_skipped_not_retried() {
        let f = function(FakeAws::default());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let cases = [
            (deep.as_str(), "recursion limit"),
            (
                r#"{"detail": {"requestParameters": {"logGroupName": "\ud800x"}}}"#,
                "escape",
            ),
        ];
        for (payload, why) in cases {
            let answer = f
                .handle_json(payload, ARN, &later())
                .await
                .expect("answered");
            let response = answer.group().expect("a skip");
            assert_eq!(response.outcome, OutcomeLabel::Skipped, "{payload}");
            let reason = response.reason.as_deref().unwrap_or_default();
            assert!(reason.contains(why), "{reason}");
        }
        let readable = f
            .handle_json("null", ARN, &later())
            .await
            .expect("answered");
        assert_eq!(
            readable.group().map(|r| r.outcome),
            Some(OutcomeLabel::Skipped)
        );
        assert!(f.aws().calls().is_empty());
    }

    /// The function of stack `STACK`, which CloudFormation reports in `status`.
    fn of_a_stack(status: &str) -> Function<FakeAws> {
        const STACK: &str = "arn:aws:cloudformation:us-east-1:111111111111:stack/auto-subscribe/1";
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        aws.add_group("/b", vec![]);
        aws.set_stack_status(STACK, status);
        Function::new(
            aws,
            RawSettings::default().parse().expect("defaults are valid"),
        )
        .deployed(Environment {
            stack_id: Some(STACK.into()),
            ..Environment::default()
        })
    }

    #[tokio::test]
    async fn once_the_stack_is_going_nothing_is_subscribed_again() {
        for status in ["DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"] {
            let f = of_a_stack(status);
            for group in ["/a", "/b"] {
                let answer = f
                    .handle(&event(group), ARN, &later())
                    .await
                    .expect("answered");
                let response = answer.group().expect("a group's answer");
                assert_eq!(response.outcome, OutcomeLabel::Skipped, "{status}");
                assert_eq!(response.reason.as_deref(), Some(STACK_GOING));
            }
            let order = fixture(include_str!("../../events/stack/sweep-order.json"));
            let Answer::Sweep(sweep) = f.handle(&order, ARN, &later()).await.expect("answered")
            else {
                panic!("a sweep's answer")
            };
            assert_eq!(sweep.stopped.as_deref(), Some(STACK_GOING));
            assert_eq!(
                f.aws().calls(),
                ["describe-stacks"],
                "asked once, nothing else"
            );
            assert!(f.aws().filter_names("/a").is_empty());
        }
    }

    #[tokio::test]
    async fn while_the_stack_stays_its_status_is_asked_at_most_once_a_minute() {
        let f = of_a_stack("UPDATE_COMPLETE");
        let started = Instant::now();
        for (group, at) in [("/a", 0), ("/b", 30)] {
            let budget = Budget::new(
                u64::MAX,
                started + Duration::from_secs(at),
                1_700_000_000_000,
            );
            let answer = f
                .handle(&event(group), ARN, &budget)
                .await
                .expect("answered");
            assert_eq!(
                answer.group().map(|r| r.outcome),
                Some(OutcomeLabel::Subscribed)
            );
        }
        assert_eq!(f.aws().count("describe-stacks"), 1);
        // A minute later it is asked again, and a skip never asks.
        let budget = Budget::new(
            u64::MAX,
            started + Duration::from_secs(61),
            1_700_000_000_000,
        );
        f.handle(&event("/a"), ARN, &budget)
            .await
            .expect("answered");
        assert_eq!(f.aws().count("describe-stacks"), 2);
        f.handle(&Value::Null, ARN, &budget)
            .await
            .expect("answered");
        assert_eq!(f.aws().count("describe-stacks"), 2);
    }

    /// A filter-change event by someone else, of `call`, for `group`.
    fn filter_change(call: &str, group: &str) -> Value {
        let mut e = fixture(include_str!("../../events/delete-subscription-filter.json"));
        e["detail"]["eventName"] = call.into();
        e["detail"]["requestParameters"]["logGroupName"] = group.into();
        e
    }

    #[tokio::test]
    async fn hand_deletions_are_undone_every_time_and_only_a_fight_pauses_a_group() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        let f = function(aws);
        let started = Instant::now();
        let at = |s: u64| {
            Budget::new(
                u64::MAX,
                started + Duration::from_secs(s),
                1_700_000_000_000,
            )
        };
        for round in 0..6 {
            f.aws().add_group("/a", vec![]); // ours deleted by hand
            let answer = f
                .handle(
                    &filter_change("DeleteSubscriptionFilter", "/a"),
                    ARN,
                    &at(round),
                )
                .await
                .expect("answered");
            assert_eq!(
                answer.group().map(|r| r.outcome),
                Some(OutcomeLabel::Subscribed)
            );
        }
        // Another writer's puts: answered three times, then the group is paused, at no call.
        let mut vendor = crate::fixtures::desired().to_filter();
        vendor.destination_arn = "arn:aws:logs:us-east-1:888888888888:destination:theirs".into();
        let mut outcomes = Vec::new();
        for round in 0..4 {
            f.aws().add_group("/a", vec![vendor.clone()]);
            let before = f.aws().calls().len();
            let answer = f
                .handle(
                    &filter_change("PutSubscriptionFilter", "/a"),
                    ARN,
                    &at(10 + round),
                )
                .await
                .expect("answered");
            let response = answer.group().expect("a group's answer").clone();
            outcomes.push((
                response.outcome,
                response.repairs_stopped,
                f.aws().calls().len() - before,
            ));
        }
        assert_eq!(
            outcomes,
            [
                (OutcomeLabel::Subscribed, false, 2),
                (OutcomeLabel::Subscribed, false, 2),
                (OutcomeLabel::Subscribed, false, 2),
                (OutcomeLabel::Skipped, true, 0),
            ]
        );
        // Still in the pause, a sweep leaves it; the first sweep after it checks the group again.
        let order = fixture(include_str!("../../events/stack/sweep-order.json"));
        let describes = |f: &Function<FakeAws>| {
            f.aws()
                .calls()
                .iter()
                .filter(|c| matches!(c, Call::DescribeLogGroups { prefix: Some(p) } if p == "/a"))
                .count()
        };
        f.handle(&order, ARN, &at(100)).await.expect("swept");
        assert_eq!(describes(&f), 0, "not while paused");
        f.aws().add_group("/a", vec![vendor.clone()]);
        let after = at(10 + 3600 + 60);
        f.handle(&order, ARN, &after).await.expect("swept");
        assert_eq!(describes(&f), 1, "read again by name when the pause ended");
        assert_eq!(f.aws().filter_names("/a"), ["central-logging"]);
    }

    #[tokio::test]
    async fn a_bad_invoked_arn_is_an_error() {
        let f = function(FakeAws::default());
        assert!(matches!(
            f.handle(&event("/a"), "nonsense", &later()).await,
            Err(FunctionError::Identity(_))
        ));
    }
}
