//! What an auditor concludes of one log group, from what AWS says of it: pure, so every case is a
//! row of the table below. Eligibility is the function's own ([`decide`], then the destination's
//! and the account policy's rules), so the audit and the function never disagree on which groups
//! are ours.

use serde::Serialize;

use crate::account_policy::AccountPolicy;
use crate::decision::{Decision, Rules, against_account_policy, against_destination, decide};
use crate::filter::{DesiredFilter, SubscriptionFilter};
use crate::group::LogGroup;
use crate::names::Arn;

/// A group created this recently with no filter yet may only be waiting for its event.
pub const PENDING_MS: u64 = 5 * 60 * 1000;

/// How many subscription filters a log group may hold (PutSubscriptionFilter's documentation:
/// "up to two"). Only the audit, which never writes, has to foresee it; the function learns it
/// from AWS's `LimitExceededException`.
pub const FILTERS_PER_GROUP: usize = 2;

/// Why an eligible group is not shipping to the central destination with our filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// No filter of ours at all.
    NoFilter,
    /// Ours is there, but not as the settings want it: the attributes it differs in.
    Stale(String),
    /// A filter named ours ships to another destination (the previous one, say).
    OtherDestination(String),
    /// In `keep` mode the group is full of other filters, and ours may not make room.
    NoFreeSlot,
    /// Ours is there, muted by `fieldSelectionCriteria`: it ships only what they select.
    Muted(String),
    /// Created within the last minutes: its event may still be on its way.
    Pending,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoFilter => f.write_str("no filter of ours"),
            Self::Stale(what) => write!(f, "ours is stale: {what}"),
            Self::OtherDestination(to) => {
                write!(
                    f,
                    "a filter named ours ships to {to}, not the central destination"
                )
            }
            Self::NoFreeSlot => f.write_str("no free slot in keep mode"),
            Self::Muted(criteria) => {
                write!(f, "ours is muted by fieldSelectionCriteria: {criteria}")
            }
            Self::Pending => {
                f.write_str("created in the last minutes: its event may be on its way")
            }
        }
    }
}

/// What one group comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not ours to ship, and why (the function's own reason).
    NotEligible(String),
    /// Ours ships it to the central destination, as the settings want.
    Subscribed,
    /// The account-level subscription policy ships it to the central destination (its reason).
    Covered(String),
    /// Eligible, and not shipping as it should.
    Gap(Gap),
}

/// A filter that ships outside the organization (or outside the allowed accounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Foreign {
    pub log_group_name: String,
    pub filter_name: String,
    pub destination_arn: String,
}

/// The verdict on `group`, holding `filters`, under `rules` (whose goal is to subscribe) to
/// `desired`, with the account's `policies`; `created_ms_now` is the audit's clock.
pub fn judge(
    group: &LogGroup,
    filters: &[SubscriptionFilter],
    rules: &Rules,
    desired: &DesiredFilter,
    policies: &[AccountPolicy],
    now_ms: u64,
) -> Verdict {
    let mut decision = decide(group, rules);
    if decision == Decision::Subscribe {
        decision = against_destination(decision, group, &desired.destination, rules);
    }
    if decision == Decision::Subscribe {
        decision = against_account_policy(decision, group, policies, &desired.destination, rules);
    }
    match decision {
        Decision::Subscribe => {}
        Decision::Covered { reason, .. } => return Verdict::Covered(reason),
        Decision::Skip { reason } => return Verdict::NotEligible(reason),
        Decision::Unsubscribe { unselected } => {
            return Verdict::NotEligible(unselected.unwrap_or_default());
        }
        Decision::NotChecked => return Verdict::NotEligible("not checked".into()),
        Decision::ReadTags => return Verdict::NotEligible("its tags were not read".into()),
    }
    if filters.iter().any(|f| desired.matches(f)) {
        return Verdict::Subscribed;
    }
    if let Some(ours) = filters.iter().find(|f| desired.is_ours(f)) {
        return Verdict::Gap(match ours.selection_criteria() {
            Some(criteria) => Gap::Muted(criteria.to_owned()),
            None => Gap::Stale(differences(desired, ours)),
        });
    }
    if let Some(named) = filters.iter().find(|f| f.name == desired.name.as_str()) {
        return Verdict::Gap(Gap::OtherDestination(named.destination_arn.clone()));
    }
    let recent = group
        .created_ms
        .is_some_and(|created| created.saturating_add(PENDING_MS) > now_ms);
    Verdict::Gap(match rules.mode {
        _ if recent => Gap::Pending,
        crate::plan::ExistingFilters::Keep if filters.len() >= FILTERS_PER_GROUP => Gap::NoFreeSlot,
        _ => Gap::NoFilter,
    })
}

/// The attributes in which `ours` differs from `desired`.
fn differences(desired: &DesiredFilter, ours: &SubscriptionFilter) -> String {
    let wanted = desired.to_filter();
    let mut what = Vec::new();
    if ours.filter_pattern != wanted.filter_pattern {
        what.push(format!(
            "pattern {:?}, not {:?}",
            ours.filter_pattern, wanted.filter_pattern
        ));
    }
    if ours.role_arn.as_deref().filter(|r| !r.is_empty()) != wanted.role_arn.as_deref() {
        what.push("role".to_owned());
    }
    if ours.distribution.as_deref().unwrap_or("ByLogStream")
        != wanted.distribution.as_deref().unwrap_or("ByLogStream")
    {
        what.push("distribution".to_owned());
    }
    if ours.apply_on_transformed_logs {
        what.push("applied to transformed logs".to_owned());
    }
    let (mut have, mut want) = (ours.emit_system_fields.clone(), wanted.emit_system_fields);
    have.sort();
    want.sort();
    if have != want {
        what.push("system fields".to_owned());
    }
    if what.is_empty() {
        "attributes".to_owned()
    } else {
        what.join(", ")
    }
}

/// The accounts a filter may ship to without being foreign: the organization's, or those given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed(std::collections::BTreeSet<String>);

impl Allowed {
    pub fn new(accounts: impl IntoIterator<Item = String>) -> Self {
        Self(accounts.into_iter().collect())
    }

    pub fn contains(&self, account: &str) -> bool {
        self.0.contains(account)
    }

    /// These accounts and `account` (the central destination's, which is never foreign).
    pub fn with(&self, account: &str) -> Self {
        let mut more = self.clone();
        more.0.insert(account.to_owned());
        more
    }

    /// Whether a destination ARN ships to an allowed account (one whose ARN names no account is
    /// not: nobody can say where it ships).
    pub fn admits(&self, destination_arn: &str) -> bool {
        Arn::parse(destination_arn)
            .ok()
            .and_then(|arn| arn.account_id())
            .is_some_and(|account| self.contains(account.as_str()))
    }
}

/// The filters among `filters` that ship to an account `allowed` leaves out (a destination whose
/// ARN names no account is foreign too: nobody can say where it ships).
pub fn foreign(group: &str, filters: &[SubscriptionFilter], allowed: &Allowed) -> Vec<Foreign> {
    filters
        .iter()
        .filter(|f| !allowed.admits(&f.destination_arn))
        .map(|f| Foreign {
            log_group_name: group.to_owned(),
            filter_name: f.name.clone(),
            destination_arn: f.destination_arn.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Goal;
    use crate::fixtures::{DEST, desired, rules};
    use crate::names::LogGroupName;
    use crate::plan::ExistingFilters::{Keep, Replace};

    const NOW: u64 = 1_800_000_000_000;

    fn group(name: &str, age_ms: u64) -> LogGroup {
        LogGroup {
            created_ms: Some(NOW - age_ms),
            ..LogGroup::named(LogGroupName::parse(name).expect("valid"))
        }
    }

    fn other(name: &str, to: &str) -> SubscriptionFilter {
        SubscriptionFilter {
            name: name.into(),
            destination_arn: to.into(),
            ..SubscriptionFilter::default()
        }
    }

    const VENDOR: &str = "arn:aws:logs:us-east-1:555555555555:destination:vendor";
    const HOUR: u64 = 3_600_000;

    #[test]
    fn table() {
        let ours = desired().to_filter();
        let muted = SubscriptionFilter {
            field_selection_criteria: Some("@aws.region = \"nowhere-1\"".into()),
            ..ours.clone()
        };
        let narrowed = SubscriptionFilter {
            filter_pattern: "ERROR".into(),
            ..ours.clone()
        };
        let rows: Vec<(
            LogGroup,
            Vec<SubscriptionFilter>,
            crate::plan::ExistingFilters,
            Verdict,
        )> = vec![
            (
                group("/app/a", HOUR),
                vec![ours.clone()],
                Replace,
                Verdict::Subscribed,
            ),
            (
                group("/app/a", HOUR),
                vec![ours.clone(), other("vendor", VENDOR)],
                Keep,
                Verdict::Subscribed,
            ),
            (
                group("/app/a", HOUR),
                vec![],
                Replace,
                Verdict::Gap(Gap::NoFilter),
            ),
            (
                group("/app/new", 60_000),
                vec![],
                Replace,
                Verdict::Gap(Gap::Pending),
            ),
            (
                group("/app/a", HOUR),
                vec![other("a", VENDOR), other("b", VENDOR)],
                Keep,
                Verdict::Gap(Gap::NoFreeSlot),
            ),
            (
                group("/app/a", HOUR),
                vec![other("a", VENDOR), other("b", VENDOR)],
                Replace,
                Verdict::Gap(Gap::NoFilter),
            ),
            (
                group("/app/a", HOUR),
                vec![muted],
                Replace,
                Verdict::Gap(Gap::Muted("@aws.region = \"nowhere-1\"".into())),
            ),
            (
                group("/app/a", HOUR),
                vec![narrowed],
                Replace,
                Verdict::Gap(Gap::Stale("pattern \"ERROR\", not \"\"".into())),
            ),
            (
                group("/app/a", HOUR),
                vec![other("central-logging", VENDOR)],
                Replace,
                Verdict::Gap(Gap::OtherDestination(VENDOR.into())),
            ),
            (
                LogGroup {
                    class: Some("INFREQUENT_ACCESS".into()),
                    ..group("/app/ia", HOUR)
                },
                vec![],
                Replace,
                Verdict::NotEligible(
                    "log group class INFREQUENT_ACCESS cannot have subscription filters".into(),
                ),
            ),
        ];
        for (group, filters, mode, expected) in rows {
            let rules = rules(mode, Goal::Subscribe);
            assert_eq!(
                judge(&group, &filters, &rules, &desired(), &[], NOW),
                expected,
                "{} {filters:?} {mode:?}",
                group.name
            );
        }
        // An account policy to the central destination covers a group with nothing of ours.
        let policy = AccountPolicy {
            name: "org".into(),
            destination_arn: DEST.into(),
            filter_pattern: String::new(),
            excluded: vec![],
        };
        let verdict = judge(
            &group("/app/a", HOUR),
            &[],
            &rules(Replace, Goal::Subscribe),
            &desired(),
            &[policy],
            NOW,
        );
        assert!(
            matches!(verdict, Verdict::Covered(ref r) if r.contains("\"org\"")),
            "{verdict:?}"
        );
    }

    #[test]
    fn filters_that_ship_outside_the_allowed_accounts_are_foreign() {
        let inside = Allowed::new(["999999999999".to_owned(), "111111111111".to_owned()]);
        let filters = [
            other("central-logging", DEST),
            other("vendor", VENDOR),
            other("odd", "not-an-arn"),
            other(
                "own",
                "arn:aws:lambda:us-east-1:111111111111:function:shipper",
            ),
        ];
        let found = foreign("/app/a", &filters, &inside);
        let names: Vec<&str> = found.iter().map(|f| f.filter_name.as_str()).collect();
        assert_eq!(names, ["vendor", "odd"]);
        assert_eq!(found[0].destination_arn, VENDOR);

        // The central destination's account is added to whatever was given.
        let given = Allowed::new(["111111111111".to_owned()]);
        assert!(!given.admits(DEST));
        assert!(given.with("999999999999").admits(DEST));
        assert!(!given.with("999999999999").admits("not-an-arn"));
    }
}
