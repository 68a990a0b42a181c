//! backfill: every existing log group brought under the same plan as the function, at the API's
//! quota ceiling, with nothing lost.
//!
//! A lister pages DescribeLogGroups into a bounded queue (so memory stays flat however many groups
//! the account holds); workers take groups off it and run [`Subscriber::subscribe`] on each. The
//! adapter's token buckets pace every call, so the describe and write pipelines stay busy side by
//! side at the quota. A group whose calls kept being throttled past the adapter's retries gets one
//! more pass at the end instead of being reported lost.

pub mod cli;

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use crate::apply::{Outcome, OutcomeLabel, Subscriber};
use crate::aws::{ApiError, Aws, LogGroupInfo};
use crate::names::{Arn, LogGroupName};
use crate::plan::DesiredFilter;
use crate::selection::Selection;
use crate::settings::ExistingFilters;

/// What to do, beyond the filter itself.
#[derive(Debug, Clone)]
pub struct Job {
    pub desired: DesiredFilter,
    pub mode: ExistingFilters,
    pub selection: Selection,
    pub dry_run: bool,
    /// Groups in flight at once. The token buckets set the pace; enough workers keep every bucket
    /// busy while others wait on AWS's answers.
    pub workers: usize,
}

/// The run's result, as `--output json` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: u64,
    pub subscribed: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub failed: u64,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub log_group_name: String,
    pub error: String,
}

impl Summary {
    fn record(&mut self, group: &str, outcome: &Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Subscribed { .. } => self.subscribed += 1,
            Outcome::Unchanged { .. } => self.unchanged += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Failed { error, .. } => {
                self.failed += 1;
                self.failures.push(Failure {
                    log_group_name: group.to_owned(),
                    error: error.clone(),
                });
            }
        }
    }
}

/// Progress as the run goes, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Log groups listed so far.
    Seen(u64),
    /// One group is done.
    Done(OutcomeLabel),
}

/// Runs the backfill. `Err` only when the log groups cannot be listed at all.
pub async fn run<A, P>(aws: Arc<A>, job: Job, progress: P) -> Result<Summary, ApiError>
where
    A: Aws + 'static,
    P: Fn(Progress) + Send + Sync + 'static,
{
    let job = Arc::new(job);
    let progress = Arc::new(progress);
    let (queue_tx, queue_rx) = mpsc::channel::<LogGroupInfo>(job.workers.max(1) * 4);
    let (done_tx, mut done_rx) = mpsc::channel::<(LogGroupInfo, Outcome)>(job.workers.max(1) * 4);
    let queue_rx = Arc::new(Mutex::new(queue_rx));

    let lister = tokio::spawn(list(
        aws.clone(),
        job.selection.literal_prefix(),
        queue_tx,
        progress.clone(),
    ));
    let mut workers = JoinSet::new();
    for _ in 0..job.workers.max(1) {
        let (aws, job, queue, done) = (aws.clone(), job.clone(), queue_rx.clone(), done_tx.clone());
        workers.spawn(async move {
            loop {
                let next = queue.lock().await.recv().await;
                let Some(group) = next else { break };
                let outcome = handle(aws.as_ref(), &job, &group).await;
                if done.send((group, outcome)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(done_tx);

    let mut summary = Summary::default();
    let mut retry_later: Vec<LogGroupInfo> = Vec::new();
    while let Some((group, outcome)) = done_rx.recv().await {
        if matches!(
            outcome,
            Outcome::Failed {
                retryable: true,
                ..
            }
        ) {
            retry_later.push(group);
            continue;
        }
        progress(Progress::Done(outcome.label()));
        summary.record(&group.name, &outcome);
    }
    while workers.join_next().await.is_some() {}
    let listed = lister
        .await
        .unwrap_or_else(|e| Err(ApiError::Other(format!("listing task: {e}"))));

    // A second chance for groups whose calls kept being throttled: the burst that caused it is over.
    for group in retry_later {
        let outcome = handle(aws.as_ref(), &job, &group).await;
        progress(Progress::Done(outcome.label()));
        summary.record(&group.name, &outcome);
    }
    listed?;
    Ok(summary)
}

/// Pages DescribeLogGroups to the end, feeding the queue; the queue's bound is what keeps memory
/// flat in the number of groups.
async fn list<A: Aws, P: Fn(Progress)>(
    aws: Arc<A>,
    prefix: Option<String>,
    queue: mpsc::Sender<LogGroupInfo>,
    progress: Arc<P>,
) -> Result<(), ApiError> {
    let mut next_token = None;
    let mut seen = 0;
    loop {
        let page = aws
            .describe_log_groups(prefix.as_deref(), next_token)
            .await?;
        seen += page.groups.len() as u64;
        progress(Progress::Seen(seen));
        for group in page.groups {
            if queue.send(group).await.is_err() {
                return Ok(());
            }
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => return Ok(()),
        }
    }
}

/// One listed group: selection, class, then the same plan and adapter as the function.
async fn handle<A: Aws>(aws: &A, job: &Job, group: &LogGroupInfo) -> Outcome {
    let name = match LogGroupName::parse(&group.name) {
        Ok(name) => name,
        Err(e) => return Outcome::skipped(e.to_string()),
    };
    if let Some(class) = group.class.as_deref().filter(|c| *c != "STANDARD") {
        return Outcome::skipped(format!(
            "log group class {class} cannot have subscription filters"
        ));
    }
    if let Err(reason) = job.selection.check(&name) {
        return Outcome::skipped(reason);
    }
    let account = group
        .arn
        .as_deref()
        .and_then(|a| Arn::parse(a).ok())
        .and_then(|a| a.account_id());
    let subscriber = Subscriber {
        desired: &job.desired,
        mode: job.mode,
        account: account.as_ref(),
        dry_run: job.dry_run,
    };
    subscriber.subscribe(aws, &name).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeAws, desired};

    fn job() -> Job {
        Job {
            desired: desired(),
            mode: ExistingFilters::Replace,
            selection: Selection::new(&[], &["/excluded/*".into()]).expect("valid"),
            dry_run: false,
            workers: 4,
        }
    }

    async fn run_on(aws: FakeAws) -> (Result<Summary, ApiError>, Arc<FakeAws>) {
        let aws = Arc::new(aws);
        (run(aws.clone(), job(), |_| {}).await, aws)
    }

    #[tokio::test]
    async fn every_group_once_with_a_summary() {
        let aws = FakeAws::with_group("/a", vec![], 2);
        aws.add_group("/b", vec![desired().to_filter()]);
        aws.add_group("/excluded/c", vec![]);
        let (summary, aws) = run_on(aws).await;
        let summary = summary.expect("listed");
        assert_eq!(
            (
                summary.total,
                summary.subscribed,
                summary.unchanged,
                summary.skipped
            ),
            (3, 1, 1, 1)
        );
        let describes = aws.calls().iter().filter(|c| *c == "describe").count();
        assert_eq!(describes, 2, "the excluded group is never described");
    }

    #[tokio::test]
    async fn a_group_whose_retries_ran_out_gets_a_second_pass() {
        let aws = FakeAws::with_group("/a", vec![], 2);
        let exhausted = ApiError::RetriesExhausted {
            attempts: 10,
            last: "ThrottlingException".into(),
        };
        aws.fail_nth("put central-logging", 1, exhausted);
        let (summary, aws) = run_on(aws).await;
        let summary = summary.expect("listed");
        assert_eq!((summary.subscribed, summary.failed), (1, 0), "{summary:?}");
        assert_eq!(summary.total, 1, "counted once");
        assert_eq!(aws.filter_names("/a"), vec!["central-logging"]);
    }

    #[tokio::test]
    async fn a_lasting_failure_is_reported_not_retried_forever() {
        let aws = FakeAws::with_group("/a", vec![], 2);
        aws.fail_nth(
            "put central-logging",
            1,
            ApiError::AccessDenied("no".into()),
        );
        let (summary, aws) = run_on(aws).await;
        let summary = summary.expect("listed");
        assert_eq!(summary.failed, 1);
        assert_eq!(summary.failures[0].log_group_name, "/a");
        assert_eq!(
            aws.calls().iter().filter(|c| c.starts_with("put")).count(),
            1
        );
    }

    #[tokio::test]
    async fn classes_other_than_standard_are_skipped_without_a_call() {
        let aws = Arc::new(FakeAws::default());
        let group = LogGroupInfo {
            name: "/ia".into(),
            class: Some("INFREQUENT_ACCESS".into()),
            arn: None,
        };
        let outcome = handle(aws.as_ref(), &job(), &group).await;
        assert_eq!(
            outcome,
            Outcome::skipped("log group class INFREQUENT_ACCESS cannot have subscription filters")
        );
        assert!(aws.calls().is_empty());
    }

    #[tokio::test]
    async fn a_listing_failure_is_an_error() {
        let aws = FakeAws::with_group("/a", vec![], 2);
        aws.fail_nth(
            "describe-log-groups",
            1,
            ApiError::AccessDenied("no".into()),
        );
        let (summary, _) = run_on(aws).await;
        assert!(
            matches!(summary, Err(ApiError::AccessDenied(_))),
            "{summary:?}"
        );
    }
}
