//! Repairs without an off switch. A hand deletion of our filter is undone every time: nobody short
//! of deleting the stack switches central logging off. The one limit is for two *writers* undoing
//! each other: a tool that puts its own filter for a group (a second stack in `replace` mode with
//! another destination, say) and our repair, each triggering the other forever. After
//! [`MAX_REPAIRS`] writes of ours answering someone else's put within [`WINDOW`], the group is
//! paused: such changes are left alone, with a warning and a metric naming it. A paused group is
//! checked again by the first sweep after its pause ends (the frequent sweep, every 15 minutes by
//! default), so it is never left for the weekly one.
//!
//! Kept in memory: the stack runs one execution environment, so this sees every repair but those
//! of an environment that was recycled (which can only allow a few more).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::names::LogGroupName;

/// Writes of ours answering someone else's put, for one group, allowed within [`WINDOW`].
pub(crate) const MAX_REPAIRS: usize = 3;
pub(crate) const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
pub(crate) struct Repairs {
    done: Mutex<HashMap<LogGroupName, Vec<Instant>>>,
    /// Groups whose changes were left alone, to check again once their pause ends.
    paused: Mutex<Vec<LogGroupName>>,
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

    /// Counts a write of ours that answered someone else's put on `group`, at `now`.
    pub(crate) fn record(&self, group: &LogGroupName, now: Instant) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        done.entry(group.clone()).or_default().push(now);
    }

    /// Remembers that a change to `group` was left alone: it is checked again when the pause ends.
    pub(crate) fn pause(&self, group: &LogGroupName) {
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        if !paused.contains(group) {
            paused.push(group.clone());
        }
    }

    /// The paused groups whose pause has ended by `now`, to check again (each once).
    pub(crate) fn due(&self, now: Instant) -> Vec<LogGroupName> {
        let waiting: Vec<LogGroupName> = {
            let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *paused)
        };
        let (due, still): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(|group| !self.exhausted(group, now));
        self.paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(still);
        due
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

    #[test]
    fn a_paused_group_is_due_once_its_pause_ends_and_only_once() {
        let repairs = Repairs::default();
        let group = LogGroupName::parse("/contested").expect("valid");
        let start = Instant::now();
        for i in 0..MAX_REPAIRS {
            repairs.record(&group, start + Duration::from_secs(i as u64));
        }
        repairs.pause(&group);
        repairs.pause(&group);
        assert!(
            repairs.due(start + Duration::from_secs(600)).is_empty(),
            "still paused"
        );
        let ended = start + WINDOW + Duration::from_secs(60);
        assert_eq!(repairs.due(ended), [group]);
        assert!(repairs.due(ended).is_empty(), "checked once");
    }
}
