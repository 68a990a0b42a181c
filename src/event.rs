//! Reading what the function is invoked with. The payload is raw JSON, read leniently: anything that
//! is not a successful CloudTrail `CreateLogGroup` for this function's own account and Region is a
//! reason to skip, never an error (a typed event that failed to deserialize would make Lambda retry
//! a payload that can never succeed).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::apply::Tally;
use crate::names::{AccountId, LogGroupName};

/// The account and Region the function serves, from its invoked ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionIdentity {
    pub account: AccountId,
    pub region: String,
}

impl FunctionIdentity {
    /// From `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
    pub fn from_function_arn(arn: &str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", _, "lambda", region, account, "function", _name, ..] if !region.is_empty() => {
                Ok(Self {
                    account: AccountId::parse(account)
                        .map_err(|e| format!("invoked function ARN {arn:?}: {e}"))?,
                    region: (*region).to_owned(),
                })
            }
            _ => Err(format!("{arn:?} is not a Lambda function ARN")),
        }
    }
}

/// A log group the event asks us to subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedLogGroup {
    pub name: LogGroupName,
}

/// A request to sweep the account: the stack's schedule, the custom resource, or a sweep continuing
/// where the previous invocation stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepRequest {
    /// The DescribeLogGroups token to continue from; `None` starts a sweep.
    pub next_token: Option<String>,
    /// Take our filter off every group instead of subscribing (the stack is being deleted).
    pub remove: bool,
    /// The CloudFormation request to answer when the sweep ends.
    pub custom_resource: Option<Value>,
    /// When the sweep's first invocation began, epoch milliseconds; `None` until one has.
    pub started_at_ms: Option<u64>,
    /// What the sweep's earlier invocations did, so its last one can report the whole sweep.
    pub so_far: Tally,
}

/// The key of a sweep payload:
/// `{"autoSubscribeSweep": {"nextToken", "remove", "customResource", "startedAtMs", "soFar"}}`.
pub const CONTINUATION_KEY: &str = "autoSubscribeSweep";

impl SweepRequest {
    /// The request for the invocation after this one: from `next_token`, with `slice` counted.
    pub fn continued(&self, started_at_ms: u64, slice: &Tally, next_token: &str) -> Self {
        Self {
            next_token: Some(next_token.to_owned()),
            remove: self.remove,
            custom_resource: self.custom_resource.clone(),
            started_at_ms: Some(started_at_ms),
            so_far: self.so_far.plus(slice),
        }
    }

    /// The payload that carries this request to an invocation.
    pub fn payload(&self) -> Value {
        json!({ CONTINUATION_KEY: {
            "nextToken": self.next_token,
            "remove": self.remove,
            "customResource": self.custom_resource,
            "startedAtMs": self.started_at_ms,
            "soFar": self.so_far,
        }})
    }
}

/// A scheduled event (`"source": "aws.events"`, `"detail-type": "Scheduled Event"`) starts a sweep;
/// a continuation payload continues one. Anything else is not a sweep request.
pub fn read_sweep(event: &Value) -> Option<SweepRequest> {
    let envelope = event.as_object()?;
    let text = |key: &str| envelope.get(key).and_then(Value::as_str);
    if text("source") == Some("aws.events") && text("detail-type") == Some("Scheduled Event") {
        return Some(SweepRequest::default());
    }
    let sweep = envelope.get(CONTINUATION_KEY)?.as_object()?;
    Some(SweepRequest {
        next_token: sweep
            .get("nextToken")
            .and_then(Value::as_str)
            .map(str::to_owned),
        remove: sweep
            .get("remove")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        custom_resource: sweep
            .get("customResource")
            .filter(|v| v.is_object())
            .cloned(),
        started_at_ms: sweep.get("startedAtMs").and_then(Value::as_u64),
        so_far: sweep
            .get("soFar")
            .and_then(|v| Tally::deserialize(v).ok())
            .unwrap_or_default(),
    })
}

/// Reads an EventBridge "AWS API Call via CloudTrail" event. `Ok` for a successful `CreateLogGroup`
/// of a STANDARD group in `identity`'s account and Region; otherwise the reason to skip it.
pub fn read_create_log_group(
    event: &Value,
    identity: &FunctionIdentity,
) -> Result<CreatedLogGroup, String> {
    let Some(envelope) = event.as_object() else {
        return Err(format!("not an event object (got {})", kind(event)));
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let detail_type = text(envelope.get("detail-type"));
    if detail_type.as_deref() != Some("AWS API Call via CloudTrail") {
        return Err(match detail_type {
            Some(t) => format!("not a CloudTrail API call event (detail-type {t:?})"),
            None => "not a CloudTrail API call event (no detail-type)".into(),
        });
    }
    let Some(detail) = envelope.get("detail").and_then(Value::as_object) else {
        return Err("malformed event: no detail object".into());
    };
    let source = text(detail.get("eventSource"));
    let name = text(detail.get("eventName"));
    if source.as_deref() != Some("logs.amazonaws.com") || name.as_deref() != Some("CreateLogGroup")
    {
        return Err(format!(
            "not a CreateLogGroup call (eventSource {}, eventName {})",
            source.as_deref().unwrap_or("missing"),
            name.as_deref().unwrap_or("missing")
        ));
    }
    match detail.get("errorCode") {
        None | Some(Value::Null) => {}
        Some(code) => {
            let code = code
                .as_str()
                .map_or_else(|| code.to_string(), str::to_owned);
            return Err(format!("the CreateLogGroup call failed ({code})"));
        }
    }
    let account = text(envelope.get("account")).or_else(|| text(detail.get("recipientAccountId")));
    match account {
        Some(a) if a == identity.account.as_str() => {}
        Some(a) => {
            return Err(format!(
                "event is for account {a}, this function serves {}",
                identity.account
            ));
        }
        None => return Err("malformed event: no account".into()),
    }
    let region = text(envelope.get("region")).or_else(|| text(detail.get("awsRegion")));
    match region {
        Some(r) if r == identity.region => {}
        Some(r) => {
            return Err(format!(
                "event is for Region {r}, this function serves {}",
                identity.region
            ));
        }
        None => return Err("malformed event: no region".into()),
    }
    let Some(params) = detail.get("requestParameters").and_then(Value::as_object) else {
        return Err("malformed event: no requestParameters".into());
    };
    let Some(group) = params.get("logGroupName").and_then(Value::as_str) else {
        return Err("malformed event: no requestParameters.logGroupName string".into());
    };
    let name = LogGroupName::parse(group).map_err(|e| format!("malformed event: {e}"))?;
    match params.get("logGroupClass") {
        None | Some(Value::Null) => {}
        Some(Value::String(class)) if class == "STANDARD" => {}
        Some(class) => {
            let class = class
                .as_str()
                .map_or_else(|| class.to_string(), str::to_owned);
            return Err(format!(
                "log group class {class} cannot have subscription filters"
            ));
        }
    }
    Ok(CreatedLogGroup { name })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity() -> FunctionIdentity {
        FunctionIdentity::from_function_arn(
            "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe",
        )
        .expect("valid ARN")
    }

    fn event() -> Value {
        let text = include_str!("../events/create-log-group.json");
        serde_json::from_str(text).expect("fixture is JSON")
    }

    /// Sets (or adds) the field at `pointer`.
    fn with(mut event: Value, pointer: &str, value: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
        match event.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.insert(key.to_owned(), value);
            }
            _ => panic!("test pointer {pointer} has no object parent"),
        }
        event
    }

    fn without(mut event: Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
        if let Some(Value::Object(map)) = event.pointer_mut(parent) {
            map.remove(key);
        }
        event
    }

    #[test]
    fn the_fixture_is_a_create_log_group() {
        let got = read_create_log_group(&event(), &identity()).expect("acted on");
        assert_eq!(got.name.as_str(), "/aws/lambda/orders-api");
    }

    #[test]
    fn falls_back_to_detail_for_account_and_region() {
        let e = without(without(event(), "/account"), "/region");
        assert!(read_create_log_group(&e, &identity()).is_ok());
    }

    #[test]
    fn everything_else_is_a_reason_to_skip() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("null", Value::Null, "not an event object (got null)"),
            ("array", json!([1, 2]), "not an event object"),
            ("string", json!("CreateLogGroup"), "not an event object"),
            ("empty object", json!({}), "no detail-type"),
            (
                "scheduled",
                json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
                "Scheduled Event",
            ),
            (
                "detail not object",
                with(event(), "/detail", json!("x")),
                "no detail object",
            ),
            (
                "other API call",
                with(event(), "/detail/eventName", json!("DeleteLogGroup")),
                "eventName DeleteLogGroup",
            ),
            (
                "other service",
                with(event(), "/detail/eventSource", json!("s3.amazonaws.com")),
                "not a CreateLogGroup",
            ),
            (
                "event name wrong type",
                with(event(), "/detail/eventName", json!(7)),
                "eventName missing",
            ),
            (
                "failed call",
                with(
                    event(),
                    "/detail/errorCode",
                    json!("ResourceAlreadyExistsException"),
                ),
                "failed (ResourceAlreadyExistsException)",
            ),
            (
                "other account",
                with(event(), "/account", json!("222222222222")),
                "account 222222222222",
            ),
            (
                "other region",
                with(event(), "/region", json!("eu-west-1")),
                "Region eu-west-1",
            ),
            (
                "no account",
                without(without(event(), "/account"), "/detail/recipientAccountId"),
                "no account",
            ),
            (
                "no params",
                with(event(), "/detail/requestParameters", Value::Null),
                "no requestParameters",
            ),
            (
                "name null",
                with(
                    event(),
                    "/detail/requestParameters/logGroupName",
                    Value::Null,
                ),
                "logGroupName",
            ),
            (
                "name number",
                with(event(), "/detail/requestParameters/logGroupName", json!(12)),
                "logGroupName",
            ),
            (
                "name illegal",
                with(
                    event(),
                    "/detail/requestParameters/logGroupName",
                    json!("a b"),
                ),
                "contains ' '",
            ),
            (
                "name empty",
                with(event(), "/detail/requestParameters/logGroupName", json!("")),
                "1 to 512",
            ),
        ];
        for (case, e, expected) in cases {
            let reason = read_create_log_group(&e, &identity()).expect_err(case);
            assert!(reason.contains(expected), "{case}: {reason}");
        }
    }

    #[test]
    fn log_group_class() {
        let ia = with(
            event(),
            "/detail/requestParameters",
            json!({"logGroupName": "/x", "logGroupClass": "INFREQUENT_ACCESS"}),
        );
        let reason = read_create_log_group(&ia, &identity()).expect_err("IA skipped");
        assert_eq!(
            reason,
            "log group class INFREQUENT_ACCESS cannot have subscription filters"
        );
        let delivery = with(
            ia.clone(),
            "/detail/requestParameters/logGroupClass",
            json!("DELIVERY"),
        );
        assert!(read_create_log_group(&delivery, &identity()).is_err());
        let standard = with(
            ia,
            "/detail/requestParameters/logGroupClass",
            json!("STANDARD"),
        );
        assert!(read_create_log_group(&standard, &identity()).is_ok());
    }

    #[test]
    fn sweep_requests() {
        let scheduled = json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(read_sweep(&scheduled), Some(SweepRequest::default()));
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
        let read = read_sweep(&next.payload()).expect("a sweep");
        assert_eq!(read, next);
        assert_eq!(
            (read.next_token.as_deref(), read.started_at_ms),
            (Some("token-2"), Some(1_700_000_000_000))
        );
        assert_eq!((read.so_far.total, read.so_far.unsubscribed), (50, 7));
        assert!(read.remove && read.custom_resource.is_some());
        // A third invocation adds its slice to the first's.
        let third = read.continued(1_700_000_000_000, &slice, "token-3");
        assert_eq!(third.so_far.total, 100);
        // An older payload without the new keys still reads.
        let old = json!({CONTINUATION_KEY: {"nextToken": "t", "remove": false}});
        let read = read_sweep(&old).expect("a sweep");
        assert_eq!((read.started_at_ms, read.so_far), (None, Tally::default()));
        for other in [
            event(),
            Value::Null,
            json!({"source": "aws.events"}),
            json!({CONTINUATION_KEY: 3}),
        ] {
            assert_eq!(read_sweep(&other), None, "{other}");
        }
    }

    #[test]
    fn function_identity() {
        let id = FunctionIdentity::from_function_arn(
            "arn:aws:lambda:eu-west-1:123456789012:function:f:live",
        )
        .expect("qualified ARN");
        assert_eq!(id.region, "eu-west-1");
        assert_eq!(id.account.as_str(), "123456789012");
        assert!(FunctionIdentity::from_function_arn("").is_err());
        assert!(
            FunctionIdentity::from_function_arn("arn:aws:lambda:us-east-1:12:function:f").is_err()
        );
    }
}
