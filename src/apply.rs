//! Subscribing one log group: describe its filters, plan, and carry the plan out through [`Aws`],
//! so that a failure half way never leaves the group with fewer filters than it had: a filter removed
//! to make room is put back if ours then cannot be put.

use std::fmt;

use serde::Serialize;

use crate::aws::{ApiError, Aws};
use crate::names::{AccountId, LogGroupName};
use crate::plan::{DesiredFilter, FilterPlan, SubscriptionFilter, plan};
use crate::settings::ExistingFilters;

/// What became of one log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Ours was created or changed; `removed` lists the filters taken off the group.
    Subscribed { removed: Vec<String> },
    /// Ours already matched; `removed` lists duplicates taken off (usually none: then no write at all).
    Unchanged { removed: Vec<String> },
    /// Not ours to subscribe, or cannot be: the reason says which.
    Skipped { reason: String },
    /// Could not be done; the message says what to fix.
    Failed { error: String },
}

impl Outcome {
    pub fn label(&self) -> OutcomeLabel {
        match self {
            Self::Subscribed { .. } => OutcomeLabel::Subscribed,
            Self::Unchanged { .. } => OutcomeLabel::Unchanged,
            Self::Skipped { .. } => OutcomeLabel::Skipped,
            Self::Failed { .. } => OutcomeLabel::Failed,
        }
    }

    pub fn removed(&self) -> &[String] {
        match self {
            Self::Subscribed { removed } | Self::Unchanged { removed } => removed,
            _ => &[],
        }
    }

    /// The skip reason or failure message.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Skipped { reason } => Some(reason),
            Self::Failed { error } => Some(error),
            _ => None,
        }
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::Skipped {
            reason: reason.into(),
        }
    }
}

/// The outcome's name in responses, logs and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeLabel {
    Subscribed,
    Unchanged,
    Skipped,
    Failed,
}

impl fmt::Display for OutcomeLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Subscribed => "subscribed",
            Self::Unchanged => "unchanged",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        })
    }
}

pub const GONE: &str = "log group no longer exists";
pub const NO_FREE_SLOT: &str = "no free slot";

/// Everything about one group's subscription that does not change from group to group.
#[derive(Debug, Clone)]
pub struct Subscriber<'a> {
    pub desired: &'a DesiredFilter,
    pub mode: ExistingFilters,
    /// This account, to name in an access-denied message (the destination policy must allow it).
    pub account: Option<&'a AccountId>,
    /// Plan and report, but write nothing.
    pub dry_run: bool,
}

impl Subscriber<'_> {
    /// Brings one group to having our filter. Never panics and never returns early with the group
    /// holding less than it had.
    pub async fn subscribe(&self, aws: &impl Aws, group: &LogGroupName) -> Outcome {
        let existing = match aws.describe_subscription_filters(group).await {
            Ok(filters) => filters,
            Err(ApiError::NotFound(_)) => return Outcome::skipped(GONE),
            Err(e) => {
                return Outcome::Failed {
                    error: format!("describing its subscription filters: {e}"),
                };
            }
        };
        let plan = plan(&existing, self.desired, self.mode);
        if plan.is_unchanged() {
            return Outcome::Unchanged {
                removed: Vec::new(),
            };
        }
        if self.dry_run {
            return as_if_applied(&plan);
        }
        self.execute(aws, group, &plan).await
    }

    async fn execute(&self, aws: &impl Aws, group: &LogGroupName, plan: &FilterPlan) -> Outcome {
        let mut evicted: Vec<&SubscriptionFilter> = Vec::new();
        if let Some(ours) = &plan.put {
            let mut candidates = plan.evict_when_full.iter();
            loop {
                let error = match aws.put_subscription_filter(group, ours).await {
                    Ok(()) => break,
                    Err(ApiError::NotFound(_)) => return Outcome::skipped(GONE),
                    Err(e) => e,
                };
                let next = match (&error, plan.creates) {
                    (ApiError::GroupFull(_), true) => candidates.next(),
                    _ => {
                        let note = restore(aws, group, &evicted).await;
                        return Outcome::Failed {
                            error: format!("{}{note}", self.put_failure(&error)),
                        };
                    }
                };
                let Some(next) = next else {
                    let note = restore(aws, group, &evicted).await;
                    if self.mode == ExistingFilters::Keep {
                        return Outcome::skipped(format!("{NO_FREE_SLOT}{note}"));
                    }
                    return Outcome::Failed {
                        error: format!(
                            "the group is full and no other filter may be removed to make room{note}"
                        ),
                    };
                };
                match aws.delete_subscription_filter(group, &next.name).await {
                    Ok(()) | Err(ApiError::NotFound(_)) => evicted.push(next),
                    Err(e) => {
                        let note = restore(aws, group, &evicted).await;
                        return Outcome::Failed {
                            error: format!(
                                "removing filter {:?} to make room: {e}{note}",
                                next.name
                            ),
                        };
                    }
                }
            }
        }
        let mut removed: Vec<String> = evicted.iter().map(|f| f.name.clone()).collect();
        for filter in plan
            .remove_after
            .iter()
            .filter(|f| !evicted.iter().any(|e| e.name == f.name))
        {
            match aws.delete_subscription_filter(group, &filter.name).await {
                Ok(()) | Err(ApiError::NotFound(_)) => removed.push(filter.name.clone()),
                Err(e) => {
                    let done = if plan.put.is_some() {
                        "ours is in place, but "
                    } else {
                        ""
                    };
                    return Outcome::Failed {
                        error: format!("{done}removing filter {:?}: {e}", filter.name),
                    };
                }
            }
        }
        if plan.put.is_some() {
            Outcome::Subscribed { removed }
        } else {
            Outcome::Unchanged { removed }
        }
    }

    /// A put that failed, said as what to fix.
    fn put_failure(&self, error: &ApiError) -> String {
        let destination = self.desired.destination.as_str();
        match error {
            ApiError::AccessDenied(message) => {
                let who = self
                    .account
                    .map_or_else(|| "this account".to_owned(), |a| format!("account {a}"));
                format!(
                    "AWS denied PutSubscriptionFilter to {destination}: the destination's access policy must allow \
                     {who} (logs:PutSubscriptionFilter; or its organization with aws:PrincipalOrgID), and this \
                     function's role must be allowed to call it. AWS said: {message}"
                )
            }
            ApiError::InvalidParameter(message) => format!(
                "CloudWatch Logs rejected the filter (destination {destination}, pattern {:?}): {message}. \
                 Check that the destination exists in this Region, FILTER_PATTERN and ROLE_ARN",
                self.desired.pattern
            ),
            other => format!("putting the subscription filter: {other}"),
        }
    }
}

/// Puts back filters removed to make room, after ours could not be put. Returns a note for the
/// failure message when a filter could not be restored.
async fn restore(aws: &impl Aws, group: &LogGroupName, evicted: &[&SubscriptionFilter]) -> String {
    let mut lost = Vec::new();
    for filter in evicted.iter().rev() {
        if let Err(e) = aws.put_subscription_filter(group, filter).await {
            lost.push(format!("{:?} ({e})", filter.name));
        }
    }
    if lost.is_empty() {
        String::new()
    } else {
        format!("; and could not put back {}", lost.join(", "))
    }
}

/// What a dry run reports: the outcome the plan would have if every write succeeded.
fn as_if_applied(plan: &FilterPlan) -> Outcome {
    let removed = plan.remove_after.iter().map(|f| f.name.clone()).collect();
    if plan.put.is_some() {
        Outcome::Subscribed { removed }
    } else {
        Outcome::Unchanged { removed }
    }
}
