//! CloudTrail's record of one CloudWatch Logs call, as EventBridge delivers it (an event's
//! `detail`) and as CloudTrail's event history keeps it (LookupEvents' `CloudTrailEvent`): which
//! call, whether it succeeded, who made it, and which log group it names. Pure: the function's
//! events ([`crate::function::Invocation`]) and the catch-up sweep ([`crate::sweep::changed`])
//! read records here.

use serde_json::{Map, Value};

use crate::names::{Arn, FunctionArn, LogGroupName};

/// The calls that change what a group should hold, by CloudTrail's `eventName`: the ones the
/// stack's rule carries to the function, and the ones a catch-up looks up.
pub const CHANGE_CALLS: [&str; 7] = [
    "CreateLogGroup",
    "PutSubscriptionFilter",
    "DeleteSubscriptionFilter",
    "TagResource",
    "UntagResource",
    "TagLogGroup",
    "UntagLogGroup",
];

/// Which subscription filter call someone else made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterCall {
    /// `PutSubscriptionFilter`: a writer with a filter of its own (it may be fighting ours).
    Put,
    /// `DeleteSubscriptionFilter`: a filter taken off (ours, by hand, perhaps).
    Delete,
}

/// The CloudTrail calls this crate acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCall {
    CreateLogGroup,
    FilterChange(FilterCall),
    /// `TagResource`, `UntagResource`, `TagLogGroup` or `UntagLogGroup`.
    TagChange,
}

impl ApiCall {
    /// The call a record names: `Err` for any other source or name.
    pub fn of(source: Option<&str>, name: Option<&str>) -> Result<Self, String> {
        match (source, name) {
            (Some("logs.amazonaws.com"), Some("CreateLogGroup")) => Ok(Self::CreateLogGroup),
            (Some("logs.amazonaws.com"), Some("PutSubscriptionFilter")) => {
                Ok(Self::FilterChange(FilterCall::Put))
            }
            (Some("logs.amazonaws.com"), Some("DeleteSubscriptionFilter")) => {
                Ok(Self::FilterChange(FilterCall::Delete))
            }
            (
                Some("logs.amazonaws.com"),
                Some("TagResource" | "UntagResource" | "TagLogGroup" | "UntagLogGroup"),
            ) => Ok(Self::TagChange),
            _ => Err(format!(
                "not a CreateLogGroup, subscription filter or tag call (eventSource {}, eventName {})",
                source.unwrap_or("missing"),
                name.unwrap_or("missing")
            )),
        }
    }
}

/// The function's own CloudTrail identity: Lambda runs it as
/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/FUNCTION_NAME`.
#[derive(Debug, Clone, Copy)]
pub struct OwnSession<'a> {
    pub function: &'a FunctionArn,
    /// Its role's name, when the deployment says it (`FUNCTION_ROLE_NAME`).
    pub role: Option<&'a str>,
}

impl OwnSession<'_> {
    /// Whether a CloudTrail `userIdentity.arn` is this session.
    pub fn is(&self, caller: &str) -> bool {
        let function = self.function;
        let Ok(arn) = Arn::parse(caller) else {
            return false;
        };
        let Some((role, session)) = arn
            .resource
            .strip_prefix("assumed-role/")
            .and_then(|rest| rest.split_once('/'))
        else {
            return false;
        };
        arn.partition == function.partition()
            && arn.service == "sts"
            && arn.account == function.account().as_str()
            && session == function.name()
            && self.role.is_none_or(|own| own == role)
    }
}

/// The log group a call's `requestParameters` name: `logGroupName`, or for a tag call by ARN
/// (`TagResource`, `UntagResource`: `resourceArn`, `arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME`
/// with or without `:*`) a group of `account` and `region`; the reason to skip it otherwise
/// (other resources, such as destinations, are tagged with the same calls).
pub fn group_named(
    call: ApiCall,
    params: &Map<String, Value>,
    account: &str,
    region: &str,
) -> Result<LogGroupName, String> {
    match params.get("resourceArn") {
        Some(arn) if call == ApiCall::TagChange => tagged_group(&as_text(arn), account, region),
        _ => {
            let Some(group) = params.get("logGroupName").and_then(Value::as_str) else {
                return Err("malformed event: no requestParameters.logGroupName string".into());
            };
            LogGroupName::parse(group).map_err(|e| format!("malformed event: {e}"))
        }
    }
}

fn tagged_group(arn: &str, account: &str, region: &str) -> Result<LogGroupName, String> {
    let parsed = Arn::parse(arn).map_err(|e| format!("malformed event: {e}"))?;
    let Some(name) = parsed
        .resource
        .strip_prefix("log-group:")
        .filter(|_| parsed.service == "logs")
    else {
        return Err(format!(
            "the tags changed on {arn}, which is not a log group"
        ));
    };
    if parsed.account != account || parsed.region != region {
        return Err(format!(
            "the tags changed on {arn}, outside this function's account and Region"
        ));
    }
    let name = name.strip_suffix(":*").unwrap_or(name);
    LogGroupName::parse(name).map_err(|e| format!("malformed event: {e}"))
}

/// A record's `errorCode`, when the call failed.
pub fn error_code(record: &Map<String, Value>) -> Option<String> {
    match record.get("errorCode") {
        None | Some(Value::Null) => None,
        Some(code) => Some(as_text(code)),
    }
}

/// A JSON value as text: a string as it is, anything else as JSON.
pub fn as_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// One change a record in CloudTrail's event history says was made: the group, the call, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub group: LogGroupName,
    /// CloudTrail's `eventName`.
    pub call: String,
    /// CloudTrail's `EventTime`, epoch milliseconds.
    pub at_ms: u64,
}

/// The change a history record (`CloudTrailEvent`, JSON text) says was made, at `at_ms`: `Err`
/// with the reason to leave it out (a failed call, the function's own call, another call or
/// resource, a malformed record). LookupEvents answers only this account's and Region's events;
/// the record's own account and Region place a tag call's ARN.
pub fn change_in(record: &str, at_ms: u64, own: Option<&OwnSession<'_>>) -> Result<Change, String> {
    let record: Value =
        serde_json::from_str(record).map_err(|e| format!("malformed record: {e}"))?;
    let Some(record) = record.as_object() else {
        return Err("malformed record: not an object".into());
    };
    let text = |key: &str| record.get(key).and_then(Value::as_str);
    let name = text("eventName").unwrap_or_default().to_owned();
    let call = ApiCall::of(text("eventSource"), text("eventName"))?;
    if let Some(code) = error_code(record) {
        return Err(format!("the {name} call failed ({code})"));
    }
    let caller = record
        .get("userIdentity")
        .and_then(|u| u.get("arn"))
        .and_then(Value::as_str);
    if let (Some(own), Some(caller)) = (own, caller)
        && own.is(caller)
    {
        return Err(format!("the function's own {name} call"));
    }
    let Some(params) = record.get("requestParameters").and_then(Value::as_object) else {
        return Err("malformed record: no requestParameters".into());
    };
    let account = text("recipientAccountId").unwrap_or_default();
    let region = text("awsRegion").unwrap_or_default();
    let group = group_named(call, params, account, region)?;
    Ok(Change {
        group,
        call: name,
        at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "111111111111";

    #[test]
    fn every_change_call_a_catch_up_looks_up_is_one_the_function_acts_on() {
        for name in CHANGE_CALLS {
            assert!(
                ApiCall::of(Some("logs.amazonaws.com"), Some(name)).is_ok(),
                "{name}"
            );
        }
        assert!(ApiCall::of(Some("logs.amazonaws.com"), Some("DeleteLogGroup")).is_err());
    }

    fn record(name: &str, params: Value, caller: &str) -> String {
        json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "arn": caller},
            "eventSource": "logs.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "requestParameters": params,
            "recipientAccountId": ACCOUNT,
        })
        .to_string()
    }

    const PERSON: &str = "arn:aws:sts::111111111111:assumed-role/Admin/alice";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe";

    #[test]
    fn a_history_record_names_its_change_or_why_not() {
        let function = FunctionArn::parse(FUNCTION).expect("valid");
        let own = OwnSession {
            function: &function,
            role: Some("auto-subscribe-role"),
        };
        let ours = "arn:aws:sts::111111111111:assumed-role/auto-subscribe-role/auto-subscribe";
        let by_arn = json!({"resourceArn": "arn:aws:logs:us-east-1:111111111111:log-group:/app/t:*", "tags": {}});
        let rows: Vec<(String, Result<&str, &str>)> = vec![
            (
                record("CreateLogGroup", json!({"logGroupName": "/app/a"}), PERSON),
                Ok("/app/a"),
            ),
            (
                record(
                    "DeleteSubscriptionFilter",
                    json!({"logGroupName": "/app/b", "filterName": "central-logging"}),
                    PERSON,
                ),
                Ok("/app/b"),
            ),
            (record("TagResource", by_arn.clone(), PERSON), Ok("/app/t")),
            (
                record("TagLogGroup", json!({"logGroupName": "/app/t2"}), PERSON),
                Ok("/app/t2"),
            ),
            // The function's own filter writes are not changes to catch up on.
            (
                record(
                    "PutSubscriptionFilter",
                    json!({"logGroupName": "/app/c"}),
                    ours,
                ),
                Err("own"),
            ),
            (
                json!({
                    "eventSource": "logs.amazonaws.com", "eventName": "CreateLogGroup",
                    "errorCode": "ResourceAlreadyExistsException",
                    "requestParameters": {"logGroupName": "/app/d"},
                })
                .to_string(),
                Err("failed (ResourceAlreadyExistsException)"),
            ),
            (
                record(
                    "TagResource",
                    json!({"resourceArn": "arn:aws:logs:us-east-1:111111111111:destination:d"}),
                    PERSON,
                ),
                Err("not a log group"),
            ),
            (
                record("DescribeLogGroups", json!({}), PERSON),
                Err("not a CreateLogGroup"),
            ),
            ("[1]".into(), Err("not an object")),
        ];
        for (text, expected) in rows {
            let got = change_in(&text, 7, Some(&own));
            match (got, expected) {
                (Ok(change), Ok(group)) => {
                    assert_eq!(change.group.as_str(), group);
                    assert_eq!(change.at_ms, 7);
                }
                (Err(reason), Err(part)) => assert!(reason.contains(part), "{reason}"),
                (got, expected) => panic!("{text}: {got:?}, expected {expected:?}"),
            }
        }
        // Without a function (backfill), every successful call counts.
        let theirs = record(
            "PutSubscriptionFilter",
            json!({"logGroupName": "/app/c"}),
            ours,
        );
        assert!(change_in(&theirs, 1, None).is_ok());
    }
}
