//! `audit --canary`: in one account and Region, a log group created under
//! `/auto-subscribe/canary/`, watched until the function has put our filter on it (as the audit's
//! own [`judge`] would call it subscribed), then deleted. It proves the trail, the EventBridge
//! rule, the function and the destination's access policy end to end, which nothing read-only
//! can. A canary the selection leaves out, or that an account-level policy to the central
//! destination covers, is not created: the function would rightly leave it alone.

use std::time::Duration;

use serde::Serialize;

use super::AccountRegion;
use super::verdict::{Verdict, judge};
use crate::aws::{ApiError, CanaryGroups};
use crate::decision::{Goal, Rules};
use crate::group::{KnownTags, LogGroup, Tags};
use crate::names::LogGroupName;
use crate::settings::Settings;

/// Where canaries are created: the only names the canary's IAM statement lets it create.
pub const PREFIX: &str = "/auto-subscribe/canary/";

/// How often the canary reads its group's filters while it waits.
pub const POLL: Duration = Duration::from_secs(5);

/// What the canary proved: a group created, then subscribed by the function within the time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    pub log_group_name: String,
    pub subscribed: bool,
    /// Seconds from its creation to our filter, when it came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Why no canary was created here, when none was (not a failure: the function would leave
    /// such a group alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Canary {
    /// Whether it failed: neither subscribed nor rightly skipped.
    pub fn failed(&self) -> bool {
        !self.subscribed && self.skipped.is_none()
    }

    /// One line for a report.
    pub fn note(&self) -> String {
        match (self.subscribed, self.seconds, &self.skipped) {
            (true, Some(seconds), _) => format!("canary subscribed in {seconds:.0} s"),
            (_, _, Some(reason)) => format!("canary skipped: {reason}"),
            _ => format!(
                "canary failed: {}",
                self.error.as_deref().unwrap_or("not subscribed")
            ),
        }
    }
}

/// A canary's name: [`PREFIX`], the time (epoch milliseconds) and a random suffix, so that
/// concurrent audits never share one.
pub fn name(now_ms: u64, random: u16) -> String {
    format!("{PREFIX}{now_ms}-{random:04x}")
}

/// Runs the canary `name` in the account-Region `report` audited (its destination and account
/// policies), under `settings`, waiting at most `timeout` for the function; `now_ms` is the
/// audit's clock when it starts. Its group is deleted whatever happened once it was created.
pub async fn run(
    aws: &impl CanaryGroups,
    settings: &Settings,
    report: &AccountRegion,
    name: &str,
    timeout: Duration,
    now_ms: u64,
) -> Canary {
    let mut canary = Canary {
        log_group_name: name.to_owned(),
        subscribed: false,
        seconds: None,
        skipped: None,
        error: None,
    };
    let Some(destination) = report.destination_arn.clone() else {
        canary.error = Some("the destination is not known here".into());
        return canary;
    };
    let group = match LogGroupName::parse(name) {
        Ok(group) => LogGroup {
            created_ms: Some(now_ms),
            tags: KnownTags::Read(Tags::default()),
            ..LogGroup::named(group)
        },
        Err(e) => {
            canary.error = Some(format!("the canary's name {name:?}: {e}"));
            return canary;
        }
    };
    let rules = Rules::new(settings, Goal::Subscribe);
    let desired = settings.filter.to(destination);
    let verdict =
        |filters: &[_]| judge(&group, filters, &rules, &desired, &report.policies, now_ms);
    match verdict(&[]) {
        Verdict::NotEligible(reason) => {
            canary.skipped = Some(format!(
                "the selection leaves {PREFIX}* out ({reason}), so the function would too"
            ));
            return canary;
        }
        Verdict::Covered(reason) => {
            canary.skipped = Some(format!("{reason}: the function leaves such groups alone"));
            return canary;
        }
        Verdict::Subscribed | Verdict::Gap(_) => {}
    }
    if let Err(e) = aws.create_log_group(&group.name).await {
        canary.error = Some(format!("creating {name}: {e}"));
        return canary;
    }
    let started = tokio::time::Instant::now();
    while started.elapsed() < timeout {
        tokio::time::sleep(POLL.min(timeout)).await;
        match aws.describe_subscription_filters(&group.name).await {
            Ok(filters) if verdict(&filters) == Verdict::Subscribed => {
                canary.subscribed = true;
                canary.seconds = Some(started.elapsed().as_secs_f64());
                break;
            }
            Ok(_) | Err(ApiError::NotFound(_)) => {}
            Err(e) => {
                canary.error = Some(format!("describing {name}: {e}"));
                break;
            }
        }
    }
    if !canary.subscribed && canary.error.is_none() {
        canary.error = Some(format!("no filter of ours within {} s", timeout.as_secs()));
    }
    if let Err(e) = aws.delete_log_group(&group.name).await {
        let note = format!("deleting {name}: {e}");
        canary.error = Some(match canary.error.take() {
            Some(first) => format!("{first}; {note}"),
            None => note,
        });
    }
    canary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account_policy::AccountPolicy;
    use crate::aws::Aws;
    use crate::aws::fake::FakeAws;
    use crate::filter::SubscriptionFilter;
    use crate::fixtures::{DEST, destination};
    use crate::settings::RawSettings;

    const NAME: &str = "/auto-subscribe/canary/1700000000000-00ff";
    const TIMEOUT: Duration = Duration::from_secs(60);

    /// An account with one other group, two filters to a group.
    fn account() -> FakeAws {
        FakeAws::with_group("/app/api", vec![], 2)
    }

    fn settings(raw: RawSettings) -> Settings {
        raw.parse().expect("valid settings")
    }

    /// The report of an account-Region audited against [`DEST`] with `policies`.
    fn report(policies: Vec<AccountPolicy>) -> AccountRegion {
        let mut report = AccountRegion::failed("111111111111", "us-east-1", String::new());
        report.error = None;
        report.destination_arn = Some(destination());
        report.policies = policies;
        report
    }

    /// The function: `after` the canary is created, it puts `filter` on it.
    async fn function(aws: &FakeAws, after: Duration, filter: SubscriptionFilter) {
        tokio::time::sleep(after).await;
        let group = LogGroupName::parse(NAME).expect("valid");
        aws.put_subscription_filter(&group, &filter)
            .await
            .expect("the canary exists");
    }

    #[test]
    fn names_are_under_the_prefix_the_iam_statement_allows_and_valid() {
        let name = name(1_700_000_000_000, 0xff);
        assert_eq!(name, NAME);
        assert!(LogGroupName::parse(&name).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn subscribed_by_the_function_then_deleted() {
        let aws = account();
        let settings = settings(RawSettings::default());
        let ours = settings.filter.to(destination()).to_filter();
        let report = report(vec![]);
        let (canary, ()) = tokio::join!(
            run(&aws, &settings, &report, NAME, TIMEOUT, 0),
            function(&aws, Duration::from_secs(7), ours),
        );
        assert!(canary.subscribed, "{canary:?}");
        assert!(!canary.failed());
        assert_eq!(canary.seconds, Some(10.0), "seen at the second poll");
        assert_eq!(canary.note(), "canary subscribed in 10 s");
        assert_eq!(aws.count("create-log-group"), 1);
        assert_eq!(aws.count("delete-log-group"), 1);
        assert_eq!(aws.count("describe"), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_filter_that_is_not_ours_proves_nothing() {
        let aws = account();
        let settings = settings(RawSettings::default());
        let mut other = settings.filter.to(destination()).to_filter();
        other.name = "someone-elses".into();
        let report = report(vec![]);
        let (canary, ()) = tokio::join!(
            run(&aws, &settings, &report, NAME, TIMEOUT, 0),
            function(&aws, Duration::from_secs(1), other),
        );
        assert!(canary.failed(), "{canary:?}");
        assert_eq!(
            canary.error.as_deref(),
            Some("no filter of ours within 60 s")
        );
        assert_eq!(aws.count("delete-log-group"), 1, "deleted all the same");
        assert_eq!(aws.count("describe"), 12, "every 5 s for a minute");
    }

    #[tokio::test(start_paused = true)]
    async fn a_canary_the_function_would_leave_alone_is_not_created() {
        let aws = account();
        let left_out = settings(RawSettings {
            exclude: vec!["/auto-subscribe/*".into()],
            ..RawSettings::default()
        });
        let canary = run(&aws, &left_out, &report(vec![]), NAME, TIMEOUT, 0).await;
        assert!(!canary.failed(), "{canary:?}");
        assert!(
            canary
                .skipped
                .as_deref()
                .is_some_and(|s| s.contains("the selection leaves /auto-subscribe/canary/* out")),
            "{canary:?}"
        );

        let policy = AccountPolicy::parse(
            "to-central",
            &format!(r#"{{"DestinationArn": "{DEST}", "FilterPattern": ""}}"#),
            None,
        )
        .expect("a valid policy");
        let canary = run(
            &aws,
            &settings(RawSettings::default()),
            &report(vec![policy]),
            NAME,
            TIMEOUT,
            0,
        )
        .await;
        assert!(canary.skipped.is_some() && !canary.failed(), "{canary:?}");
        assert!(
            canary.note().starts_with("canary skipped: "),
            "{}",
            canary.note()
        );
        assert!(aws.calls().is_empty(), "{:?}", aws.calls());
    }

    #[tokio::test(start_paused = true)]
    async fn a_canary_that_cannot_be_created_says_why_and_deletes_nothing() {
        let aws = account();
        aws.fail_nth(
            "create-log-group",
            1,
            ApiError::AccessDenied("not authorized to perform: logs:CreateLogGroup".into()),
        );
        let canary = run(
            &aws,
            &settings(RawSettings::default()),
            &report(vec![]),
            NAME,
            TIMEOUT,
            0,
        )
        .await;
        assert!(canary.failed());
        assert!(
            canary
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with(&format!("creating {NAME}: access denied"))),
            "{canary:?}"
        );
        assert_eq!(aws.count("delete-log-group"), 0);
    }
}
