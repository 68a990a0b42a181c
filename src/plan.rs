//! The plan for one log group: from the subscription filters it has and the filter we want, the
//! writes to make and their order. Pure: no I/O, so every case is a row in a table test.
//!
//! The order keeps a group from ever holding less than it had when a call fails half way: ours is put
//! first while there is room and the others are removed after. Only when the put answers that the
//! group is full (`LimitExceededException`: the per-group limit is not hard-coded, it has been 1 and is
//! 2 today) is a filter removed before the put, one at a time from [`FilterPlan::evict_when_full`].

use crate::names::{DestinationArn, FilterName, RoleArn};
use crate::settings::{Distribution, ExistingFilters, Settings};

/// A subscription filter as DescribeSubscriptionFilters reports it, or as we put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub name: String,
    pub destination_arn: String,
    pub filter_pattern: String,
    pub role_arn: Option<String>,
    pub distribution: Option<String>,
    /// Milliseconds since the epoch; orders "oldest first" when room must be made.
    pub creation_time: Option<i64>,
}

/// The filter this tool wants on every selected group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFilter {
    pub name: FilterName,
    pub destination: DestinationArn,
    pub pattern: String,
    pub role: Option<RoleArn>,
    pub distribution: Option<Distribution>,
}

impl DesiredFilter {
    pub fn new(settings: &Settings, destination: DestinationArn) -> Self {
        Self {
            name: settings.filter_name.clone(),
            destination,
            pattern: settings.filter_pattern.clone(),
            role: settings.role_arn.clone(),
            distribution: settings.distribution,
        }
    }

    /// True when `existing` already is this filter: same destination, pattern, role and distribution.
    /// An unset distribution is AWS's default, `ByLogStream`.
    pub fn matches(&self, existing: &SubscriptionFilter) -> bool {
        let wanted_distribution = self
            .distribution
            .unwrap_or(Distribution::ByLogStream)
            .as_str();
        existing.name == self.name.as_str()
            && existing.destination_arn == self.destination.as_str()
            && existing.filter_pattern == self.pattern
            && existing.role_arn.as_deref().filter(|r| !r.is_empty())
                == self.role.as_ref().map(RoleArn::as_str)
            && existing.distribution.as_deref().unwrap_or("ByLogStream") == wanted_distribution
    }

    /// The filter as PutSubscriptionFilter takes it.
    pub fn to_filter(&self) -> SubscriptionFilter {
        SubscriptionFilter {
            name: self.name.as_str().to_owned(),
            destination_arn: self.destination.as_str().to_owned(),
            filter_pattern: self.pattern.clone(),
            role_arn: self.role.as_ref().map(|r| r.as_str().to_owned()),
            distribution: self.distribution.map(|d| d.as_str().to_owned()),
            creation_time: None,
        }
    }
}

/// The writes for one group, in the order [`crate::apply`] carries them out:
/// 1. put `put` (if any); while it answers "group full", remove the next of `evict_when_full` and
///    put again; if none is left, the group cannot take ours (restore what was removed);
/// 2. remove every filter of `remove_after` that step 1 did not already remove.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterPlan {
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
    pub fn is_unchanged(&self) -> bool {
        self.put.is_none() && self.remove_after.is_empty()
    }
}

/// Plans the writes that bring one group from `existing` to having `desired`, under `mode`.
///
/// A filter under another name that points at our destination is a duplicate (seed 003 named its
/// filter `Destination`): it would double every event, so it goes in every mode.
pub fn plan(
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
        _ => Some(desired.to_filter()),
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
pub fn removal(existing: &[SubscriptionFilter], desired: &DesiredFilter) -> FilterPlan {
    let ours = |f: &&SubscriptionFilter| {
        f.name == desired.name.as_str() && f.destination_arn == desired.destination.as_str()
    };
    FilterPlan {
        remove_after: existing.iter().filter(ours).cloned().collect(),
        ..FilterPlan::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{DEST, desired};
    use crate::settings::ExistingFilters::{Keep, MakeRoom, Replace};

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
    fn desired_settings_are_what_is_put() {
        let d = DesiredFilter {
            pattern: "{ $.level = \"ERROR\" }".into(),
            role: Some(RoleArn::parse("arn:aws:iam::111111111111:role/cwl").expect("valid")),
            distribution: Some(Distribution::Random),
            ..desired()
        };
        let f = d.to_filter();
        assert_eq!(f.filter_pattern, "{ $.level = \"ERROR\" }");
        assert_eq!(
            f.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/cwl")
        );
        assert_eq!(f.distribution.as_deref(), Some("Random"));
        assert!(d.matches(&f), "a filter put from the settings matches them");
        assert!(!desired().matches(&f));
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

    #[test]
    fn unset_distribution_means_by_log_stream() {
        let mut f = ours();
        f.distribution = None;
        assert!(desired().matches(&f));
        let random = DesiredFilter {
            distribution: Some(Distribution::Random),
            ..desired()
        };
        assert!(!random.matches(&f));
    }
}
