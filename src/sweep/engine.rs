//! The sweep engine: every log group of the account (or of a prefix) brought under the same
//! decision and plan as a new group's event, at the API's quota ceiling, with nothing lost. Both
//! `backfill` and the function's sweeps run it.
//!
//! A lister pages DescribeLogGroups into a bounded queue (so memory stays flat however many groups
//! the account holds); workers take groups off it and [reconcile](crate::reconcile) each. The
//! adapter's token buckets pace every call, so the describe and write pipelines stay busy side by
//! side at the quota. A group whose calls kept being throttled past the adapter's retries gets one
//! more pass at the end instead of being reported lost. A deadline stops the listing, for a run
//! that must fit in a Lambda invocation; the summary then says where to continue, and which
//! groups the second pass had no time left for ([`Summary::leftovers`]: the next run takes them
//! first, through [`Resume::carried`]).

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use crate::aws::{ApiError, Aws};
use crate::decision::Rules;
use crate::destination::DestinationCache;
use crate::group::{ListedGroup, LogGroup};
use crate::names::DestinationArn;
use crate::outcome::{Outcome, OutcomeLabel, Tally};
use crate::reconcile::Reconciler;

/// What a run does to every group it lists, and where it starts.
#[derive(Debug, Clone)]
pub struct Job {
    pub rules: Rules,
    /// The destination, read and checked once before the run.
    pub destination: DestinationArn,
    /// Groups in flight at once. The token buckets set the pace; enough workers keep every bucket
    /// busy while others wait on AWS's answers.
    pub workers: usize,
    /// No new page of log groups is listed after this instant; the groups already listed are
    /// finished and [`Summary::next_token`] says where to continue. For a run that must fit in a
    /// Lambda invocation: set it early enough to finish what is queued.
    pub deadline: Option<Instant>,
    /// Where an earlier run stopped; the default starts from the first page.
    pub resume: Resume,
}

/// Where a run picks up a sweep an earlier run left.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Continue from this DescribeLogGroups token.
    pub start_token: Option<String>,
    /// Groups a previous run had no time left for, by name: each is read again from AWS
    /// (nothing else about it is taken from whoever carried it) and handled before any listing.
    pub carried: Vec<String>,
    /// The listing already reached its end: handle `carried` only.
    pub listing_done: bool,
}

impl Resume {
    /// Only these groups, by name, with no listing: a catch-up's changed groups, the paused
    /// groups due again, a continuation's leftovers.
    pub fn only(carried: Vec<String>) -> Self {
        Self {
            start_token: None,
            carried,
            listing_done: true,
        }
    }
}

/// The run's result, as `--output json` prints it: the counts, then the failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub counts: Tally,
    pub failures: Vec<Failure>,
    /// Where a run cut short by its deadline should continue.
    #[serde(rename = "nextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Groups, by name, the run had no time left for: carried groups not reached before the
    /// deadline, and groups whose calls kept being throttled; not counted yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub log_group_name: String,
    pub error: String,
}

impl Summary {
    fn record(&mut self, group: &str, outcome: &Outcome) {
        self.counts.record(outcome);
        if let Outcome::Failed { error, .. } = outcome {
            self.failures.push(Failure {
                log_group_name: group.to_owned(),
                error: error.clone(),
            });
        }
    }
}

/// Progress as the run goes, for a progress bar (and a catch-up, which notes the groups it
/// wrote to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Log groups listed so far.
    Seen(u64),
    /// One group is done.
    Done { group: &'a str, label: OutcomeLabel },
}

/// Runs the backfill. `Err` only when the log groups cannot be listed at all.
pub async fn run<A, P>(aws: Arc<A>, job: Job, progress: P) -> Result<Summary, ApiError>
where
    A: Aws + 'static,
    P: Fn(Progress<'_>) + Send + Sync + 'static,
{
    let run = Arc::new(Run::new(job));
    let progress = Arc::new(progress);
    let in_flight = run.job.workers.max(1);
    let (queue_tx, queue_rx) = mpsc::channel::<ListedGroup>(in_flight * 4);
    let (done_tx, mut done_rx) = mpsc::channel::<(ListedGroup, Outcome)>(in_flight * 4);
    let queue_rx = Arc::new(Mutex::new(queue_rx));

    let resume = &run.job.resume;
    let lister = tokio::spawn(list(
        aws.clone(),
        Listing {
            prefix: run.job.rules.listing_prefix(),
            start_token: resume.start_token.clone(),
            deadline: run.job.deadline,
            carried: resume.carried.clone(),
            done: resume.listing_done,
        },
        queue_tx,
        progress.clone(),
    ));
    let mut workers = JoinSet::new();
    for _ in 0..in_flight {
        let (aws, run, queue, done) = (aws.clone(), run.clone(), queue_rx.clone(), done_tx.clone());
        workers.spawn(async move {
            loop {
                let next = queue.lock().await.recv().await;
                let Some(group) = next else { break };
                let outcome = run.handle(aws.as_ref(), &group).await;
                if done.send((group, outcome)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(done_tx);

    let mut summary = Summary::default();
    let mut retry_later: Vec<ListedGroup> = Vec::new();
    while let Some((group, outcome)) = done_rx.recv().await {
        if outcome.is_retryable_failure() {
            retry_later.push(group);
            continue;
        }
        progress(Progress::Done {
            group: &group.name,
            label: outcome.label(),
        });
        summary.record(&group.name, &outcome);
    }
    while workers.join_next().await.is_some() {}
    let listed = lister
        .await
        .unwrap_or_else(|e| Err(ApiError::Other(format!("listing task: {e}"))));

    // A second chance for groups whose calls kept being throttled: the burst that caused it is over.
    // Past the deadline, they are left to the next run.
    let listed = listed?;
    summary.leftovers = listed.unvisited;
    for group in retry_later {
        if run.job.deadline.is_some_and(|d| Instant::now() >= d) {
            summary.leftovers.push(group.name);
            continue;
        }
        let outcome = run.handle(aws.as_ref(), &group).await;
        progress(Progress::Done {
            group: &group.name,
            label: outcome.label(),
        });
        summary.record(&group.name, &outcome);
    }
    summary.next_token = listed.next_token;
    Ok(summary)
}

/// Where the listing starts, what it is narrowed to, when it stops taking new pages, and the
/// groups queued before it.
struct Listing {
    prefix: Option<String>,
    start_token: Option<String>,
    deadline: Option<Instant>,
    carried: Vec<String>,
    /// Queue `carried` only.
    done: bool,
}

/// Where the listing stopped.
struct Listed {
    /// The token to continue from, when the deadline stopped it.
    next_token: Option<String>,
    /// Carried groups the deadline came before.
    unvisited: Vec<String>,
}

/// Reads the carried groups again from AWS, then pages DescribeLogGroups to the end, or until the
/// deadline, feeding the queue; the queue's bound is what keeps memory flat in the number of
/// groups. Returns where to continue when the deadline stopped it.
async fn list<A: Aws, P: Fn(Progress)>(
    aws: Arc<A>,
    listing: Listing,
    queue: mpsc::Sender<ListedGroup>,
    progress: Arc<P>,
) -> Result<Listed, ApiError> {
    let past = |deadline: Option<Instant>| deadline.is_some_and(|d| Instant::now() >= d);
    let mut carried = listing.carried.into_iter();
    while let Some(name) = carried.next() {
        if past(listing.deadline) {
            // The rest waits for the next run, which reads them again; so does the listing.
            let mut unvisited = vec![name];
            unvisited.extend(carried);
            let next_token = if listing.done {
                None
            } else {
                listing.start_token
            };
            return Ok(Listed {
                next_token,
                unvisited,
            });
        }
        let group = read_again(aws.as_ref(), &name).await?;
        if queue.send(group).await.is_err() {
            return Ok(Listed::done());
        }
    }
    if listing.done {
        return Ok(Listed::done());
    }
    let mut next_token = listing.start_token;
    let mut seen = 0;
    loop {
        let page = aws
            .describe_log_groups(listing.prefix.as_deref(), next_token)
            .await?;
        seen += page.groups.len() as u64;
        progress(Progress::Seen(seen));
        for group in page.groups {
            if queue.send(group).await.is_err() {
                return Ok(Listed::done());
            }
        }
        match page.next_token {
            Some(token) if !token.is_empty() => {
                if past(listing.deadline) {
                    return Ok(Listed {
                        next_token: Some(token),
                        unvisited: Vec::new(),
                    });
                }
                next_token = Some(token);
            }
            _ => return Ok(Listed::done()),
        }
    }
}

impl Listed {
    fn done() -> Self {
        Self {
            next_token: None,
            unvisited: Vec::new(),
        }
    }
}

/// A carried group as DescribeLogGroups lists it now (one call: names starting with it sort after
/// it, so it comes first): its class, ARN and creation time are AWS's, never the carrier's. A
/// group no longer there keeps only its name, and its describe then finds it gone.
async fn read_again<A: Aws>(aws: &A, name: &str) -> Result<ListedGroup, ApiError> {
    let page = aws.describe_log_groups(Some(name), None).await?;
    Ok(page
        .groups
        .into_iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| ListedGroup {
            name: name.to_owned(),
            class: None,
            arn: None,
            created_ms: None,
        }))
}

/// A job, with its destination ready for every group.
struct Run {
    job: Job,
    destination: DestinationCache,
}

impl Run {
    fn new(job: Job) -> Self {
        let destination = DestinationCache::fixed(job.destination.clone());
        Self { job, destination }
    }

    /// One listed group, reconciled as a new group's event would be.
    async fn handle<A: Aws>(&self, aws: &A, info: &ListedGroup) -> Outcome {
        let group = match LogGroup::from_listing(info) {
            Ok(group) => group,
            Err(reason) => return Outcome::skipped(reason),
        };
        let reconciler = Reconciler {
            rules: &self.job.rules,
            destination: &self.destination,
            region: self.job.destination.region(),
        };
        // The destination was checked before the run, so this cannot fail; if it did, the group
        // failed, and the run goes on.
        reconciler
            .reconcile(aws, &group)
            .await
            .unwrap_or_else(|e| Outcome::failed(e.to_string(), false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::{Call, FakeAws};
    use crate::decision::Goal;
    use crate::fixtures::{desired, destination, spec};
    use crate::plan::ExistingFilters;
    use crate::selection::Selection;

    /// The default filter, every group but `/excluded/*`, towards `goal`.
    fn rules(goal: Goal) -> Rules {
        Rules {
            filter: spec(),
            mode: ExistingFilters::Replace,
            selection: Selection::new(&[], &["/excluded/*".into()]).expect("valid"),
            goal,
            created_after_ms: None,
            dry_run: false,
        }
    }

    fn job() -> Job {
        Job {
            rules: rules(Goal::Subscribe),
            destination: destination(),
            workers: 4,
            deadline: None,
            resume: Resume::default(),
        }
    }

    async fn run_on(aws: FakeAws) -> (Result<Summary, ApiError>, Arc<FakeAws>) {
        let aws = Arc::new(aws);
        (run(aws.clone(), job(), |_| {}).await, aws)
    }

    fn foreign(name: &str) -> crate::filter::SubscriptionFilter {
        crate::filter::SubscriptionFilter {
            destination_arn: "arn:aws:lambda:us-east-1:111111111111:function:shipper".into(),
            name: name.into(),
            ..desired().to_filter()
        }
    }

    #[tokio::test]
    async fn a_sweep_cut_by_its_deadline_continues_and_visits_each_group_once() {
        let aws = Arc::new(FakeAws::with_group("/g00", vec![], 2));
        for i in 1..9 {
            aws.add_group(&format!("/g{i:02}"), vec![]);
        }
        // A deadline already past: each run lists one page (the fake's pages hold 2) and stops.
        let mut token = None;
        let mut runs = 0;
        let mut total = 0;
        loop {
            let job = Job {
                deadline: Some(Instant::now()),
                resume: Resume {
                    start_token: token,
                    ..Resume::default()
                },
                ..job()
            };
            let summary = run(aws.clone(), job, |_| {}).await.expect("listed");
            total += summary.counts.total;
            runs += 1;
            token = summary.next_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!((runs, total), (5, 9), "9 groups in pages of 2");
        assert_eq!(aws.count("describe"), 9, "each group visited once");
        for i in 0..9 {
            assert_eq!(
                aws.filter_names(&format!("/g{i:02}")),
                vec!["central-logging"]
            );
        }
    }

    #[tokio::test]
    async fn removal_takes_ours_off_the_selected_groups_and_nothing_else() {
        let groups = || {
            let aws = Arc::new(FakeAws::with_group(
                "/a",
                vec![desired().to_filter(), foreign("shipper")],
                2,
            ));
            aws.add_group("/excluded/b", vec![desired().to_filter()]);
            aws.add_group("/c", vec![foreign("shipper")]);
            aws
        };
        // The stack's removal: every group, whatever the selection says.
        let aws = groups();
        let everything = Job {
            rules: rules(Goal::Teardown),
            ..job()
        };
        let summary = run(aws.clone(), everything, |_| {}).await.expect("listed");
        assert_eq!(
            (summary.counts.unsubscribed, summary.counts.unchanged),
            (2, 1),
            "{summary:?}"
        );
        assert_eq!(aws.filter_names("/a"), vec!["shipper"]);
        assert!(aws.filter_names("/excluded/b").is_empty());
        assert_eq!(aws.filter_names("/c"), vec!["shipper"]);

        // With a selection (`backfill --remove --exclude ...`), unselected groups keep ours.
        let aws = groups();
        let selected = Job {
            rules: rules(Goal::Remove),
            ..job()
        };
        let summary = run(aws.clone(), selected, |_| {}).await.expect("listed");
        assert_eq!(
            (
                summary.counts.unsubscribed,
                summary.counts.unchanged,
                summary.counts.skipped
            ),
            (1, 1, 1),
            "{summary:?}"
        );
        assert_eq!(aws.filter_names("/excluded/b"), vec!["central-logging"]);
        let deletes = aws
            .calls()
            .iter()
            .filter(|c| c.key().starts_with("delete"))
            .count();
        assert_eq!(deletes, 1, "{:?}", aws.calls());
    }

    #[tokio::test]
    async fn a_narrowed_selection_takes_ours_off_groups_no_longer_selected() {
        let aws = Arc::new(FakeAws::with_group("/a", vec![], 2));
        aws.add_group(
            "/excluded/b",
            vec![desired().to_filter(), foreign("shipper")],
        );
        aws.add_group("/excluded/c", vec![foreign("shipper")]);
        let narrowed = Job {
            rules: rules(Goal::Converge),
            ..job()
        };
        let summary = run(aws.clone(), narrowed, |_| {}).await.expect("listed");
        assert_eq!(
            (
                summary.counts.subscribed,
                summary.counts.unsubscribed,
                summary.counts.skipped
            ),
            (1, 1, 1),
            "{summary:?}"
        );
        assert_eq!(aws.filter_names("/excluded/b"), vec!["shipper"]);
        assert_eq!(aws.filter_names("/excluded/c"), vec!["shipper"]);
        // A plain backfill leaves unselected groups alone.
        aws.add_group("/excluded/d", vec![desired().to_filter()]);
        run(aws.clone(), job(), |_| {}).await.expect("listed");
        assert_eq!(aws.filter_names("/excluded/d"), vec!["central-logging"]);
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
                summary.counts.total,
                summary.counts.subscribed,
                summary.counts.unchanged,
                summary.counts.skipped
            ),
            (3, 1, 1, 1)
        );
        let describes = aws.count("describe");
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
        assert_eq!(
            (summary.counts.subscribed, summary.counts.failed),
            (1, 0),
            "{summary:?}"
        );
        assert_eq!(summary.counts.total, 1, "counted once");
        assert_eq!(aws.filter_names("/a"), vec!["central-logging"]);
    }

    #[tokio::test]
    async fn past_the_deadline_the_second_pass_is_left_to_the_next_run_which_takes_it_first() {
        let aws = Arc::new(FakeAws::with_group("/a", vec![], 2));
        let exhausted = ApiError::RetriesExhausted {
            attempts: 10,
            last: "ThrottlingException".into(),
        };
        aws.fail_nth("put central-logging", 1, exhausted);
        // A deadline already past: the listing ends (one page), the second pass does not run.
        let first = Job {
            deadline: Some(Instant::now()),
            ..job()
        };
        let summary = run(aws.clone(), first, |_| {}).await.expect("listed");
        assert_eq!(summary.counts.total, 0, "not counted yet: {summary:?}");
        assert_eq!(summary.next_token, None);
        let leftovers = summary.leftovers;
        assert_eq!(leftovers.len(), 1);
        assert!(aws.filter_names("/a").is_empty());
        // The next run handles the carried group first, and lists nothing when the listing ended.
        let next = Job {
            resume: Resume::only(leftovers),
            ..job()
        };
        let calls_before = aws.calls().len();
        let summary = run(aws.clone(), next, |_| {}).await.expect("ran");
        assert_eq!(
            (summary.counts.total, summary.counts.subscribed),
            (1, 1),
            "{summary:?}"
        );
        assert!(summary.leftovers.is_empty());
        assert_eq!(aws.filter_names("/a"), vec!["central-logging"]);
        // The carried group is read again by its name, and nothing else is listed.
        let reads: Vec<_> = aws.calls()[calls_before..]
            .iter()
            .filter(|c| **c == "describe-log-groups")
            .cloned()
            .collect();
        assert_eq!(
            reads,
            [Call::DescribeLogGroups {
                prefix: Some("/a".into())
            }]
        );
    }

    #[tokio::test]
    async fn a_carried_group_is_what_aws_says_it_is_and_obeys_the_deadline() {
        let aws = Arc::new(FakeAws::with_group("/a", vec![desired().to_filter()], 2));
        aws.add_group("/a/b", vec![]);
        aws.add_group("/c", vec![]);
        // Carried: a group that is there, one that is gone; nothing about them but their names.
        let next = Job {
            rules: rules(Goal::Converge),
            resume: Resume::only(vec!["/a".into(), "/gone".into()]),
            ..job()
        };
        let summary = run(aws.clone(), next, |_| {}).await.expect("ran");
        assert_eq!(
            (
                summary.counts.total,
                summary.counts.unchanged,
                summary.counts.skipped
            ),
            (2, 1, 1),
            "{summary:?}"
        );
        assert!(
            aws.filter_names("/a/b").is_empty(),
            "a name's prefix is not the group"
        );
        // Past the deadline, carried groups are left for the next run, with where to list from.
        let late = Job {
            deadline: Some(Instant::now()),
            resume: Resume {
                start_token: Some("2".into()),
                carried: vec!["/a".into(), "/c".into()],
                listing_done: false,
            },
            ..job()
        };
        let before = aws.calls().len();
        let summary = run(aws.clone(), late, |_| {}).await.expect("ran");
        assert_eq!(summary.leftovers, ["/a", "/c"]);
        assert_eq!(summary.next_token.as_deref(), Some("2"));
        assert_eq!(summary.counts.total, 0);
        assert!(
            aws.calls()[before..].is_empty(),
            "no call past the deadline"
        );
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
        assert_eq!(summary.counts.failed, 1);
        assert_eq!(summary.failures[0].log_group_name, "/a");
        assert_eq!(
            aws.calls()
                .iter()
                .filter(|c| c.key().starts_with("put"))
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn classes_other_than_standard_are_skipped_without_a_call() {
        let aws = Arc::new(FakeAws::default());
        let group = ListedGroup {
            name: "/ia".into(),
            class: Some("INFREQUENT_ACCESS".into()),
            arn: None,
            created_ms: None,
        };
        let outcome = Run::new(job()).handle(aws.as_ref(), &group).await;
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
