//! The read-only audit of one account and Region: every log group judged as the function would
//! see it ([`verdict`]), the filters that ship outside the allowed accounts, the account-level
//! subscription policy, and whether the stack's destination parameter is there. The `audit`
//! binary assumes a role in each account, runs this for each of its Regions in parallel, and
//! prints the reports.

pub mod canary;
pub mod verdict;

use serde::Serialize;

use crate::account_policy::AccountPolicy;
use crate::aws::{ApiError, Aws};
use crate::decision::{Decision, Goal, Rules, decide};
use crate::destination::{DestinationError, resolve_once};
use crate::group::{KnownTags, LogGroup};
use crate::names::DestinationArn;
use crate::settings::{DestinationSource, Settings};
pub use canary::Canary;
use verdict::{Allowed, Foreign, Verdict, foreign, judge};

/// How one account and Region came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every eligible group ships to the central destination, and nothing ships outside.
    Covered,
    /// Some group does not, or ships outside.
    Gaps,
    /// It could not be audited: `error` says why.
    Error,
}

/// One eligible group that does not ship as it should.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GapEntry {
    pub log_group_name: String,
    pub reason: String,
}

/// An account-level subscription filter policy, and where it points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyEntry {
    pub policy_name: String,
    pub destination_arn: String,
    /// Whether it points at the central destination.
    pub central: bool,
}

/// The audit of one account and Region, as `--output json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRegion {
    pub account_id: String,
    pub region: String,
    pub status: Status,
    /// The destination the groups should ship to, when known.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "arn_text")]
    pub destination_arn: Option<DestinationArn>,
    /// Whether the stack's destination parameter is there (`None`: a destination was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_present: Option<bool>,
    pub groups: u64,
    pub eligible: u64,
    /// Eligible groups shipping to the central destination: with our filter, or through the
    /// account policy (`coveredByPolicy` of them).
    pub subscribed: u64,
    pub covered_by_policy: u64,
    pub gaps: Vec<GapEntry>,
    pub foreign_destinations: Vec<Foreign>,
    pub account_policies: Vec<PolicyEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The canary's verdict, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// The account-level subscription policies as read, for the canary.
    #[serde(skip)]
    pub policies: Vec<AccountPolicy>,
}

impl AccountRegion {
    /// An account and Region that could not be audited, and why.
    pub fn failed(account_id: &str, region: &str, error: String) -> Self {
        Self {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            status: Status::Error,
            destination_arn: None,
            stack_present: None,
            groups: 0,
            eligible: 0,
            subscribed: 0,
            covered_by_policy: 0,
            gaps: Vec::new(),
            foreign_destinations: Vec::new(),
            account_policies: Vec::new(),
            error: Some(error),
            canary: None,
            policies: Vec::new(),
        }
    }

    fn settle(&mut self) {
        self.status = if self.error.is_some() {
            Status::Error
        } else if self.gaps.is_empty()
            && self.foreign_destinations.is_empty()
            && self.canary.as_ref().is_none_or(|c| !c.failed())
        {
            Status::Covered
        } else {
            Status::Gaps
        };
    }

    /// The canary's verdict added.
    pub fn with_canary(mut self, canary: Canary) -> Self {
        self.canary = Some(canary);
        self.settle();
        self
    }
}

/// What the audit of one account and Region is given.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub settings: &'a Settings,
    /// The destination for this Region when given (`--destination-arn`); else the settings'.
    pub destination: Option<&'a DestinationArn>,
    /// Which accounts a filter may ship to without being foreign.
    pub allowed: &'a Allowed,
    /// The audit's clock, epoch milliseconds.
    pub now_ms: u64,
}

/// Audits one account and Region through `aws` (its credentials and Region, paced at its
/// quotas): one DescribeLogGroups per 50 groups, one DescribeSubscriptionFilters per group that
/// can hold filters, ListTagsForResource where tag rules need it, one DescribeAccountPolicies.
/// Memory grows with the gaps and foreign filters found, not with the groups.
pub async fn audit(aws: &impl Aws, scope: Scope<'_>) -> AccountRegion {
    let mut report = AccountRegion::failed(scope.account_id, scope.region, String::new());
    report.error = None;
    let destination = match scope.destination {
        Some(arn) => arn.clone(),
        None => match resolve_once(&scope.settings.destination, aws, scope.region).await {
            Ok(arn) => {
                report.stack_present = Some(true);
                arn
            }
            Err(DestinationError::Missing { name }) => {
                report.stack_present = Some(false);
                report.error = Some(format!(
                    "no auto-subscribe stack here: SSM parameter {name} does not exist (give \
                     --destination-arn to audit against a destination anyway)"
                ));
                report.settle();
                return report;
            }
            Err(e) => {
                if let DestinationSource::Parameter(_) = scope.settings.destination {
                    report.stack_present = Some(true);
                }
                report.error = Some(e.to_string());
                report.settle();
                return report;
            }
        },
    };
    report.destination_arn = Some(destination.clone());
    let policies = match aws.subscription_policies().await {
        Ok(policies) => policies,
        Err(e) => {
            report.error = Some(format!(
                "reading the account-level subscription policies: {e}"
            ));
            report.settle();
            return report;
        }
    };
    report.account_policies = policies
        .iter()
        .map(|p| PolicyEntry {
            policy_name: p.name.clone(),
            destination_arn: p.destination_arn.clone(),
            central: p.destination_arn == destination.as_str(),
        })
        .collect();
    // The central destination's own account is never foreign.
    let allowed = scope.allowed.with(destination.account().as_str());
    let scope = Scope {
        allowed: &allowed,
        ..scope
    };
    for policy in &policies {
        if !scope.allowed.admits(&policy.destination_arn) {
            report.foreign_destinations.push(Foreign {
                log_group_name: format!("(account policy {})", policy.name),
                filter_name: policy.name.clone(),
                destination_arn: policy.destination_arn.clone(),
            });
        }
    }
    let rules = Rules::new(scope.settings, Goal::Subscribe);
    let desired = scope.settings.filter.to(destination);
    let mut next_token = None;
    loop {
        let page = match aws.describe_log_groups(None, next_token).await {
            Ok(page) => page,
            Err(e) => {
                report.error = Some(format!("listing the log groups: {e}"));
                report.settle();
                return report;
            }
        };
        for listed in &page.groups {
            report.groups += 1;
            let group = match LogGroup::from_listing(listed) {
                Ok(group) => group,
                Err(_) => continue,
            };
            if let Err(e) = audit_group(
                aws,
                &group,
                &rules,
                &desired,
                &policies,
                &scope,
                &mut report,
            )
            .await
            {
                report.error = Some(format!("auditing {}: {e}", group.name));
                report.settle();
                return report;
            }
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => break,
        }
    }
    report.policies = policies;
    report.settle();
    report
}

async fn audit_group(
    aws: &impl Aws,
    group: &LogGroup,
    rules: &Rules,
    desired: &crate::filter::DesiredFilter,
    policies: &[AccountPolicy],
    scope: &Scope<'_>,
    report: &mut AccountRegion,
) -> Result<(), ApiError> {
    if group.class.as_deref().is_some_and(|c| c != "STANDARD") {
        return Ok(());
    }
    let filters = match aws.describe_subscription_filters(&group.name).await {
        Ok(filters) => filters,
        Err(ApiError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    report
        .foreign_destinations
        .extend(foreign(group.name.as_str(), &filters, scope.allowed));
    let mut group = group.clone();
    if decide(&group, rules) == Decision::ReadTags
        && let Some(arn) = group.tagging_arn()
    {
        match aws.list_tags(arn).await {
            Ok(tags) => group.tags = KnownTags::Read(tags),
            Err(ApiError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    match judge(&group, &filters, rules, desired, policies, scope.now_ms) {
        Verdict::NotEligible(_) => {}
        Verdict::Subscribed => {
            report.eligible += 1;
            report.subscribed += 1;
        }
        Verdict::Covered(_) => {
            report.eligible += 1;
            report.subscribed += 1;
            report.covered_by_policy += 1;
        }
        Verdict::Gap(gap) => {
            report.eligible += 1;
            report.gaps.push(GapEntry {
                log_group_name: group.name.to_string(),
                reason: gap.to_string(),
            });
        }
    }
    Ok(())
}

/// A destination ARN as JSON: its text.
fn arn_text<S: serde::Serializer>(arn: &Option<DestinationArn>, out: S) -> Result<S::Ok, S::Error> {
    match arn {
        Some(arn) => out.collect_str(arn),
        None => out.serialize_none(),
    }
}
