//! The plan for one log group: from the subscription filters it has and the filter we want, the
//! writes to make and their order. Pure: no I/O, so every case is a row in a table test.
//!
//! The order keeps a group from ever holding less than it had when a call fails half way: ours is put
//! first while there is room and the others are removed after. Only when the put answers that the
//! group is full (`LimitExceededException`: the per-group limit is not hard-coded, it has been 1 and is
//! 2 today) is a filter removed before the put, one at a time from [`FilterPlan::evict_when_full`].

use std::fmt;
use std::str::FromStr;

use crate::filter::{DesiredFilter, SubscriptionFilter};

/// What to do with subscription filters on a group that are not ours (`EXISTING_FILTERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExistingFilters {
    /// Ours ends up the group's only filter (the AWS blog sample's behaviour).
    #[default]
    Replace,
    /// Others stay while there is room; when the group is full the oldest other goes.
    MakeRoom,
    /// Others are never touched; a full group is skipped.
    Keep,
}

impl FromStr for ExistingFilters {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "replace" => Ok(Self::Replace),
            "make-room" => Ok(Self::MakeRoom),
            "keep" => Ok(Self::Keep),
            other => Err(format!("{other:?} is not one of replace, make-room, keep")),
        }
    }
}

impl fmt::Display for ExistingFilters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Replace => "replace",
            Self::MakeRoom => "make-room",
            Self::Keep => "keep",
        })
    }
}

/// The writes for one group, in the order [`crate::reconcile`] carries them out:
/// 1. put `put` (if any); while it answers "group full", remove the next of `evict_when_full` and
///    put again; if none is left, the group cannot take ours (restore what was removed);
/// 2. remove every filter of `remove_after` that step 1 did not already remove.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FilterPlan {
    /// Ours, to create or update; `None` when ours already matches.
    pub put: Option<SubscriptionFilter>,
    /// Whether ours does not exist yet, so the put adds a filter and can find the group full.
    pub creates: bool,
    /// Filters that may be removed, in this order, when the put finds the group full.
    pub evict_when_full: Vec<SubscriptionFilter>,
    /// Filters to remove once ours is in place.
    pub remove_after: Vec<SubscriptionFilter>,
}

impl FilterPlan {
    /// No write at all: ours matches and nothing else must go.
    pub(crate) fn is_unchanged(&self) -> bool {
        self.put.is_none() && self.remove_after.is_empty()
    }
}

/// Plans the writes that bring one group from `existing` to having `desired`, under `mode`.
///
/// A filter under another name that points at our destination is a duplicate (the AWS blog sample named its
/// filter `Destination`): it would double every event, so it goes in every mode.
pub(crate) fn plan(
    existing: &[SubscriptionFilter],
    desired: &DesiredFilter,
    mode: ExistingFilters,
) -> FilterPlan {
    let ours = existing.iter().find(|f| f.name == desired.name.as_str());
    let is_duplicate = |f: &SubscriptionFilter| f.destination_arn == desired.destination.as_str();
    let mut others: Vec<SubscriptionFilter> = existing
        .iter()
        .filter(|f| f.name != desired.name.as_str())
        .cloned()
        .collect();
    // Duplicates first (removing one loses nothing once ours is there), then oldest first.
    others.sort_by_key(|f| {
        (
            !is_duplicate(f),
            f.creation_time.unwrap_or(i64::MAX),
            f.name.clone(),
        )
    });
    let duplicates: Vec<SubscriptionFilter> =
        others.iter().filter(|f| is_duplicate(f)).cloned().collect();

    let (removable, remove_after) = match mode {
        ExistingFilters::Replace => (others.clone(), others),
        ExistingFilters::MakeRoom => (others, duplicates),
        ExistingFilters::Keep => (duplicates.clone(), duplicates),
    };
    let put = match ours {
        Some(f) if desired.matches(f) => None,
        ours => Some(desired.to_filter_over(ours)),
    };
    let creates = ours.is_none();
    FilterPlan {
        evict_when_full: if creates { removable } else { Vec::new() },
        put,
        creates,
        remove_after,
    }
}

/// The writes that take this tool's filter off a group (stack removal, or a group no longer
/// selected): ours, matched by name *and* destination, and nothing else.
pub(crate) fn removal(existing: &[SubscriptionFilter], desired: &DesiredFilter) -> FilterPlan {
    FilterPlan {
        remove_after: existing
            .iter()
            .filter(|f| desired.is_ours(f))
            .cloned()
            .collect(),
        ..FilterPlan::default()
    }
}

#[cfg(test)]
mod tests {
    use super::ExistingFilters::{Keep, MakeRoom, Replace};
    use super::*;
    use crate::fixtures::{DEST, desired};

    const OLD_DEST: &str = "arn:aws:logs:us-east-1:999999999999:destination:old";
    const OTHER: &str = "arn:aws:lambda:us-east-1:111111111111:function:shipper";

    fn filter(name: &str, dest: &str, created: i64) -> SubscriptionFilter {
        SubscriptionFilter {
            name: name.into(),
            destination_arn: dest.into(),
            filter_pattern: String::new(),
            role_arn: None,
            distribution: Some("ByLogStream".into()),
            creation_time: Some(created),
            ..SubscriptionFilter::default()
        }
    }

    fn ours() -> SubscriptionFilter {
        filter("central-logging", DEST, 1)
    }

    fn names(filters: &[SubscriptionFilter]) -> Vec<&str> {
        filters.iter().map(|f| f.name.as_str()).collect()
    }

    /// One row: the group's filters, the mode, then what the plan must be:
    /// (puts ours, creates, evict order, remove after).
    type Row = (
        &'static str,
        Vec<SubscriptionFilter>,
        ExistingFilters,
        bool,
        bool,
        Vec<&'static str>,
        Vec<&'static str>,
    );

    fn rows() -> Vec<Row> {
        let stale_dest = filter("central-logging", OLD_DEST, 1);
        let stale_pattern = SubscriptionFilter {
            filter_pattern: "ERROR".into(),
            ..ours()
        };
        let stale_role = SubscriptionFilter {
            role_arn: Some("arn:aws:iam::111111111111:role/old".into()),
            ..ours()
        };
        let stale_distribution = SubscriptionFilter {
            distribution: Some("Random".into()),
            ..ours()
        };
        let foreign_a = filter("shipper", OTHER, 10);
        let foreign_b = filter("datadog", OTHER, 5);
        let duplicate = filter("Destination", DEST, 20);
        let mut rows: Vec<Row> = Vec::new();
        for mode in [Replace, MakeRoom, Keep] {
            rows.extend([
                ("no filters", vec![], mode, true, true, vec![], vec![]),
                (
                    "ours correct",
                    vec![ours()],
                    mode,
                    false,
                    false,
                    vec![],
                    vec![],
                ),
                (
                    "ours stale destination",
                    vec![stale_dest.clone()],
                    mode,
                    true,
                    false,
                    vec![],
                    vec![],
                ),
                (
                    "ours stale pattern",
                    vec![stale_pattern.clone()],
                    mode,
                    true,
                    false,
                    vec![],
                    vec![],
                ),
                (
                    "ours stale role",
                    vec![stale_role.clone()],
                    mode,
                    true,
                    false,
                    vec![],
                    vec![],
                ),
                (
                    "ours stale distribution",
                    vec![stale_distribution.clone()],
                    mode,
                    true,
                    false,
                    vec![],
                    vec![],
                ),
                (
                    "duplicate alone",
                    vec![duplicate.clone()],
                    mode,
                    true,
                    true,
                    vec!["Destination"],
                    vec!["Destination"],
                ),
                (
                    "ours and a duplicate",
                    vec![ours(), duplicate.clone()],
                    mode,
                    false,
                    false,
                    vec![],
                    vec!["Destination"],
                ),
                (
                    "duplicate and a foreign",
                    vec![foreign_a.clone(), duplicate.clone()],
                    mode,
                    true,
                    true,
                    if mode == Keep {
                        vec!["Destination"]
                    } else {
                        vec!["Destination", "shipper"]
                    },
                    if mode == Replace {
                        vec!["Destination", "shipper"]
                    } else {
                        vec!["Destination"]
                    },
                ),
            ]);
        }
        // Rows whose expectations differ by mode.
        rows.extend([
            (
                "one foreign",
                vec![foreign_a.clone()],
                Replace,
                true,
                true,
                vec!["shipper"],
                vec!["shipper"],
            ),
            (
                "one foreign",
                vec![foreign_a.clone()],
                MakeRoom,
                true,
                true,
                vec!["shipper"],
                vec![],
            ),
            (
                "one foreign",
                vec![foreign_a.clone()],
                Keep,
                true,
                true,
                vec![],
                vec![],
            ),
            // Oldest first: datadog (5) before shipper (10).
            (
                "two foreign (full)",
                vec![foreign_a.clone(), foreign_b.clone()],
                Replace,
                true,
                true,
                vec!["datadog", "shipper"],
                vec!["datadog", "shipper"],
            ),
            (
                "two foreign (full)",
                vec![foreign_a.clone(), foreign_b.clone()],
                MakeRoom,
                true,
                true,
                vec!["datadog", "shipper"],
                vec![],
            ),
            (
                "two foreign (full)",
                vec![foreign_a.clone(), foreign_b.clone()],
                Keep,
                true,
                true,
                vec![],
                vec![],
            ),
            (
                "ours and one foreign",
                vec![ours(), foreign_a.clone()],
                Replace,
                false,
                false,
                vec![],
                vec!["shipper"],
            ),
            (
                "ours and one foreign",
                vec![ours(), foreign_a.clone()],
                MakeRoom,
                false,
                false,
                vec![],
                vec![],
            ),
            (
                "ours and one foreign",
                vec![ours(), foreign_a.clone()],
                Keep,
                false,
                false,
                vec![],
                vec![],
            ),
            (
                "ours stale and one foreign",
                vec![stale_dest.clone(), foreign_a.clone()],
                Replace,
                true,
                false,
                vec![],
                vec!["shipper"],
            ),
            (
                "ours stale and one foreign",
                vec![stale_dest.clone(), foreign_a.clone()],
                MakeRoom,
                true,
                false,
                vec![],
                vec![],
            ),
            (
                "ours stale and one foreign",
                vec![stale_dest, foreign_a],
                Keep,
                true,
                false,
                vec![],
                vec![],
            ),
        ]);
        rows
    }

    #[test]
    fn table() {
        for (case, existing, mode, puts, creates, evict, remove) in rows() {
            let p = plan(&existing, &desired(), mode);
            let label = format!("{case} / {mode}");
            assert_eq!(p.put.is_some(), puts, "{label}: puts ours");
            assert_eq!(p.creates, creates, "{label}: creates");
            assert_eq!(names(&p.evict_when_full), evict, "{label}: evict order");
            assert_eq!(names(&p.remove_after), remove, "{label}: remove after");
            assert_eq!(
                p.is_unchanged(),
                !puts && remove.is_empty(),
                "{label}: unchanged"
            );
            if let Some(put) = &p.put {
                assert_eq!(
                    put,
                    &desired().to_filter(),
                    "{label}: puts exactly the desired filter"
                );
            }
        }
    }

    #[test]
    fn removal_takes_ours_and_only_ours() {
        let same_name_elsewhere = filter("central-logging", OTHER, 2);
        let duplicate = filter("Destination", DEST, 3);
        let foreign = filter("shipper", OTHER, 4);
        let cases = [
            (vec![ours(), foreign.clone()], vec!["central-logging"]),
            (vec![ours(), duplicate.clone()], vec!["central-logging"]),
            (vec![same_name_elsewhere, foreign], vec![]),
            (vec![duplicate], vec![]),
            (vec![], vec![]),
        ];
        for (existing, removed) in cases {
            let p = removal(&existing, &desired());
            assert_eq!(names(&p.remove_after), removed, "{existing:?}");
            assert!(p.put.is_none() && p.evict_when_full.is_empty());
        }
    }
}
