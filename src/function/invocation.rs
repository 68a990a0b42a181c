//! What the function was invoked with, read once at the edge into one typed [`Invocation`]. The
//! payload is raw JSON, read leniently: whatever is not for this function (another API call, a
//! failed call, another account or Region, a malformed payload of any shape) is
//! [`Invocation::NotOurs`] with the reason, never an error (a typed event that failed to
//! deserialize would make Lambda retry a payload that can never succeed).

use serde_json::Value;

use crate::decision::LogGroup;
use crate::names::{FunctionArn, LogGroupName};
use crate::sweep::request::SweepRequest;
use crate::sweep::stack::CustomResourceRequest;

/// One invocation, by what it asks of the function.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// CloudTrail reported a successful `CreateLogGroup` in this account and Region.
    Created(LogGroup),
    /// Sweep the account: the schedule, or a sweep continuing where the last invocation stopped.
    Sweep(SweepRequest),
    /// CloudFormation's request for the stack's custom resource.
    Stack(CustomResourceRequest),
    /// The next slice of the stack's removal, and the request it answers when it ends.
    Removal(SweepRequest, CustomResourceRequest),
    /// Nothing for this function to do: the group the payload names, if any, and why.
    NotOurs {
        log_group_name: Option<String>,
        reason: String,
    },
}

impl Invocation {
    /// Reads a payload the function `function` was invoked with.
    pub fn parse(payload: &Value, function: &FunctionArn) -> Self {
        let not_ours = |reason: String| Self::NotOurs {
            log_group_name: payload
                .pointer("/detail/requestParameters/logGroupName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            reason,
        };
        let Some(envelope) = payload.as_object() else {
            return not_ours(format!("not an event object (got {})", kind(payload)));
        };
        if envelope.contains_key("RequestType") {
            return match CustomResourceRequest::read(payload) {
                Ok(request) => Self::Stack(request),
                Err(reason) => not_ours(reason),
            };
        }
        if let Some(request) = SweepRequest::from_payload(payload) {
            return match request {
                Ok(request) => match request
                    .custom_resource
                    .as_ref()
                    .map(CustomResourceRequest::read)
                {
                    None => Self::Sweep(request),
                    Some(Ok(stack)) => Self::Removal(request, stack),
                    Some(Err(reason)) => not_ours(reason),
                },
                Err(reason) => not_ours(reason),
            };
        }
        let text = |key: &str| envelope.get(key).and_then(Value::as_str);
        match (text("source"), text("detail-type")) {
            (Some("aws.events"), Some("Scheduled Event")) => Self::Sweep(SweepRequest::default()),
            (_, Some("AWS API Call via CloudTrail")) => match read_api_call(payload, function) {
                Ok(group) => Self::Created(group),
                Err(reason) => not_ours(reason),
            },
            (_, Some(other)) => not_ours(format!(
                "not a CloudTrail API call event (detail-type {other:?})"
            )),
            (_, None) => not_ours("not a CloudTrail API call event (no detail-type)".into()),
        }
    }
}

/// Reads an EventBridge "AWS API Call via CloudTrail" event: `Ok` for a successful
/// `CreateLogGroup` in `function`'s account and Region, with what the event says of the group;
/// otherwise the reason to skip it.
fn read_api_call(event: &Value, function: &FunctionArn) -> Result<LogGroup, String> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let Some(detail) = event.get("detail").and_then(Value::as_object) else {
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
            return Err(format!(
                "the CreateLogGroup call failed ({})",
                as_text(code)
            ));
        }
    }
    let account = text(event.get("account")).or_else(|| text(detail.get("recipientAccountId")));
    match account {
        Some(a) if a == function.account().as_str() => {}
        Some(a) => {
            return Err(format!(
                "event is for account {a}, this function serves {}",
                function.account()
            ));
        }
        None => return Err("malformed event: no account".into()),
    }
    let region = text(event.get("region")).or_else(|| text(detail.get("awsRegion")));
    match region {
        Some(r) if r == function.region() => {}
        Some(r) => {
            return Err(format!(
                "event is for Region {r}, this function serves {}",
                function.region()
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
    let class = params
        .get("logGroupClass")
        .filter(|class| !class.is_null())
        .map(as_text);
    Ok(LogGroup {
        name,
        class,
        account: Some(function.account().clone()),
    })
}

/// A JSON value as text: a string as it is, anything else as JSON.
fn as_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
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
    use crate::decision::{Decision, Goal, decide};
    use crate::selection::Selection;
    use crate::sweep::request::CONTINUATION_KEY;
    use serde_json::json;

    fn function() -> FunctionArn {
        FunctionArn::parse("arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe")
            .expect("valid ARN")
    }

    fn event() -> Value {
        let text = include_str!("../../events/create-log-group.json");
        serde_json::from_str(text).expect("fixture is JSON")
    }

    /// The group a CreateLogGroup event names, or the reason it is not ours.
    fn created(event: &Value) -> Result<LogGroup, String> {
        match Invocation::parse(event, &function()) {
            Invocation::Created(group) => Ok(group),
            Invocation::NotOurs { reason, .. } => Err(reason),
            other => panic!("not an event answer: {other:?}"),
        }
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
        let got = created(&event()).expect("acted on");
        assert_eq!(got.name.as_str(), "/aws/lambda/orders-api");
    }

    #[test]
    fn falls_back_to_detail_for_account_and_region() {
        let e = without(without(event(), "/account"), "/region");
        assert!(created(&e).is_ok());
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
                // A scheduled event from elsewhere than EventBridge's scheduler.
                json!({"detail-type": "Scheduled Event", "source": "example.scheduler"}),
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
            let reason = created(&e).expect_err(case);
            assert!(reason.contains(expected), "{case}: {reason}");
        }
    }

    #[test]
    fn log_group_class() {
        // The event carries the class; the decision skips what cannot hold a filter.
        let decided = |e: &Value| {
            let group = created(e).expect("a CreateLogGroup");
            match decide(&group, &Selection::everything(), Goal::Subscribe) {
                Decision::Skip { reason } => Err(reason),
                _ => Ok(()),
            }
        };
        let ia = with(
            event(),
            "/detail/requestParameters",
            json!({"logGroupName": "/x", "logGroupClass": "INFREQUENT_ACCESS"}),
        );
        let reason = decided(&ia).expect_err("IA skipped");
        assert_eq!(
            reason,
            "log group class INFREQUENT_ACCESS cannot have subscription filters"
        );
        let delivery = with(
            ia.clone(),
            "/detail/requestParameters/logGroupClass",
            json!("DELIVERY"),
        );
        assert!(decided(&delivery).is_err());
        let standard = with(
            ia,
            "/detail/requestParameters/logGroupClass",
            json!("STANDARD"),
        );
        assert!(decided(&standard).is_ok());
    }

    #[test]
    fn sweep_requests() {
        let scheduled = json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(
            Invocation::parse(&scheduled, &function()),
            Invocation::Sweep(SweepRequest::default())
        );
        let next = SweepRequest {
            next_token: Some("t".into()),
            ..SweepRequest::default()
        };
        assert_eq!(
            Invocation::parse(&next.payload(), &function()),
            Invocation::Sweep(next)
        );
        for other in [
            event(),
            Value::Null,
            json!({"source": "aws.events"}),
            json!({CONTINUATION_KEY: 3}),
        ] {
            assert!(
                !matches!(Invocation::parse(&other, &function()), Invocation::Sweep(_)),
                "{other}"
            );
        }
    }

    #[test]
    fn our_own_payloads_are_typed() {
        let request = json!({
            "RequestType": "Delete", "ResponseURL": "https://example", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "Sweep",
        });
        let Invocation::Stack(stack) = Invocation::parse(&request, &function()) else {
            panic!("a stack request")
        };
        let removal = SweepRequest {
            remove: true,
            custom_resource: Some(request.clone()),
            ..SweepRequest::default()
        };
        assert_eq!(
            Invocation::parse(&removal.payload(), &function()),
            Invocation::Removal(removal, stack)
        );
        let broken = json!({"RequestType": "Delete"});
        assert!(matches!(
            Invocation::parse(&broken, &function()),
            Invocation::NotOurs { .. }
        ));
    }
}
