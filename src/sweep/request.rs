//! What a sweep invocation carries from one invocation to the next: where the listing stopped,
//! what the sweep has done so far, and whether it removes. Read and written with serde, as
//! `{"autoSubscribeSweep": {...}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outcome::Tally;

/// The key of a sweep payload:
/// `{"autoSubscribeSweep": {"nextToken", "remove", "customResource", "startedAtMs", "soFar"}}`.
pub const CONTINUATION_KEY: &str = "autoSubscribeSweep";

/// A request to sweep the account: a new sweep, or one continuing where the previous invocation
/// stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SweepRequest {
    /// The DescribeLogGroups token to continue from; `None` starts a sweep.
    pub next_token: Option<String>,
    /// Take our filter off every group instead of subscribing (the stack is being deleted).
    pub remove: bool,
    /// For a stack's removal, the CloudFormation request to answer when the sweep ends. The sweep
    /// carries it without reading it; the stack code does.
    pub custom_resource: Option<Value>,
    /// When the sweep's first invocation began, epoch milliseconds; `None` until one has.
    pub started_at_ms: Option<u64>,
    /// What the sweep's earlier invocations did, so its last one can report the whole sweep.
    pub so_far: Tally,
}

/// The payload around a [`SweepRequest`].
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<T> {
    #[serde(rename = "autoSubscribeSweep")]
    sweep: T,
}

impl SweepRequest {
    /// The request for the invocation after this one: from `next_token`, with `slice` counted.
    pub fn continued(&self, started_at_ms: u64, slice: &Tally, next_token: &str) -> Self {
        Self {
            next_token: Some(next_token.to_owned()),
            started_at_ms: Some(started_at_ms),
            so_far: self.so_far.plus(slice),
            ..self.clone()
        }
    }

    /// The payload that carries this request to an invocation.
    pub fn payload(&self) -> Value {
        serde_json::to_value(Envelope { sweep: self }).unwrap_or(Value::Null)
    }

    /// Reads a payload's request: `None` when it carries none, `Err` when it carries a malformed one.
    pub fn from_payload(payload: &Value) -> Option<Result<Self, String>> {
        payload.get(CONTINUATION_KEY)?;
        Some(
            Envelope::<Self>::deserialize(payload)
                .map(|envelope| envelope.sweep)
                .map_err(|e| format!("malformed sweep request: {e}")),
        )
    }
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
        let removal = SweepRequest {
            remove: true,
            custom_resource: Some(json!({"RequestId": "r"})),
            ..Default::default()
        };
        let slice = Tally {
            total: 50,
            unsubscribed: 7,
            ..Tally::default()
        };
        let next = removal.continued(1_700_000_000_000, &slice, "token-2");
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
        assert!(read_back.remove && read_back.custom_resource.is_some());
        // A third invocation adds its slice to the first's.
        let third = read_back.continued(1_700_000_000_000, &slice, "token-3");
        assert_eq!(third.so_far.total, 100);
    }

    #[test]
    fn older_payloads_read_and_others_are_not_sweeps() {
        // An older payload without the newer keys still reads.
        let old = json!({CONTINUATION_KEY: {"nextToken": "t", "remove": false}});
        let read_back = read(&old).expect("a sweep");
        assert_eq!(
            (read_back.started_at_ms, read_back.so_far),
            (None, Tally::default())
        );
        for other in [Value::Null, json!({"source": "aws.events"}), json!([1])] {
            assert!(SweepRequest::from_payload(&other).is_none(), "{other}");
        }
        let malformed = SweepRequest::from_payload(&json!({CONTINUATION_KEY: 3}));
        assert!(matches!(malformed, Some(Err(_))), "{malformed:?}");
    }
}
