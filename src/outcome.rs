//! What became of one log group ([`Outcome`]), its name in answers and logs ([`OutcomeLabel`]), and
//! how many groups ended in each ([`Tally`]): a backfill's summary, an invocation's metrics line,
//! or a whole sweep's, carried from one invocation to the next.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The reason a group that vanished under us is skipped.
pub const GONE: &str = "log group no longer exists";
/// The reason a full group is skipped in `keep` mode.
pub const NO_FREE_SLOT: &str = "no free slot";
/// The start of the failure when a group's regular-expression quota leaves no room for ours.
pub const REGEX_QUOTA_USED: &str =
    "the log group's quota of 5 regular expressions in filter patterns is used up";

/// What became of one log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Ours was created or changed; `removed` lists the filters taken off the group.
    Subscribed { removed: Vec<String> },
    /// Ours already matched; `removed` lists duplicates taken off (usually none: then no write at all).
    Unchanged { removed: Vec<String> },
    /// Ours was taken off (the stack is being removed, or the group is no longer selected).
    Unsubscribed { removed: Vec<String> },
    /// Not ours to subscribe, or cannot be: the reason says which.
    Skipped { reason: String },
    /// Shipped to the destination already by an account-level subscription filter policy (the
    /// reason names it): a filter of ours would ship every event twice. `removed` lists ours,
    /// when a sweep took it off.
    Covered {
        reason: String,
        removed: Vec<String>,
    },
    /// Left out of a recent-groups sweep, at no AWS call: created before its window.
    NotChecked,
    /// Could not be done; the message says what to fix. `retryable` when the cause was transient
    /// (retries ran out on throttling or 5xx), so a later attempt may succeed.
    Failed { error: String, retryable: bool },
}

impl Outcome {
    pub fn label(&self) -> OutcomeLabel {
        match self {
            Self::Subscribed { .. } => OutcomeLabel::Subscribed,
            Self::Unchanged { .. } => OutcomeLabel::Unchanged,
            Self::Unsubscribed { .. } => OutcomeLabel::Unsubscribed,
            Self::Skipped { .. } => OutcomeLabel::Skipped,
            Self::Covered { .. } => OutcomeLabel::Covered,
            Self::Failed { .. } => OutcomeLabel::Failed,
            Self::NotChecked => OutcomeLabel::NotChecked,
        }
    }

    pub fn removed(&self) -> &[String] {
        match self {
            Self::Subscribed { removed }
            | Self::Unchanged { removed }
            | Self::Unsubscribed { removed }
            | Self::Covered { removed, .. } => removed,
            _ => &[],
        }
    }

    /// The skip reason or failure message.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Skipped { reason } | Self::Covered { reason, .. } => Some(reason),
            Self::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::Skipped {
            reason: reason.into(),
        }
    }

    pub fn failed(error: impl Into<String>, retryable: bool) -> Self {
        Self::Failed {
            error: error.into(),
            retryable,
        }
    }

    /// Whether a later attempt may succeed where this one failed.
    pub fn is_retryable_failure(&self) -> bool {
        matches!(
            self,
            Self::Failed {
                retryable: true,
                ..
            }
        )
    }
}

/// The outcome's name in responses, logs and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeLabel {
    Subscribed,
    Unchanged,
    Unsubscribed,
    Skipped,
    Covered,
    Failed,
    #[serde(rename = "not checked")]
    NotChecked,
}

impl fmt::Display for OutcomeLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Subscribed => "subscribed",
            Self::Unchanged => "unchanged",
            Self::Unsubscribed => "unsubscribed",
            Self::Skipped => "skipped",
            Self::Covered => "covered",
            Self::Failed => "failed",
            Self::NotChecked => "not checked",
        })
    }
}

/// How many groups ended in each outcome: a run's, an invocation's (for its metrics line), or a
/// whole sweep's, carried from one invocation to the next so its last can report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    pub total: u64,
    pub subscribed: u64,
    pub unchanged: u64,
    /// Groups whose filter of ours was taken off (a removal, or a sweep after the selection
    /// narrowed; never in a plain backfill).
    pub unsubscribed: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Groups an account-level subscription filter policy ships to the destination already.
    #[serde(skip_serializing_if = "is_zero")]
    pub covered: u64,
    /// Of the skipped groups, those left alone because they were full (`keep` mode): selected,
    /// and not shipping.
    #[serde(rename = "noFreeSlot", skip_serializing_if = "is_zero")]
    pub no_free_slot: u64,
    /// Groups a recent-groups sweep left out: created before its window. Not described, not
    /// touched, and not counted as unchanged.
    /// Only in the summaries of recent sweeps: a full one checks every group.
    #[serde(rename = "notChecked", skip_serializing_if = "is_zero")]
    pub not_checked: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a full sweep found of the account's coverage: the groups the rules select, and those
/// shipping to the destination (ours in place, or the account policy's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub eligible: u64,
    pub subscribed: u64,
}

impl Tally {
    /// Counts one group's outcome, noting a full group left alone.
    pub fn record(&mut self, outcome: &Outcome) {
        self.add(outcome.label());
        if matches!(outcome, Outcome::Skipped { reason } if reason.starts_with(NO_FREE_SLOT)) {
            self.no_free_slot += 1;
        }
    }

    /// The coverage these counts show, for a sweep that visited every group: subscribed (now or
    /// already), covered by the account policy, failed and full groups are eligible.
    pub fn coverage(&self) -> Coverage {
        let subscribed = self.subscribed + self.unchanged + self.covered;
        Coverage {
            eligible: subscribed + self.failed + self.no_free_slot,
            subscribed,
        }
    }

    /// Counts one group's outcome.
    pub fn add(&mut self, label: OutcomeLabel) {
        self.total += 1;
        match label {
            OutcomeLabel::Subscribed => self.subscribed += 1,
            OutcomeLabel::Unchanged => self.unchanged += 1,
            OutcomeLabel::Unsubscribed => self.unsubscribed += 1,
            OutcomeLabel::Skipped => self.skipped += 1,
            OutcomeLabel::Covered => self.covered += 1,
            OutcomeLabel::Failed => self.failed += 1,
            OutcomeLabel::NotChecked => self.not_checked += 1,
        }
    }

    /// This tally with `other`'s counts added.
    pub fn plus(self, other: &Tally) -> Self {
        Self {
            total: self.total + other.total,
            subscribed: self.subscribed + other.subscribed,
            unchanged: self.unchanged + other.unchanged,
            unsubscribed: self.unsubscribed + other.unsubscribed,
            skipped: self.skipped + other.skipped,
            failed: self.failed + other.failed,
            covered: self.covered + other.covered,
            no_free_slot: self.no_free_slot + other.no_free_slot,
            not_checked: self.not_checked + other.not_checked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_adds_up_slices() {
        let mut slice = Tally::default();
        for label in [
            OutcomeLabel::Subscribed,
            OutcomeLabel::Unchanged,
            OutcomeLabel::Unsubscribed,
        ] {
            slice.add(label);
        }
        let tally = Tally::default().plus(&slice).plus(&slice);
        assert_eq!(
            (
                tally.total,
                tally.subscribed,
                tally.unchanged,
                tally.unsubscribed
            ),
            (6, 2, 2, 2)
        );
        let read: Tally = serde_json::from_value(serde_json::json!({"total": 4})).expect("lenient");
        assert_eq!(read.total, 4);
    }

    #[test]
    fn coverage_counts_full_and_failed_groups_as_eligible_and_not_shipping() {
        let mut tally = Tally::default();
        for outcome in [
            Outcome::Subscribed { removed: vec![] },
            Outcome::Unchanged { removed: vec![] },
            Outcome::Covered {
                reason: "policy".into(),
                removed: vec![],
            },
            Outcome::failed("x", false),
            Outcome::skipped(NO_FREE_SLOT),
            Outcome::skipped("excluded by EXCLUDE glob \"/x/*\""),
            Outcome::Unsubscribed { removed: vec![] },
        ] {
            tally.record(&outcome);
        }
        assert_eq!(
            tally.coverage(),
            Coverage {
                eligible: 5,
                subscribed: 3
            }
        );
        assert_eq!((tally.skipped, tally.no_free_slot), (2, 1));
    }
}
