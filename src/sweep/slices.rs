//! The function's sweep: one slice of the [`super::engine`] per invocation, within the
//! invocation's time, then handed on to the next invocation (the function invokes itself
//! asynchronously with a [`SweepRequest`]) until the whole account is covered.
//!
//! A plain sweep (the schedule, or one the stack started) ends here; a stack's removal is driven
//! by [`crate::stack`], which calls [`Sweeper::slice`] and [`Sweeper::hand_on`] and answers
//! CloudFormation itself.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;
use tracing::{error, info, warn};

use super::changed::{self, Changes, Looked, Window};
use super::engine::{self, Job, Progress, Resume, Summary};
use super::request::{MAX_CARRIED, SweepKind, SweepRequest};
use crate::aws::{ApiError, Aws};
use crate::decision::{Goal, Rules};
use crate::destination::{DestinationCache, DestinationError};
use crate::filter::DesiredFilter;
use crate::names::{DestinationArn, FunctionArn};
use crate::outcome::{Coverage, OutcomeLabel, Tally};
use crate::settings::Settings;
use crate::trail::OwnSession;

/// A sweep invocation stops listing new groups this long before the runtime's deadline, to
/// finish the groups already listed (at most a page and the queue: well under a minute at 5/s).
pub const SWEEP_RESERVE: Duration = Duration::from_secs(60);
/// And lists for at most this long, so CreateLogGroup events queued behind a sweep (the stack runs
/// one execution environment) wait minutes, not the whole sweep.
pub const SWEEP_SLICE: Duration = Duration::from_secs(120);

/// Groups in flight at once in a sweep slice: enough to keep every token bucket busy.
const WORKERS: usize = 8;

/// Why a sweep invocation could not do its part.
#[derive(Debug, Error)]
pub enum SweepError {
    #[error(transparent)]
    Destination(#[from] DestinationError),
    #[error("listing the log groups: {0}")]
    Listing(ApiError),
    #[error("handing on to the next invocation: {0}")]
    HandOn(ApiError),
    #[error("starting the sweep: {0}")]
    Start(ApiError),
    #[error("reading CloudTrail's event history: {0}")]
    Lookup(ApiError),
}

/// One invocation's share of a sweep; `sweep.nextToken` is set when the next invocation continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepResponse {
    pub sweep: Summary,
    /// Which kind of sweep: `full`, `recent` or `removal`.
    pub kind: SweepKind,
    /// Why the chain was stopped instead of handed on (see [`SweepRequest::past_hop_limit`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// For a catch-up, the changes it had to act on long after they were made: events the
    /// pipeline lost (see [`changed::lost`]).
    #[serde(rename = "lostEvents", skip_serializing_if = "is_zero")]
    pub lost_events: u64,
    /// When a full sweep ends: the coverage it found over the whole account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What one slice did, and what comes next.
#[derive(Debug)]
pub struct Slice {
    pub summary: Summary,
    /// The filter the sweep worked with (a removal names it in its answer).
    pub desired: DesiredFilter,
    /// The whole sweep's counts so far, this slice's included.
    pub whole: Tally,
    /// When the sweep's first slice began, epoch milliseconds.
    pub started_at_ms: u64,
    /// The request for the next invocation, when the account is not covered yet.
    pub next: Option<SweepRequest>,
    pub kind: SweepKind,
    /// A catch-up's lost events (see [`SweepResponse::lost_events`]).
    pub lost_events: u64,
}

impl Slice {
    pub fn response(self) -> SweepResponse {
        SweepResponse {
            sweep: self.summary,
            kind: self.kind,
            stopped: None,
            lost_events: self.lost_events,
            coverage: None,
        }
    }
}

/// An invocation's time, as the runtime gives it: when it began (the clock is read once, by the
/// binary) and when the runtime ends it.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// When the invocation began.
    pub started: Instant,
    /// The same moment in epoch milliseconds: what a sweep carries to its next invocation.
    pub started_ms: u64,
    /// When the runtime ends the invocation.
    pub deadline: Instant,
}

impl Budget {
    /// From the runtime's deadline (epoch milliseconds) and the moment the invocation began.
    pub fn new(deadline_ms: u64, started: Instant, started_ms: u64) -> Self {
        let left = Duration::from_millis(deadline_ms.saturating_sub(started_ms));
        // A deadline beyond what an `Instant` can hold (tests give `u64::MAX`) is a year away.
        let deadline = started
            .checked_add(left)
            .unwrap_or_else(|| started + Duration::from_secs(365 * 24 * 3600));
        Self {
            started,
            started_ms,
            deadline,
        }
    }

    /// Now, in epoch milliseconds: the start, plus the time since on the monotonic clock.
    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.started_ms.saturating_add(elapsed)
    }

    /// How long until `margin` before the deadline (zero once that has passed).
    pub fn left_before(&self, margin: Duration) -> Duration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(margin)
    }

    /// `margin` before the deadline, or the start when the invocation has less than that.
    fn before_deadline(&self, margin: Duration) -> Instant {
        let whole = self.deadline.saturating_duration_since(self.started);
        self.started + whole.saturating_sub(margin)
    }

    /// When a sweep invocation stops listing: [`SWEEP_RESERVE`] before the deadline, and at most
    /// [`SWEEP_SLICE`] after the start.
    pub fn listing_deadline(&self) -> Instant {
        self.before_deadline(SWEEP_RESERVE)
            .min(self.started + SWEEP_SLICE)
    }
}

/// The function's side of a sweep, for one invocation.
#[derive(Debug)]
pub struct Sweeper<'a, A> {
    pub aws: &'a Arc<A>,
    pub settings: &'a Settings,
    /// The function's cached destination; a new sweep reads it afresh.
    pub destination: &'a DestinationCache,
    /// The function's own ARN: where a sweep hands on to.
    pub function: &'a FunctionArn,
    /// The invocation's time: a slice lists until [`Budget::listing_deadline`].
    pub budget: Budget,
    /// The function's role name (`FUNCTION_ROLE_NAME`): a catch-up leaves the function's own
    /// calls out.
    pub role: Option<&'a str>,
}

impl<A: Aws + 'static> Sweeper<'_, A> {
    /// Runs one slice of `request`: with [`Goal::Converge`], selected groups subscribed and our
    /// filter taken off groups no longer selected; with [`Goal::Teardown`] (only the stack's
    /// confirmed deletion asks for it), our filter taken off every group.
    pub async fn slice(&self, request: &SweepRequest, goal: Goal) -> Result<Slice, SweepError> {
        let started_at_ms = request.started_at_ms.unwrap_or(self.budget.started_ms);
        if !request.is_continuation() {
            // A sweep starts from what the stack says now, not from five minutes ago.
            self.destination.forget();
        }
        let destination = self.destination().await?;
        // A catch-up's first invocation looks up what changed; the next ones carry what it had
        // no time for.
        let (request, changes) = match (goal, request.changed_within_seconds) {
            (Goal::Converge, Some(seconds)) if !request.is_continuation() => {
                self.look_up(seconds, started_at_ms).await?
            }
            _ => (request.clone(), None),
        };

        let kind = match goal {
            Goal::Teardown => SweepKind::Removal,
            _ => request.kind(),
        };
        let resume = match &changes {
            Some(changes) => Resume::only(changes.groups()),
            None => Resume {
                start_token: request.next_token.clone(),
                carried: request.retry.clone(),
                listing_done: request.listing_done(),
            },
        };
        // What the catch-up knows of its groups' changes, to tell lost events: read now, or
        // carried from its first invocation.
        let known = changes.or_else(|| {
            (request.kind() == SweepKind::Changed).then(|| Changes::from_carried(&request.changes))
        });
        let job = Job {
            rules: Rules::new(self.settings, goal).within(request.created_after_ms(started_at_ms)),
            destination: destination.clone(),
            workers: WORKERS,
            deadline: Some(self.budget.listing_deadline()),
            resume,
        };
        // The groups written to, noted only where a catch-up can tell lost events from them.
        let written = Arc::new(Mutex::new(Vec::new()));
        let noted = written.clone();
        let noting = known.is_some();
        let summary = engine::run(self.aws.clone(), job, move |progress| {
            if noting
                && let Progress::Done {
                    group,
                    label: OutcomeLabel::Subscribed | OutcomeLabel::Unsubscribed,
                } = progress
            {
                noted
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(group.to_owned());
            }
        })
        .await
        .map_err(SweepError::Listing)?;
        log_slice(kind, &summary);
        let lost_events = known.as_ref().map_or(0, |changes| {
            let written = written.lock().unwrap_or_else(|e| e.into_inner());
            let lost = changed::lost(changes, &written, self.budget.now_ms());
            for change in &lost {
                warn!(
                    log_group = %change.group,
                    call = %change.call,
                    minutes_ago = self.budget.now_ms().saturating_sub(change.at_ms) / 60_000,
                    "event lost: the catch-up had to act on a change whose event never reached the function"
                );
            }
            lost.len() as u64
        });
        let more = summary.next_token.is_some() || !summary.leftovers.is_empty();
        let next = more.then(|| {
            let next = request.continued(
                started_at_ms,
                &summary.counts,
                summary.next_token.as_deref(),
                summary.leftovers.clone(),
            );
            match &known {
                Some(changes) => next.carrying(|group| changes.carried(group)),
                None => next,
            }
        });
        Ok(Slice {
            desired: self.settings.filter.to(destination),
            whole: request.so_far.plus(&summary.counts),
            started_at_ms,
            next,
            summary,
            kind,
            lost_events,
        })
    }

    /// A catch-up's changes over the last `seconds` before `started_at_ms`, or the sweep that
    /// stands in for it: a recent-groups sweep over the same window when LookupEvents is denied,
    /// a full sweep when more groups changed than a catch-up carries.
    async fn look_up(
        &self,
        seconds: u64,
        started_at_ms: u64,
    ) -> Result<(SweepRequest, Option<Changes>), SweepError> {
        let own = OwnSession {
            function: self.function,
            role: self.role,
        };
        let window = Window::before(started_at_ms, seconds);
        match changed::look_up(self.aws.as_ref(), window, Some(&own), MAX_CARRIED).await {
            Ok(Looked::Changes(changes)) => {
                info!(
                    lookups = changes.lookups,
                    events = changes.events,
                    left_out = changes.left_out,
                    groups = changes.len(),
                    window_seconds = seconds,
                    "changes looked up"
                );
                Ok((SweepRequest::changed_within(seconds), Some(changes)))
            }
            Ok(Looked::TooMany { at_least }) => {
                warn!(
                    groups = at_least,
                    most = MAX_CARRIED,
                    "more groups changed than a catch-up carries: a full sweep converges them instead"
                );
                Ok((SweepRequest::new(None), None))
            }
            Err(ApiError::AccessDenied(message)) => {
                warn!(
                    error = %message,
                    window_seconds = seconds,
                    "CloudTrail LookupEvents is denied (cloudtrail:LookupEvents): a recent-groups \
                     sweep over the same window instead, which sees creations only"
                );
                Ok((SweepRequest::new(Some(seconds)), None))
            }
            Err(e) => Err(SweepError::Lookup(e)),
        }
    }

    /// The destination, checked to be in the function's Region.
    pub async fn destination(&self) -> Result<DestinationArn, DestinationError> {
        self.destination
            .get(self.aws.as_ref(), self.function.region())
            .await
    }

    /// Hands the sweep on to the next invocation.
    pub async fn hand_on(&self, next: &SweepRequest) -> Result<(), SweepError> {
        self.aws
            .invoke_async(self.function.as_str(), &next.payload())
            .await
            .map_err(SweepError::HandOn)
    }

    /// Starts a new sweep in an invocation of its own (the stack's Create and Update).
    pub async fn start(&self) -> Result<(), SweepError> {
        self.aws
            .invoke_async(self.function.as_str(), &SweepRequest::default().payload())
            .await
            .map_err(SweepError::Start)
    }

    /// A sweep with no stack waiting on it: one slice, then hand on, or report the whole sweep.
    pub async fn sweep(&self, request: &SweepRequest) -> Result<SweepResponse, SweepError> {
        if let Some(reason) = stop_reason(request) {
            return Ok(SweepResponse {
                sweep: Summary::default(),
                kind: request.kind(),
                stopped: Some(reason),
                lost_events: 0,
                coverage: None,
            });
        }
        let slice = self.slice(request, Goal::Converge).await?;
        match &slice.next {
            Some(next) => self.hand_on(next).await?,
            None => log_sweep_done(slice.kind, &slice.whole),
        }
        let coverage =
            (slice.next.is_none() && slice.kind == SweepKind::Full).then(|| slice.whole.coverage());
        Ok(SweepResponse {
            coverage,
            ..slice.response()
        })
    }
}

/// Why a chain of sweep invocations must stop here, with its error line, when it has been
/// handed on more often than a sweep of its size can be: a bug, or a forged continuation.
pub fn stop_reason(request: &SweepRequest) -> Option<String> {
    if !request.past_hop_limit() {
        return None;
    }
    let reason = format!(
        "sweep stopped: handed on {} times after listing {} log groups, past the bound of {}; \
         a sweep lists hundreds of groups per invocation, so this chain is looping",
        request.hops,
        request.so_far.total,
        request.hop_limit()
    );
    error!(
        hops = request.hops,
        listed = request.so_far.total,
        "{reason}"
    );
    Some(reason)
}

/// One sweep invocation's counts, and one line per group that failed.
fn log_slice(kind: SweepKind, slice: &Summary) {
    log_counts("sweep slice done", kind, &slice.counts);
    for failure in &slice.failures {
        warn!(log_group = %failure.log_group_name, outcome = "failed", error = %failure.error, "sweep could not handle a group");
    }
}

/// The line that ends a sweep, with the whole sweep's counts.
pub fn log_sweep_done(kind: SweepKind, whole: &Tally) {
    log_counts("sweep done", kind, whole);
}

fn log_counts(message: &str, kind: SweepKind, counts: &Tally) {
    info!(
        kind = kind.as_str(),
        total = counts.total,
        subscribed = counts.subscribed,
        unchanged = counts.unchanged,
        unsubscribed = counts.unsubscribed,
        skipped = counts.skipped,
        failed = counts.failed,
        not_checked = counts.not_checked,
        covered = counts.covered,
        "{message}"
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aws::fake::FakeAws;
    use crate::fixtures::DEST;
    use crate::settings::RawSettings;
    use crate::sweep::request::CarriedChange;
    use serde_json::Value;

    const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe";
    pub(crate) const PARAMETER: &str = "/central-logging/destination-arn";
    /// When the tests' invocations begin, epoch milliseconds.
    pub(crate) const STARTED_MS: u64 = 1_700_000_000_000;

    /// What a slice needs that outlives it: the clients, the settings, the cache, the ARN. The
    /// stack's lifecycle tests use it too.
    pub(crate) struct Deployed {
        pub(crate) aws: Arc<FakeAws>,
        settings: Settings,
        destination: DestinationCache,
        function: FunctionArn,
    }

    impl Deployed {
        pub(crate) fn new(aws: FakeAws) -> Self {
            let settings = RawSettings::default().parse().expect("defaults are valid");
            Self {
                aws: Arc::new(aws),
                destination: DestinationCache::new(settings.destination.clone(), Duration::ZERO),
                settings,
                function: FunctionArn::parse(ARN).expect("valid"),
            }
        }

        /// The sweeper of an invocation with `left` before the runtime's deadline.
        pub(crate) fn sweeper(&self, left: Duration) -> Sweeper<'_, FakeAws> {
            let deadline_ms = STARTED_MS + u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
            Sweeper {
                aws: &self.aws,
                settings: &self.settings,
                destination: &self.destination,
                function: &self.function,
                budget: Budget::new(deadline_ms, Instant::now(), STARTED_MS),
                role: None,
            }
        }

        /// What a sweep slice of `request` answers, with `left` before the runtime's deadline.
        async fn swept(&self, left: Duration, request: &SweepRequest) -> SweepResponse {
            self.sweeper(left).sweep(request).await.expect("swept")
        }

        /// The sweep requests the function handed on to its next invocation, in order.
        pub(crate) fn continuations(&self) -> Vec<SweepRequest> {
            self.aws
                .invocations()
                .iter()
                .map(|payload| {
                    SweepRequest::from_payload(payload)
                        .expect("a sweep payload")
                        .expect("a sweep request")
                })
                .collect()
        }
    }

    /// Time enough to list everything.
    pub(crate) const LATER: Duration = Duration::from_secs(900);
    /// A deadline inside the reserve: one page is listed and finished, then the slice hands on.
    pub(crate) const OUT_OF_TIME: Duration = Duration::from_secs(1);

    /// Five groups without filters (`/a` to `/e`), listed two per page, and the destination.
    fn five_groups() -> Deployed {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        for name in ["/b", "/c", "/d", "/e"] {
            aws.add_group(name, vec![]);
        }
        Deployed::new(aws)
    }

    /// What `{"sweep": {}}` (the stack's schedules' and custom resource's order) asks for.
    fn order() -> SweepRequest {
        let text = include_str!("../../events/stack/sweep-order.json");
        let payload: Value = serde_json::from_str(text).expect("fixture is JSON");
        SweepRequest::from_payload(&payload)
            .expect("a sweep payload")
            .expect("a sweep order")
    }

    #[test]
    fn a_budget_lists_until_the_reserve_and_at_most_a_slice() {
        let started = Instant::now();
        let budget = |left_s: u64| Budget::new(STARTED_MS + left_s * 1000, started, STARTED_MS);
        assert_eq!(budget(900).listing_deadline(), started + SWEEP_SLICE);
        assert_eq!(
            budget(150).listing_deadline(),
            started + Duration::from_secs(90)
        );
        assert_eq!(
            budget(30).listing_deadline(),
            started,
            "less than the reserve"
        );
        assert_eq!(
            budget(30).left_before(Duration::from_secs(60)),
            Duration::ZERO
        );
        // A runtime deadline no instant can hold is a year away, not a panic.
        let far = Budget::new(u64::MAX, started, STARTED_MS);
        assert!(far.deadline > started + Duration::from_secs(300 * 24 * 3600));
        assert!(far.now_ms() >= STARTED_MS);
    }

    #[tokio::test]
    async fn a_sweep_with_time_enough_covers_the_account_in_one_invocation() {
        let deployed = five_groups();
        let answer = deployed.swept(LATER, &order()).await;
        let sweep = &answer.sweep;
        assert_eq!(
            (
                sweep.counts.total,
                sweep.counts.subscribed,
                &sweep.next_token
            ),
            (5, 5, &None)
        );
        assert_eq!(answer.kind, SweepKind::Full);
        assert!(
            deployed.continuations().is_empty(),
            "no continuation needed"
        );
    }

    #[tokio::test]
    async fn a_sweep_out_of_time_hands_on_where_to_continue() {
        let deployed = five_groups();
        let answer = deployed.swept(OUT_OF_TIME, &order()).await;
        assert_eq!(
            (
                answer.sweep.counts.total,
                answer.sweep.next_token.as_deref()
            ),
            (2, Some("2"))
        );
        let [continuation] = deployed
            .continuations()
            .try_into()
            .expect("one continuation");
        assert_eq!(continuation.next_token.as_deref(), Some("2"));
        assert_eq!(continuation.so_far.subscribed, 2, "the slice is counted");
        assert_eq!(
            continuation.started_at_ms,
            Some(STARTED_MS),
            "the sweep's start is carried"
        );
        assert_eq!(continuation.hops, 1);
        // The continuation picks up at the third group, and the sweep ends.
        let answer = deployed.swept(LATER, &continuation).await;
        assert_eq!(
            (
                answer.sweep.counts.total,
                answer.sweep.next_token.as_deref()
            ),
            (3, None)
        );
        assert_eq!(deployed.continuations().len(), 1, "the sweep ended");
        assert_eq!(deployed.aws.count("describe"), 5, "each group once");
    }

    #[tokio::test]
    async fn groups_still_throttled_at_the_deadline_go_to_the_next_invocation() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        aws.add_group("/b", vec![]);
        aws.fail_nth(
            "put central-logging",
            1,
            ApiError::RetriesExhausted {
                attempts: 8,
                last: "ThrottlingException".into(),
            },
        );
        let deployed = Deployed::new(aws);
        // The deadline is inside the reserve: the one page is listed, the second pass is not run.
        let answer = deployed.swept(OUT_OF_TIME, &order()).await;
        assert_eq!(
            (
                answer.sweep.counts.total,
                answer.sweep.next_token.as_deref()
            ),
            (1, None)
        );
        let [continuation] = deployed
            .continuations()
            .try_into()
            .expect("one continuation");
        assert!(continuation.listing_done(), "{continuation:?}");
        assert_eq!(continuation.retry.len(), 1);
        // The next invocation reads the carried group again (one DescribeLogGroups by its name),
        // lists nothing else, and ends the sweep.
        let listed = deployed.aws.count("describe-log-groups");
        let answer = deployed.swept(LATER, &continuation).await;
        let counts = answer.sweep.counts;
        assert_eq!((counts.total, counts.subscribed), (1, 1));
        assert_eq!(
            deployed.aws.count("describe-log-groups"),
            listed + 1,
            "read again by name, nothing listed again"
        );
        assert_eq!(deployed.continuations().len(), 1, "the sweep ended");
        assert_eq!(deployed.aws.filter_names("/a"), vec!["central-logging"]);
        assert_eq!(deployed.aws.filter_names("/b"), vec!["central-logging"]);
    }

    #[tokio::test]
    async fn a_chain_past_its_bound_stops_at_no_call() {
        let deployed = five_groups();
        let looping = SweepRequest {
            hops: 50,
            started_at_ms: Some(STARTED_MS),
            next_token: Some("2".into()),
            ..SweepRequest::default()
        };
        let answer = deployed
            .sweeper(LATER)
            .sweep(&looping)
            .await
            .expect("answered");
        assert!(
            answer
                .stopped
                .as_deref()
                .is_some_and(|r| r.contains("looping")),
            "{answer:?}"
        );
        assert!(
            deployed.aws.calls().is_empty(),
            "{:?}",
            deployed.aws.calls()
        );
    }

    #[tokio::test]
    async fn a_new_sweep_reads_the_destination_afresh_and_a_continuation_does_not() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        let settings = RawSettings::default().parse().expect("defaults are valid");
        let deployed = Deployed {
            destination: DestinationCache::new(
                settings.destination.clone(),
                Duration::from_secs(300),
            ),
            ..Deployed::new(aws)
        };
        let get = format!("get {PARAMETER}");
        deployed.swept(LATER, &order()).await;
        deployed.swept(LATER, &order()).await;
        assert_eq!(deployed.aws.count(&get), 2, "each new sweep reads it");
        let continuation = SweepRequest {
            started_at_ms: Some(STARTED_MS),
            ..SweepRequest::default()
        };
        deployed.swept(LATER, &continuation).await;
        assert_eq!(deployed.aws.count(&get), 2, "a continuation uses the cache");
    }

    /// A person's `name` call on `group`, `minutes` before the tests' invocations begin.
    fn trail_event(name: &str, group: &str, minutes: u64) -> crate::aws::TrailEvent {
        crate::aws::TrailEvent {
            time_ms: STARTED_MS - minutes * 60_000,
            record: serde_json::json!({
                "eventSource": "logs.amazonaws.com",
                "eventName": name,
                "awsRegion": "us-east-1",
                "recipientAccountId": "111111111111",
                "userIdentity": {"arn": "arn:aws:sts::111111111111:assumed-role/Admin/alice"},
                "requestParameters": {"logGroupName": group},
            })
            .to_string(),
        }
    }

    #[tokio::test]
    async fn a_catch_up_reconciles_what_changed_and_counts_lost_events() {
        let deployed = five_groups();
        // `/a` was created 20 minutes ago and its event never came; `/b` a minute ago (its event
        // may be on its way); `/c` an hour ago, outside the window.
        for (group, minutes) in [("/a", 20), ("/b", 1), ("/c", 60)] {
            deployed.aws.add_trail_event(
                "CreateLogGroup",
                trail_event("CreateLogGroup", group, minutes),
            );
        }
        let answer = deployed
            .swept(LATER, &SweepRequest::changed_within(45 * 60))
            .await;
        assert_eq!(answer.kind, SweepKind::Changed);
        assert_eq!(
            (answer.sweep.counts.total, answer.sweep.counts.subscribed),
            (2, 2)
        );
        assert_eq!(answer.lost_events, 1, "only /a's change is old enough");
        assert!(
            deployed.aws.filter_names("/c").is_empty(),
            "outside the window"
        );
        assert!(
            deployed.aws.filter_names("/d").is_empty(),
            "nothing changed"
        );
        assert_eq!(deployed.aws.count("lookup-events"), 7);
        assert_eq!(
            deployed.aws.count("describe-log-groups"),
            2,
            "each changed group read again, nothing listed"
        );
        assert!(deployed.continuations().is_empty());
    }

    #[tokio::test]
    async fn a_denied_lookup_falls_back_to_a_recent_sweep() {
        let deployed = five_groups();
        deployed.aws.fail_nth(
            "lookup-events",
            1,
            ApiError::AccessDenied("not authorized to perform: cloudtrail:LookupEvents".into()),
        );
        let answer = deployed
            .swept(LATER, &SweepRequest::changed_within(45 * 60))
            .await;
        assert_eq!(answer.kind, SweepKind::Recent);
        // The fake's groups have no creation time: a recent sweep checks them, to be safe.
        assert_eq!(answer.sweep.counts.subscribed, 5);
        assert_eq!(deployed.aws.count("lookup-events"), 1);

        // Any other failure is the invocation's.
        let deployed = five_groups();
        deployed.aws.fail_nth(
            "lookup-events",
            1,
            ApiError::RetriesExhausted {
                attempts: 8,
                last: "ThrottlingException".into(),
            },
        );
        let error = deployed
            .sweeper(LATER)
            .sweep(&SweepRequest::changed_within(60))
            .await
            .expect_err("the lookup failed");
        assert!(
            matches!(error, SweepError::Lookup(ref e) if e.is_transient()),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_handed_on_catch_up_still_counts_the_lost_events_of_the_groups_it_carries() {
        let deployed = five_groups();
        for group in ["/a", "/b", "/c", "/d"] {
            deployed
                .aws
                .add_trail_event("CreateLogGroup", trail_event("CreateLogGroup", group, 20));
        }
        // The first invocation is out of time after what it could finish: it carries the rest,
        // each with its change, and every later one counts the lost events it acts on.
        let mut lost = deployed
            .swept(OUT_OF_TIME, &SweepRequest::changed_within(45 * 60))
            .await
            .lost_events;
        let looked_up = deployed.aws.count("lookup-events");
        let mut handed_on = 0;
        while let Some(next) = deployed.continuations().get(handed_on).cloned() {
            handed_on += 1;
            assert_eq!(next.kind(), SweepKind::Changed);
            assert_eq!(
                next.changes.iter().map(|c| &c.name).collect::<Vec<_>>(),
                next.retry.iter().collect::<Vec<_>>(),
                "each carried group with its change"
            );
            lost += deployed.swept(LATER, &next).await.lost_events;
        }
        assert!(handed_on > 0, "the first invocation handed on");
        assert_eq!(
            lost, 4,
            "every group subscribed late, whichever invocation reached it"
        );
        assert_eq!(
            deployed.aws.count("lookup-events"),
            looked_up,
            "looked up by the first invocation only"
        );

        // Carried changes are cues for a metric: a name or call that is not one is not counted.
        let deployed = five_groups();
        let mut forged = SweepRequest::changed_within(600).continued(
            STARTED_MS,
            &Tally::default(),
            None,
            vec!["/a".into(), "/b".into()],
        );
        forged.changes = vec![
            CarriedChange {
                name: "/a".into(),
                call: "DeleteLogGroup".into(),
                at_ms: 0,
            },
            CarriedChange {
                name: "not a group name: *".into(),
                call: "CreateLogGroup".into(),
                at_ms: 0,
            },
        ];
        let answer = deployed.swept(LATER, &forged).await;
        assert_eq!((answer.sweep.counts.subscribed, answer.lost_events), (2, 0));
    }

    #[tokio::test]
    async fn a_catch_up_continuation_does_not_look_up_again() {
        let deployed = five_groups();
        deployed
            .aws
            .add_trail_event("CreateLogGroup", trail_event("CreateLogGroup", "/a", 1));
        let first = SweepRequest::changed_within(600);
        let next = first.continued(STARTED_MS, &Tally::default(), None, vec!["/e".into()]);
        let answer = deployed.swept(LATER, &next).await;
        assert_eq!(answer.kind, SweepKind::Changed);
        assert_eq!(answer.sweep.counts.total, 1);
        assert_eq!(deployed.aws.filter_names("/e"), ["central-logging"]);
        assert!(deployed.aws.filter_names("/a").is_empty());
        assert_eq!(deployed.aws.count("lookup-events"), 0);
    }
}
