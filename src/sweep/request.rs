//! What a sweep invocation carries from one invocation to the next: where the listing stopped,
//! the groups to try again, what the sweep has done so far, and how many times it has been handed
//! on. Read and written with serde, as `{"autoSubscribeSweep": {...}}`.
//!
//! Anyone who may invoke the function can write one, so nothing in it is trusted for a
//! destructive action: a sweep request only ever subscribes or converges. A removal is a request
//! that carries the stack's Delete request, and the stack's lifecycle confirms with
//! CloudFormation, slice by slice, that the stack is being deleted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloudformation::CustomResourceRequest;
use crate::outcome::Tally;

/// A chain of invocations may hand on this many times whatever its size...
pub(crate) const BASE_HOPS: u64 = 10;
/// ...plus one per this many groups listed. A slice lists hundreds of groups, so a real sweep
/// stays far below the bound, while a chain that lists the same page again and again (a bug),
/// or lists nothing, reaches it within a few dozen hops.
pub(crate) const GROUPS_PER_HOP: u64 = 100;
/// At most this many groups whose calls kept being throttled are carried to the next invocation;
/// the rest are counted as failed.
pub(crate) const MAX_CARRIED: usize = 1000;

/// The key of a sweep order, as the schedules send it: `{"sweep": {}}` for a full sweep,
/// `{"sweep": {"createdWithinSeconds": N}}` for the groups created in the last N seconds,
/// `{"sweep": {"changedWithinSeconds": N}}` for the groups CloudTrail's event history says were
/// changed in the last N seconds (a catch-up).
pub(crate) const ORDER_KEY: &str = "sweep";

/// The key of a sweep payload:
/// `{"autoSubscribeSweep": {"nextToken", "customResource", "startedAtMs", "soFar", "hops", "retry", "createdWithinSeconds", "changedWithinSeconds", "changes"}}`.
pub(crate) const CONTINUATION_KEY: &str = "autoSubscribeSweep";

/// A request to sweep the account: a new sweep, or one continuing where the previous invocation
/// stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SweepRequest {
    /// The DescribeLogGroups token to continue from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Groups, by name, the previous invocation had no time left for: read again from AWS and
    /// handled first by the next. Only names: what decides a write is read from AWS.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "carried_names"
    )]
    pub retry: Vec<String>,
    /// For a stack's removal, the CloudFormation request to answer when the sweep ends. The sweep
    /// carries it without acting on it; the stack's lifecycle does, once it is admitted again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_resource: Option<CustomResourceRequest>,
    /// When the sweep's first invocation began, epoch milliseconds; `None` until one has.
    pub started_at_ms: Option<u64>,
    /// What the sweep's earlier invocations did, so its last one can report the whole sweep.
    pub so_far: Tally,
    /// How many times the sweep has been handed on (see [`Self::past_hop_limit`]).
    pub hops: u64,
    /// A recent-groups sweep: only groups created within this many seconds of the sweep's start
    /// are checked. `None`: a full sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_within_seconds: Option<u64>,
    /// A catch-up: only the groups CloudTrail's event history names in a change call made within
    /// this many seconds of the sweep's start. Its first invocation looks them up; the next ones
    /// only carry what it had no time for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_within_seconds: Option<u64>,
    /// A catch-up's changes of the groups in `retry`, as its first invocation read them from the
    /// event history, so the invocation that reaches a group can still tell a lost event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<CarriedChange>,
}

/// One change a catch-up carries on with its group: a cue for the `event lost` line and the
/// `LostEvents` metric, never for a write (what decides a write is read from AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarriedChange {
    /// The group's name.
    pub name: String,
    /// CloudTrail's `eventName`.
    pub call: String,
    /// CloudTrail's `EventTime`, epoch milliseconds.
    pub at_ms: u64,
}

/// What a schedule orders: `{"sweep": {"createdWithinSeconds"? | "changedWithinSeconds"?}}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Order {
    #[serde(default)]
    created_within_seconds: Option<u64>,
    #[serde(default)]
    changed_within_seconds: Option<u64>,
}

/// Which kind of sweep, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepKind {
    Full,
    Recent,
    /// A catch-up from CloudTrail's event history.
    Changed,
    /// The stack's removal.
    Removal,
}

impl SweepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Recent => "recent",
            Self::Changed => "changed",
            Self::Removal => "removal",
        }
    }
}

/// The payload around a [`SweepRequest`].
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<T> {
    #[serde(rename = "autoSubscribeSweep")]
    sweep: T,
}

impl SweepRequest {
    /// The request for the invocation after this one: from `next_token` (none when the listing
    /// ended), with `slice` counted and `retry` to try again first.
    pub fn continued(
        &self,
        started_at_ms: u64,
        slice: &Tally,
        next_token: Option<&str>,
        mut retry: Vec<String>,
    ) -> Self {
        let mut so_far = self.so_far.plus(slice);
        if retry.len() > MAX_CARRIED {
            let dropped = (retry.len() - MAX_CARRIED) as u64;
            retry.truncate(MAX_CARRIED);
            so_far.total += dropped;
            so_far.failed += dropped;
        }
        Self {
            next_token: next_token.map(str::to_owned),
            retry,
            // A catch-up's slice says them again for what it carries ([`Self::carrying`]).
            changes: Vec::new(),
            started_at_ms: Some(started_at_ms),
            so_far,
            hops: self.hops.saturating_add(1),
            ..self.clone()
        }
    }

    /// This request with `changes` as the changes of the groups it carries (a catch-up's).
    pub fn carrying(mut self, changes: impl Fn(&str) -> Option<CarriedChange>) -> Self {
        self.changes = self.retry.iter().filter_map(|name| changes(name)).collect();
        self
    }

    /// A full sweep, or one of the groups created in the last `seconds` (none: full).
    pub fn new(created_within_seconds: Option<u64>) -> Self {
        Self {
            created_within_seconds,
            ..Self::default()
        }
    }

    /// A catch-up over the last `seconds`.
    pub fn changed_within(seconds: u64) -> Self {
        Self {
            changed_within_seconds: Some(seconds),
            ..Self::default()
        }
    }

    pub fn kind(&self) -> SweepKind {
        match (self.changed_within_seconds, self.created_within_seconds) {
            (Some(_), _) => SweepKind::Changed,
            (None, Some(_)) => SweepKind::Recent,
            (None, None) => SweepKind::Full,
        }
    }

    /// For a recent-groups sweep, the instant (epoch milliseconds) before which groups are not
    /// checked: the window counts back from the sweep's first invocation.
    pub fn created_after_ms(&self, started_at_ms: u64) -> Option<u64> {
        self.created_within_seconds
            .map(|seconds| started_at_ms.saturating_sub(seconds.saturating_mul(1000)))
    }

    /// Whether this request continues a sweep an earlier invocation began.
    pub fn is_continuation(&self) -> bool {
        self.started_at_ms.is_some()
    }

    /// Whether the listing already reached its end: a continuation with no token to list from
    /// only handles `retry`.
    pub fn listing_done(&self) -> bool {
        self.is_continuation() && self.next_token.is_none()
    }

    /// How many hand-ons a sweep that has listed what this one has may take.
    pub fn hop_limit(&self) -> u64 {
        BASE_HOPS + self.so_far.total / GROUPS_PER_HOP
    }

    /// Whether the chain has been handed on more often than any real sweep of its size would be:
    /// it is stopped, so that a bug can never loop forever.
    pub fn past_hop_limit(&self) -> bool {
        self.hops > self.hop_limit()
    }

    /// The payload that carries this request to an invocation.
    pub fn payload(&self) -> Value {
        serde_json::to_value(Envelope { sweep: self }).unwrap_or(Value::Null)
    }

    /// Reads a payload's request: `None` when it carries none, `Err` when it carries a malformed one.
    pub fn from_payload(payload: &Value) -> Option<Result<Self, String>> {
        if let Some(order) = payload.get(ORDER_KEY) {
            let order = Order::deserialize(order)
                .map_err(|e| format!("malformed sweep order: {e}"))
                .and_then(|order| {
                    match (order.created_within_seconds, order.changed_within_seconds) {
                        (Some(_), Some(_)) => Err("malformed sweep order: createdWithinSeconds \
                                                   and changedWithinSeconds are two kinds of \
                                                   sweep; give one"
                            .into()),
                        (Some(0), None) => Err(
                            "malformed sweep order: createdWithinSeconds must be at least 1".into(),
                        ),
                        (None, Some(0)) => Err(
                            "malformed sweep order: changedWithinSeconds must be at least 1".into(),
                        ),
                        (None, Some(seconds)) => Ok(Self::changed_within(seconds)),
                        (within, None) => Ok(Self::new(within)),
                    }
                });
            return Some(order);
        }
        payload.get(CONTINUATION_KEY)?;
        Some(
            Envelope::<Self>::deserialize(payload)
                .map(|envelope| envelope.sweep.within_bounds())
                .map_err(|e| format!("malformed sweep request: {e}")),
        )
    }

    /// The request cut to what one invocation can do: at most [`MAX_CARRIED`] carried groups.
    fn within_bounds(mut self) -> Self {
        if self.retry.len() > MAX_CARRIED {
            tracing::warn!(
                carried = self.retry.len(),
                kept = MAX_CARRIED,
                "a continuation carried more groups than a slice can handle; the rest wait for a full sweep"
            );
            self.retry.truncate(MAX_CARRIED);
        }
        self
    }
}

/// The carried groups' names: as names, or as the listing entries continuations once carried,
/// of which only the name is kept.
fn carried_names<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Carried {
        Name(String),
        Listed { name: String },
    }
    let carried = Vec::<Carried>::deserialize(deserializer)?;
    Ok(carried
        .into_iter()
        .map(|c| match c {
            Carried::Name(name) | Carried::Listed { name } => name,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(payload: &Value) -> Option<SweepRequest> {
        SweepRequest::from_payload(payload).and_then(Result::ok)
    }

    #[test]
    fn a_continuation_carries_the_sweep_across_invocations() {
        let delete: Value = serde_json::from_str(include_str!(
            "../../events/stack/custom-resource-delete.json"
        ))
        .expect("fixture is JSON");
        let removal = SweepRequest {
            custom_resource: Some(CustomResourceRequest::read(&delete).expect("a request")),
            ..Default::default()
        };
        let slice = Tally {
            total: 50,
            unsubscribed: 7,
            ..Tally::default()
        };
        let next = removal.continued(1_700_000_000_000, &slice, Some("token-2"), vec![]);
        let read_back = read(&next.payload()).expect("a sweep");
        assert_eq!(read_back, next);
        assert_eq!(
            (read_back.next_token.as_deref(), read_back.started_at_ms),
            (Some("token-2"), Some(1_700_000_000_000))
        );
        assert_eq!(
            (read_back.so_far.total, read_back.so_far.unsubscribed),
            (50, 7)
        );
        assert_eq!(
            read_back.custom_resource, removal.custom_resource,
            "carried typed"
        );
        assert!(read_back.is_continuation());
        // A third invocation adds its slice to the first's.
        let third = read_back.continued(1_700_000_000_000, &slice, Some("token-3"), vec![]);
        assert_eq!((third.so_far.total, third.hops), (100, 2));
        // The last listing page is followed by an invocation for the groups to try again.
        let retry = vec!["/throttled".to_owned()];
        let last = third.continued(1_700_000_000_000, &slice, None, retry.clone());
        let read_back = read(&last.payload()).expect("a sweep");
        assert_eq!(
            (
                read_back.next_token.clone(),
                read_back.listing_done(),
                read_back.retry
            ),
            (None, true, retry)
        );
    }

    #[test]
    fn a_chain_stops_past_a_bound_set_by_what_it_listed() {
        let at = |hops: u64, listed: u64| SweepRequest {
            hops,
            so_far: Tally {
                total: listed,
                ..Tally::default()
            },
            ..SweepRequest::default()
        };
        assert!(!at(10, 0).past_hop_limit());
        assert!(at(11, 0).past_hop_limit(), "a chain that lists nothing");
        // A real sweep lists ~600 groups a slice: 100,000 groups take ~170 hops.
        assert!(!at(170, 100_000).past_hop_limit());
        // A chain listing one page of 50 again and again falls behind its bound.
        let mut looping = at(0, 0);
        let mut stopped_at = None;
        for hop in 0..100 {
            looping = looping.continued(
                1,
                &Tally {
                    total: 50,
                    ..Tally::default()
                },
                Some("same"),
                vec![],
            );
            if looping.past_hop_limit() {
                stopped_at = Some(hop);
                break;
            }
        }
        assert!(stopped_at.is_some_and(|hop| hop < 25), "{stopped_at:?}");
    }

    #[test]
    fn sweep_orders_say_which_kind_and_continuations_keep_it() {
        let full = read(&json!({ORDER_KEY: {}})).expect("an order");
        assert_eq!(
            (full.kind(), full.created_after_ms(10_000)),
            (SweepKind::Full, None)
        );
        let recent = read(&json!({ORDER_KEY: {"createdWithinSeconds": 2100}})).expect("an order");
        assert_eq!(recent.kind(), SweepKind::Recent);
        assert_eq!(recent.created_after_ms(3_000_000), Some(900_000));
        let next = recent.continued(3_000_000, &Tally::default(), Some("t"), vec![]);
        let next = read(&next.payload()).expect("a continuation");
        assert_eq!(
            (next.kind(), next.created_after_ms(3_000_000)),
            (SweepKind::Recent, Some(900_000))
        );
        let changed = read(&json!({ORDER_KEY: {"changedWithinSeconds": 2700}})).expect("an order");
        assert_eq!(
            (
                changed.kind(),
                changed.changed_within_seconds,
                changed.created_after_ms(1)
            ),
            (SweepKind::Changed, Some(2700), None)
        );
        let change = |name: &str| CarriedChange {
            name: name.into(),
            call: "CreateLogGroup".into(),
            at_ms: 1_000,
        };
        let next = changed
            .continued(
                3_000_000,
                &Tally::default(),
                None,
                vec!["/a".into(), "/b".into()],
            )
            .carrying(|name| (name == "/a").then(|| change(name)));
        let next = read(&next.payload()).expect("a continuation");
        assert_eq!(
            (next.kind(), next.listing_done(), next.changes.clone()),
            (SweepKind::Changed, true, vec![change("/a")])
        );
        // A group no longer carried takes its change with it.
        let last = next.continued(3_000_000, &Tally::default(), None, vec!["/b".into()]);
        assert!(last.changes.is_empty(), "{:?}", last.changes);
        for bad in [
            json!({ORDER_KEY: {"changedWithinSeconds": 0}}),
            json!({ORDER_KEY: {"changedWithinSeconds": 60, "createdWithinSeconds": 60}}),
            json!({ORDER_KEY: {"createdWithinSeconds": 0}}),
            json!({ORDER_KEY: {"createdWithinSeconds": "1h"}}),
            json!({ORDER_KEY: {"createdWithin": 60}}),
            json!({ORDER_KEY: 3}),
        ] {
            assert!(
                matches!(SweepRequest::from_payload(&bad), Some(Err(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn older_payloads_read_and_others_are_not_sweeps() {
        // An older payload without the newer keys still reads.
        let old = json!({CONTINUATION_KEY: {"nextToken": "t", "remove": true}});
        let read_back = read(&old).expect("a sweep");
        assert_eq!(
            (
                read_back.started_at_ms,
                read_back.so_far,
                read_back.custom_resource
            ),
            (None, Tally::default(), None),
            "the remove flag of an older payload is not read: it alone removes nothing"
        );
        for other in [Value::Null, json!({"source": "aws.events"}), json!([1])] {
            assert!(SweepRequest::from_payload(&other).is_none(), "{other}");
        }
        let malformed = SweepRequest::from_payload(&json!({CONTINUATION_KEY: 3}));
        assert!(matches!(malformed, Some(Err(_))), "{malformed:?}");
    }

    #[test]
    fn a_continuation_carries_names_only_and_no_more_than_a_slice_can_do() {
        // What an older continuation carried: the listing's facts, of which only the name is read.
        let older = json!({CONTINUATION_KEY: {"startedAtMs": 1, "retry": [
            {"name": "/a", "class": "STANDARD", "arn": "arn:aws:logs:us-east-1:111111111111:log-group:/b:*", "createdMs": 5},
            "/c",
        ]}});
        let read_back = read(&older).expect("a continuation");
        assert_eq!(read_back.retry, ["/a", "/c"]);
        let written = read_back.payload();
        assert_eq!(
            written[CONTINUATION_KEY]["retry"],
            json!(["/a", "/c"]),
            "names only"
        );
        // A forged continuation carrying more than a slice can do is cut when it is read.
        let names: Vec<String> = (0..5000).map(|i| format!("/g/{i}")).collect();
        let forged = json!({CONTINUATION_KEY: {"startedAtMs": 1, "retry": names}});
        assert_eq!(
            read(&forged).expect("a continuation").retry.len(),
            MAX_CARRIED
        );
        let malformed = json!({CONTINUATION_KEY: {"retry": [{"class": "STANDARD"}]}});
        assert!(matches!(
            SweepRequest::from_payload(&malformed),
            Some(Err(_))
        ));
    }
}
