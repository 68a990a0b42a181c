//! The function's sweep: one slice of the [engine](super::engine) per invocation, within the
//! invocation's time, then handed on to the next invocation (the function invokes itself
//! asynchronously with a [`SweepRequest`]) until the whole account is covered.
//!
//! A plain sweep (the schedule, or one the stack started) ends here; a stack's removal is driven
//! by [`super::stack`], which calls [`Sweeper::slice`] and [`Sweeper::hand_on`] and answers
//! CloudFormation itself.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use thiserror::Error;
use tracing::{error, info, warn};

use super::engine::{self, Job, Summary};
use super::request::{SweepKind, SweepRequest};
use crate::aws::{ApiError, Aws};
use crate::decision::Goal;
use crate::destination::{Destination, DestinationError};
use crate::filter::DesiredFilter;
use crate::names::FunctionArn;
use crate::outcome::Tally;
use crate::selection::Selection;
use crate::settings::Settings;

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
}

impl Slice {
    pub fn response(self) -> SweepResponse {
        SweepResponse {
            sweep: self.summary,
            kind: self.kind,
            stopped: None,
        }
    }
}

/// The function's side of a sweep, for one invocation.
#[derive(Debug)]
pub struct Sweeper<'a, A> {
    pub aws: &'a Arc<A>,
    pub settings: &'a Settings,
    /// The function's cached destination; a new sweep reads it afresh.
    pub destination: &'a Destination,
    /// The function's own ARN: where a sweep hands on to.
    pub function: &'a FunctionArn,
    /// When this invocation stops listing (see [`listing_deadline`]).
    pub deadline: Instant,
    /// When an answer to CloudFormation must be sent by: shortly before the invocation ends.
    pub answer_by: Instant,
}

impl<A: Aws + 'static> Sweeper<'_, A> {
    /// Runs one slice of `request`: with [`Goal::Converge`], selected groups subscribed and our
    /// filter taken off groups no longer selected; with [`Goal::Remove`] (only the stack's
    /// confirmed deletion asks for it), our filter taken off every group.
    pub async fn slice(&self, request: &SweepRequest, goal: Goal) -> Result<Slice, SweepError> {
        let started_at_ms = request.started_at_ms.unwrap_or_else(now_ms);
        if !request.is_continuation() {
            // A sweep starts from what the stack says now, not from five minutes ago.
            self.destination.forget();
        }
        let destination = self.destination().await?;
        let (selection, created_after_ms, kind) = match goal {
            // This stack's filter comes off every group, whatever the selection or window says.
            Goal::Remove => (Selection::everything(), None, SweepKind::Removal),
            Goal::Converge | Goal::Subscribe => (
                self.settings.selection.clone(),
                request.created_after_ms(started_at_ms),
                request.kind(),
            ),
        };
        let job = Job {
            created_after_ms,
            filter: self.settings.filter.clone(),
            destination: destination.clone(),
            mode: self.settings.existing_filters,
            selection,
            goal,
            dry_run: false,
            workers: WORKERS,
            deadline: Some(self.deadline),
            start_token: request.next_token.clone(),
            carried: request.retry.clone(),
            listing_done: request.listing_done(),
        };
        let summary = engine::run(self.aws.clone(), job, |_| {})
            .await
            .map_err(SweepError::Listing)?;
        log_slice(kind, &summary);
        let more = summary.next_token.is_some() || !summary.leftovers.is_empty();
        let next = more.then(|| {
            request.continued(
                started_at_ms,
                &summary.counts,
                summary.next_token.as_deref(),
                summary.leftovers.clone(),
            )
        });
        Ok(Slice {
            desired: self.settings.filter.to(destination),
            whole: request.so_far.plus(&summary.counts),
            started_at_ms,
            next,
            summary,
            kind,
        })
    }

    /// The destination, checked to be in the function's Region.
    pub async fn destination(&self) -> Result<crate::names::DestinationArn, DestinationError> {
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
            });
        }
        let slice = self.slice(request, Goal::Converge).await?;
        match &slice.next {
            Some(next) => self.hand_on(next).await?,
            None => log_sweep_done(slice.kind, &slice.whole),
        }
        Ok(slice.response())
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
        "{message}"
    );
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

/// An instant `margin` before the runtime's deadline (epoch milliseconds).
pub fn before_deadline(deadline_ms: u64, margin: Duration) -> Instant {
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms()));
    Instant::now() + remaining.saturating_sub(margin)
}

/// When a sweep invocation stops listing: [`SWEEP_RESERVE`] before the runtime's deadline (epoch
/// milliseconds), and at most [`SWEEP_SLICE`] from now.
pub fn listing_deadline(deadline_ms: u64) -> Instant {
    before_deadline(deadline_ms, SWEEP_RESERVE).min(Instant::now() + SWEEP_SLICE)
}
