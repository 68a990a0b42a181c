//! How often the function has repaired each group lately. Two tools that each insist on their own
//! filter for a group (a second stack in `replace` mode with another destination, say) would undo
//! each other forever, each repair triggering the other's: after [`MAX_REPAIRS`] repairs of one
//! group within [`WINDOW`], the function stops repairing it and says so.
//!
//! Kept in memory: the stack runs one execution environment, so this sees every repair but those
//! of an environment that was recycled (which can only allow a few more).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::names::LogGroupName;

/// Repairs of one group allowed within [`WINDOW`].
pub(crate) const MAX_REPAIRS: usize = 3;
pub(crate) const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
pub(crate) struct Repairs {
    done: Mutex<HashMap<LogGroupName, Vec<Instant>>>,
}

impl Repairs {
    /// Whether `group` has had its [`MAX_REPAIRS`] within the window before `now`.
    pub(crate) fn exhausted(&self, group: &LogGroupName, now: Instant) -> bool {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what has left the window, for every group: the map stays small.
        done.retain(|_, times| {
            times.retain(|t| now.saturating_duration_since(*t) < WINDOW);
            !times.is_empty()
        });
        done.get(group)
            .is_some_and(|times| times.len() >= MAX_REPAIRS)
    }

    /// Counts a repair of `group` at `now`.
    pub(crate) fn record(&self, group: &LogGroupName, now: Instant) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        done.entry(group.clone()).or_default().push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_repaired_too_often_within_the_hour_is_left_until_the_hour_passes() {
        let repairs = Repairs::default();
        let group = LogGroupName::parse("/contested").expect("valid");
        let other = LogGroupName::parse("/other").expect("valid");
        let start = Instant::now();
        for i in 0..MAX_REPAIRS {
            assert!(!repairs.exhausted(&group, start), "repair {i}");
            repairs.record(&group, start + Duration::from_secs(i as u64));
        }
        assert!(repairs.exhausted(&group, start + Duration::from_secs(60)));
        assert!(
            !repairs.exhausted(&other, start),
            "other groups are not held back"
        );
        assert!(!repairs.exhausted(
            &group,
            start + WINDOW + Duration::from_secs(MAX_REPAIRS as u64)
        ));
    }
}
