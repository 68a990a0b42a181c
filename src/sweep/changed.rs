//! The catch-up: which groups CloudTrail's event history says were changed in a window (a
//! creation, a subscription filter put or deleted, a tag change), each once, with its latest
//! change. Reading what changed is O(changes) where listing is O(groups), and the event history
//! records every management call of the account and Region for 90 days, with or without a
//! trail. The groups are then reconciled by the [`super::engine`] as carried groups are: each read
//! again from AWS. A group the catch-up had to write to, whose change is older than
//! [`LOST_AFTER`], is an event the pipeline lost ([`lost`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::request::CarriedChange;
use crate::aws::{ApiError, Aws};
use crate::names::LogGroupName;
use crate::trail::{CHANGE_CALLS, Change, OwnSession, change_in};

/// How long CloudTrail's events take to reach the function normally: a group still needing a
/// write this long after its change missed its event. CloudTrail delivers management events to
/// EventBridge and the event history within minutes (typically about five); AWS gives no bound.
pub const LOST_AFTER: Duration = Duration::from_secs(15 * 60);

/// The window a catch-up reads, epoch milliseconds, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Window {
    /// The `seconds` before `end_ms`.
    pub fn before(end_ms: u64, seconds: u64) -> Self {
        Self {
            start_ms: end_ms.saturating_sub(seconds.saturating_mul(1000)),
            end_ms,
        }
    }
}

/// The groups a window's change calls name, each with its latest change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    latest: BTreeMap<String, Change>,
    /// Events read, kept or not.
    pub events: u64,
    /// Events left out: failed calls, the function's own, other resources, malformed records.
    pub left_out: u64,
    /// LookupEvents calls made.
    pub lookups: u64,
}

impl Changes {
    fn add(&mut self, change: Change) {
        let name = change.group.as_str().to_owned();
        match self.latest.get(&name) {
            Some(known) if known.at_ms >= change.at_ms => {}
            _ => {
                self.latest.insert(name, change);
            }
        }
    }

    /// The groups, by name, each once.
    pub fn groups(&self) -> Vec<String> {
        self.latest.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The latest change of `group`.
    pub fn of(&self, group: &str) -> Option<&Change> {
        self.latest.get(group)
    }

    /// The latest change of `group`, to carry on with it to the next invocation.
    pub fn carried(&self, group: &str) -> Option<CarriedChange> {
        self.of(group).map(|change| CarriedChange {
            name: change.group.as_str().to_owned(),
            call: change.call.clone(),
            at_ms: change.at_ms,
        })
    }

    /// The changes an earlier invocation of the catch-up carried on. Only cues: one whose name
    /// is not a log group name, or whose call is not a change call, is left out.
    pub fn from_carried(carried: &[CarriedChange]) -> Self {
        let mut changes = Self::default();
        for change in carried {
            let Ok(group) = LogGroupName::parse(&change.name) else {
                continue;
            };
            if CHANGE_CALLS.contains(&change.call.as_str()) {
                changes.add(Change {
                    group,
                    call: change.call.clone(),
                    at_ms: change.at_ms,
                });
            }
        }
        changes
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Looked {
    Changes(Changes),
    /// More than `limit` groups changed: more than a catch-up carries.
    TooMany {
        at_least: usize,
    },
}

/// Reads the window's change calls from the event history (one LookupEvents per call name and
/// page, paced by the adapter), leaving out failed calls and `own` session's calls. Stops once
/// more than `limit` groups are named.
pub async fn look_up(
    aws: &impl Aws,
    window: Window,
    own: Option<&OwnSession<'_>>,
    limit: usize,
) -> Result<Looked, ApiError> {
    let mut changes = Changes::default();
    for name in CHANGE_CALLS {
        let mut next_token = None;
        loop {
            let page = aws
                .lookup_events(name, window.start_ms, window.end_ms, next_token)
                .await?;
            changes.lookups += 1;
            for event in page.events {
                changes.events += 1;
                match change_in(&event.record, event.time_ms, own) {
                    Ok(change) => changes.add(change),
                    Err(_) => changes.left_out += 1,
                }
            }
            if changes.len() > limit {
                return Ok(Looked::TooMany {
                    at_least: changes.len(),
                });
            }
            match page.next_token {
                Some(token) => next_token = Some(token),
                None => break,
            }
        }
    }
    Ok(Looked::Changes(changes))
}

/// The changes whose group the catch-up had to write to (`written`), made at least
/// [`LOST_AFTER`] before `now_ms`: events the pipeline lost.
pub fn lost<'a>(changes: &'a Changes, written: &[String], now_ms: u64) -> Vec<&'a Change> {
    let lost_after = u64::try_from(LOST_AFTER.as_millis()).unwrap_or(u64::MAX);
    written
        .iter()
        .filter_map(|group| changes.of(group))
        .filter(|change| change.at_ms.saturating_add(lost_after) <= now_ms)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::TrailEvent;
    use crate::aws::fake::{Call, FakeAws};
    use crate::names::FunctionArn;
    use serde_json::json;

    fn event(name: &str, group: &str, at_ms: u64, caller: &str) -> TrailEvent {
        TrailEvent {
            time_ms: at_ms,
            record: json!({
                "eventSource": "logs.amazonaws.com",
                "eventName": name,
                "awsRegion": "us-east-1",
                "recipientAccountId": "111111111111",
                "userIdentity": {"arn": caller},
                "requestParameters": {"logGroupName": group},
            })
            .to_string(),
        }
    }

    const PERSON: &str = "arn:aws:sts::111111111111:assumed-role/Admin/alice";
    const OURS: &str = "arn:aws:sts::111111111111:assumed-role/role/auto-subscribe";

    #[tokio::test]
    async fn each_group_once_with_its_latest_change_across_pages_and_calls() {
        let aws = FakeAws::default();
        for (name, group, at) in [
            ("CreateLogGroup", "/app/a", 100),
            ("DeleteSubscriptionFilter", "/app/a", 300),
            ("PutSubscriptionFilter", "/app/a", 200),
            ("CreateLogGroup", "/app/b", 150),
            ("CreateLogGroup", "/app/c", 160),
            ("CreateLogGroup", "/app/d", 170),
            // Outside the window.
            ("CreateLogGroup", "/app/old", 10),
        ] {
            aws.add_trail_event(name, event(name, group, at, PERSON));
        }
        aws.add_trail_event(
            "PutSubscriptionFilter",
            event("PutSubscriptionFilter", "/app/ours", 250, OURS),
        );
        let function =
            FunctionArn::parse("arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe")
                .expect("valid");
        let own = OwnSession {
            function: &function,
            role: None,
        };
        let window = Window {
            start_ms: 50,
            end_ms: 1_000,
        };
        let Looked::Changes(changes) = look_up(&aws, window, Some(&own), 100).await.expect("read")
        else {
            panic!("within the limit")
        };
        assert_eq!(changes.groups(), ["/app/a", "/app/b", "/app/c", "/app/d"]);
        let a = changes.of("/app/a").expect("changed");
        assert_eq!(
            (a.call.as_str(), a.at_ms),
            ("DeleteSubscriptionFilter", 300)
        );
        assert_eq!((changes.events, changes.left_out), (7, 1));
        // One call per call name, and one more for CreateLogGroup's second page (two a page).
        assert_eq!(aws.count("lookup-events"), 8);
        assert_eq!(changes.lookups, 8);
        let names: Vec<String> = aws
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::LookupEvents { event_name } => Some(event_name),
                _ => None,
            })
            .collect();
        for call in CHANGE_CALLS {
            assert!(names.iter().any(|n| n == call), "{call} looked up");
        }

        // More groups than a catch-up carries: it says so and stops.
        let Looked::TooMany { at_least } = look_up(&aws, window, None, 2).await.expect("read")
        else {
            panic!("past the limit")
        };
        assert!(at_least > 2);
    }

    #[test]
    fn a_write_long_after_the_change_is_a_lost_event() {
        let mut changes = Changes::default();
        let minute = 60_000;
        let now = 100 * minute;
        for (group, at) in [
            ("/old", now - 20 * minute),
            ("/fresh", now - 2 * minute),
            ("/fine", now - 30 * minute),
        ] {
            changes.add(Change {
                group: crate::names::LogGroupName::parse(group).expect("valid"),
                call: "CreateLogGroup".into(),
                at_ms: at,
            });
        }
        let written = vec!["/old".to_owned(), "/fresh".to_owned()];
        let lost: Vec<&str> = lost(&changes, &written, now)
            .iter()
            .map(|c| c.group.as_str())
            .collect();
        // `/fresh`'s event may still be on its way; `/fine` needed no write.
        assert_eq!(lost, ["/old"]);
    }
}
