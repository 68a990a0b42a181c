//! What the function was invoked with, read once at the edge into one typed [`Invocation`]. The
//! payload is raw JSON, read leniently: whatever is not for this function (another API call, a
//! failed call, another account or Region, a malformed payload of any shape) is
//! [`Invocation::NotOurs`] with the reason, never an error (a typed event that failed to
//! deserialize would make Lambda retry a payload that can never succeed).

use serde_json::Value;

use super::runtime::Environment;
use crate::cloudformation::CustomResourceRequest;
use crate::group::{KnownTags, LogGroup, Tags};
use crate::names::FunctionArn;
use crate::stack::StackRequest;
use crate::sweep::request::SweepRequest;
pub use crate::trail::FilterCall;
use crate::trail::{ApiCall, OwnSession, as_text, error_code, group_named};

/// Who the function is, as far as reading a payload goes: its ARN, and what the environment
/// said at init (the stack it belongs to, `STACK_ID`; its role's name, `FUNCTION_ROLE_NAME`, which
/// CloudTrail shows on the calls it makes itself; the SDK's endpoints, for the response URL).
#[derive(Debug, Clone, Copy)]
pub struct Deployment<'a> {
    pub function: &'a FunctionArn,
    pub env: &'a Environment,
}

impl Deployment<'_> {
    /// A CloudFormation request the function may act on and answer, or the reason to refuse it.
    fn admit(&self, request: CustomResourceRequest) -> Result<StackRequest, String> {
        StackRequest::admit(request, self.env.stack_id.as_deref(), &self.env.endpoints)
    }

    /// Whether a CloudTrail `userIdentity.arn` is this function's own session.
    fn is_own_session(&self, caller: &str) -> bool {
        self.own_session().is(caller)
    }

    /// The function's own CloudTrail identity.
    pub fn own_session(&self) -> OwnSession<'_> {
        OwnSession {
            function: self.function,
            role: self.env.role_name.as_deref(),
        }
    }
}

/// One invocation, by what it asks of the function.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// CloudTrail reported a successful `CreateLogGroup` in this account and Region.
    Created(LogGroup),
    /// Someone else changed a group's subscription filters (a successful `PutSubscriptionFilter`
    /// or `DeleteSubscriptionFilter`, which one said): the group is reconciled again, so a central
    /// filter deleted, re-pointed or muted by hand is back within seconds.
    FiltersChanged(LogGroup, FilterCall),
    /// Someone changed a group's tags (a successful `TagResource`, `UntagResource`, `TagLogGroup`
    /// or `UntagLogGroup`): with tag rules set, the group is converged again, its tags read from
    /// AWS (the event's word is not taken for them).
    TagsChanged(LogGroup),
    /// Sweep the account: the schedule, or a sweep continuing where the last invocation stopped.
    Sweep(SweepRequest),
    /// CloudFormation's request for the stack's custom resource, admitted.
    Stack(Box<StackRequest>),
    /// The next slice of the stack's removal, and the request it answers when it ends (admitted
    /// again: a continuation is anyone's payload).
    Removal(SweepRequest, Box<StackRequest>),
    /// A request the function will not act on or answer, though it looks like one of its own: a
    /// custom resource request from another stack, or with a response URL it may not PUT to.
    Refused(String),
    /// Nothing for this function to do: the group the payload names, if any, and why.
    NotOurs {
        log_group_name: Option<String>,
        reason: String,
    },
}

impl Invocation {
    /// Reads a payload the function `me` was invoked with.
    pub fn parse(payload: &Value, me: &Deployment<'_>) -> Self {
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
                Ok(request) => match me.admit(request) {
                    Ok(admitted) => Self::Stack(Box::new(admitted)),
                    Err(reason) => Self::Refused(reason),
                },
                Err(reason) => not_ours(reason),
            };
        }
        if let Some(request) = SweepRequest::from_payload(payload) {
            return match request {
                Ok(request) => match request.custom_resource.clone() {
                    None => Self::Sweep(request),
                    Some(stack) => match me.admit(stack) {
                        Ok(admitted) => Self::Removal(request, Box::new(admitted)),
                        Err(reason) => Self::Refused(reason),
                    },
                },
                Err(reason) => not_ours(reason),
            };
        }
        let text = |key: &str| envelope.get(key).and_then(Value::as_str);
        match (text("source"), text("detail-type")) {
            (Some("aws.events"), Some("Scheduled Event")) => Self::Sweep(SweepRequest::default()),
            (_, Some("AWS API Call via CloudTrail")) => match read_api_call(payload, me) {
                Ok((ApiCall::CreateLogGroup, group)) => Self::Created(group),
                Ok((ApiCall::FilterChange(call), group)) => Self::FiltersChanged(group, call),
                Ok((ApiCall::TagChange, group)) => Self::TagsChanged(group),
                Err(reason) => not_ours(reason),
            },
            (_, Some(other)) => not_ours(format!(
                "not a CloudTrail API call event (detail-type {other:?})"
            )),
            (_, None) => not_ours("not a CloudTrail API call event (no detail-type)".into()),
        }
    }
}

/// Reads an EventBridge "AWS API Call via CloudTrail" event: `Ok` for a successful call the
/// function acts on, in `me`'s account and Region and not made by `me`, with what the event says
/// of the group; otherwise the reason to skip it.
fn read_api_call(event: &Value, me: &Deployment<'_>) -> Result<(ApiCall, LogGroup), String> {
    let function = me.function;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let Some(detail) = event.get("detail").and_then(Value::as_object) else {
        return Err("malformed event: no detail object".into());
    };
    let source = text(detail.get("eventSource"));
    let name = text(detail.get("eventName"));
    let call = ApiCall::of(source.as_deref(), name.as_deref())?;
    let name = name.unwrap_or_default();
    if let Some(code) = error_code(detail) {
        return Err(format!("the {name} call failed ({code})"));
    }
    let caller = event
        .pointer("/detail/userIdentity/arn")
        .and_then(Value::as_str);
    if matches!(call, ApiCall::FilterChange(_)) && caller.is_some_and(|arn| me.is_own_session(arn))
    {
        return Err(format!("the function's own {name} call"));
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
    let name = group_named(call, params, function.account().as_str(), function.region())?;
    let class = params
        .get("logGroupClass")
        .filter(|class| !class.is_null())
        .map(as_text);
    // A new group's tags as the event claims them (a cue, see `KnownTags::Claimed`); a tag
    // change's event is only a cue to read them.
    let tags = match call {
        ApiCall::CreateLogGroup => params
            .get("tags")
            .and_then(read_tags)
            .map_or(KnownTags::Unknown, KnownTags::Claimed),
        ApiCall::FilterChange(_) | ApiCall::TagChange => KnownTags::Unknown,
    };
    Ok((
        call,
        LogGroup {
            arn: Some(function.log_group_arn(&name)),
            name,
            class,
            account: Some(function.account().clone()),
            created_ms: None,
            tags,
        },
    ))
}

/// CreateLogGroup's `tags`: an object of strings. Anything else (`null`, another type, a value that
/// is not a string) holds no usable tags: they are then unknown, and read from AWS if needed.
fn read_tags(value: &Value) -> Option<Tags> {
    value
        .as_object()?
        .iter()
        .map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect()
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
    use crate::decision::{Decision, Goal, Rules, decide};
    use crate::settings::RawSettings;
    use crate::sweep::request::CONTINUATION_KEY;
    use serde_json::json;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:111111111111:stack/logs/1";
    const RESPONSE_URL: &str =
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=s";

    /// What the tests' stack sets: its ID and the function's role name.
    fn env() -> Environment {
        Environment {
            stack_id: Some(STACK.into()),
            role_name: Some("logs-FunctionRole-1".into()),
            ..Environment::default()
        }
    }

    /// The tests' function, deployed with `env` (leaked: a test's deployment lives as long as it).
    fn deployed(env: Environment) -> Deployment<'static> {
        let function =
            FunctionArn::parse("arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe")
                .expect("valid ARN");
        Deployment {
            function: Box::leak(Box::new(function)),
            env: Box::leak(Box::new(env)),
        }
    }

    fn function() -> Deployment<'static> {
        deployed(env())
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

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    #[test]
    fn a_new_group_carries_its_arn_and_the_tags_it_was_created_with() {
        let got = created(&event()).expect("acted on");
        assert_eq!(
            got.tagging_arn(),
            Some("arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/orders-api")
        );
        assert_eq!(
            got.tags,
            KnownTags::Unknown,
            "no tags in the event: unknown, to be read"
        );
        let got = created(&fixture(include_str!(
            "../../events/create-log-group-with-tags.json"
        )))
        .expect("acted on");
        let KnownTags::Claimed(tags) = &got.tags else {
            panic!("the event's tags, as a claim: {got:?}")
        };
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tags, [("data-class", "audit"), ("team", "platform")]);
        let empty = with(event(), "/detail/requestParameters/tags", json!({}));
        assert_eq!(
            created(&empty).expect("acted on").tags,
            KnownTags::Claimed(Tags::new())
        );
        // Tags the event cannot say: no usable tags, and the group is still handled.
        for unusable in [
            json!(null),
            json!({"team": 1}),
            json!({"team": null}),
            json!("team"),
            json!([]),
        ] {
            let odd = with(event(), "/detail/requestParameters/tags", unusable.clone());
            let got = created(&odd).unwrap_or_else(|e| panic!("{unusable}: {e}"));
            assert_eq!(got.tags, KnownTags::Unknown, "{unusable}");
        }
    }

    #[test]
    fn tag_changes_name_the_group_by_arn_or_name() {
        for text in [
            include_str!("../../events/tag-resource.json"),
            include_str!("../../events/untag-resource.json"),
            include_str!("../../events/tag-log-group.json"),
            include_str!("../../events/untag-log-group.json"),
        ] {
            let event = fixture(text);
            let Invocation::TagsChanged(group) = Invocation::parse(&event, &function()) else {
                panic!("a tag change: {event}")
            };
            assert_eq!(group.name.as_str(), "/aws/lambda/orders-api");
            assert_eq!(
                group.tags,
                KnownTags::Unknown,
                "the event's tags are not taken"
            );
        }
        let tag = fixture(include_str!("../../events/tag-resource.json"));
        let arn = "/detail/requestParameters/resourceArn";
        let skips = [
            (
                with(
                    tag.clone(),
                    arn,
                    json!("arn:aws:logs:us-east-1:111111111111:destination:central"),
                ),
                "not a log group",
            ),
            (
                with(
                    tag.clone(),
                    arn,
                    json!("arn:aws:logs:us-east-1:222222222222:log-group:/x"),
                ),
                "outside this function's account and Region",
            ),
            (
                with(
                    tag.clone(),
                    arn,
                    json!("arn:aws:logs:eu-west-1:111111111111:log-group:/x"),
                ),
                "outside this function's account and Region",
            ),
            (with(tag.clone(), arn, json!("log-group:/x")), "not an ARN"),
            (
                with(tag.clone(), "/detail/errorCode", json!("AccessDenied")),
                "failed",
            ),
        ];
        for (event, why) in skips {
            match Invocation::parse(&event, &function()) {
                Invocation::NotOurs { reason, .. } => assert!(reason.contains(why), "{reason}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        let suffixed = with(
            tag,
            arn,
            json!("arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/orders-api:*"),
        );
        assert!(matches!(
            Invocation::parse(&suffixed, &function()),
            Invocation::TagsChanged(_)
        ));
    }

    #[test]
    fn falls_back_to_detail_for_account_and_region() {
        let e = without(without(event(), "/account"), "/region");
        let group = created(&e).expect("account and Region from the detail");
        assert_eq!(group.name.as_str(), "/aws/lambda/orders-api");
        assert_eq!(
            group.account.as_ref().map(|a| a.as_str()),
            Some("111111111111")
        );
        // The detail's word is checked like the envelope's.
        let other_account = with(
            e.clone(),
            "/detail/recipientAccountId",
            json!("222222222222"),
        );
        let reason = created(&other_account).expect_err("another account");
        assert!(reason.contains("account 222222222222"), "{reason}");
        let other_region = with(e, "/detail/awsRegion", json!("eu-west-1"));
        let reason = created(&other_region).expect_err("another Region");
        assert!(reason.contains("Region eu-west-1"), "{reason}");
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
            let rules = Rules::new(
                &RawSettings::default().parse().expect("defaults are valid"),
                Goal::Subscribe,
            );
            match decide(&group, &rules) {
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
        // The stack's schedules send a sweep order; a bare scheduled event (a schedule without
        // Input) means the same full sweep.
        for payload in [
            include_str!("../../events/stack/sweep-order.json"),
            include_str!("../../events/stack/scheduled-event.json"),
        ] {
            assert_eq!(
                Invocation::parse(&fixture(payload), &function()),
                Invocation::Sweep(SweepRequest::default()),
                "{payload}"
            );
        }
        let recent = fixture(include_str!("../../events/stack/recent-sweep-order.json"));
        assert_eq!(
            Invocation::parse(&recent, &function()),
            Invocation::Sweep(SweepRequest::new(Some(2100)))
        );
        let continuation = fixture(include_str!("../../events/stack/sweep-continuation.json"));
        let Invocation::Sweep(request) = Invocation::parse(&continuation, &function()) else {
            panic!("a continuation")
        };
        assert_eq!(
            (
                request.next_token.as_deref(),
                request.hops,
                request.so_far.total
            ),
            (Some("2"), 1, 50)
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

    fn stack_request(stack_id: &str, url: &str) -> Value {
        json!({
            "RequestType": "Delete", "ResponseURL": url, "StackId": stack_id,
            "RequestId": "r", "LogicalResourceId": "Sweep",
        })
    }

    #[test]
    fn our_own_payloads_are_typed() {
        let request = stack_request(STACK, RESPONSE_URL);
        let Invocation::Stack(stack) = Invocation::parse(&request, &function()) else {
            panic!("a stack request")
        };
        let removal = SweepRequest {
            custom_resource: Some(stack.request.clone()),
            ..SweepRequest::default()
        };
        assert_eq!(
            Invocation::parse(&removal.payload(), &function()),
            Invocation::Removal(removal, stack)
        );
        // CloudFormation's own requests, as the fixtures hold them.
        for (payload, kind) in [
            (
                include_str!("../../events/stack/custom-resource-create.json"),
                "Create",
            ),
            (
                include_str!("../../events/stack/custom-resource-update.json"),
                "Update",
            ),
            (
                include_str!("../../events/stack/custom-resource-delete.json"),
                "Delete",
            ),
        ] {
            let me = deployed(Environment {
                stack_id: Some(
                    "arn:aws:cloudformation:us-east-1:111111111111:stack/auto-subscribe/1".into(),
                ),
                ..env()
            });
            let Invocation::Stack(stack) = Invocation::parse(&fixture(payload), &me) else {
                panic!("{kind}: a stack request")
            };
            assert_eq!(format!("{:?}", stack.request.request_type), kind);
            assert_eq!(
                stack.url.host(),
                "cloudformation-custom-resource-response-useast1.s3.amazonaws.com"
            );
        }
        let broken = json!({"RequestType": "Delete"});
        assert!(matches!(
            Invocation::parse(&broken, &function()),
            Invocation::NotOurs { .. }
        ));
    }

    #[test]
    fn requests_from_other_stacks_or_to_other_hosts_are_refused() {
        let other_stack = "arn:aws:cloudformation:us-east-1:111111111111:stack/other/2";
        let unchecked = deployed(Environment {
            stack_id: None,
            ..env()
        });
        for (request, me, why) in [
            (
                stack_request(other_stack, RESPONSE_URL),
                function(),
                "belongs to stack",
            ),
            (stack_request(STACK, RESPONSE_URL), unchecked, "no STACK_ID"),
            (
                stack_request(STACK, "https://attacker.example/x?sig=s"),
                function(),
                "not an Amazon S3 host",
            ),
            (
                stack_request(STACK, "http://bucket.s3.amazonaws.com/x?sig=s"),
                function(),
                "not HTTPS",
            ),
        ] {
            let removal = SweepRequest {
                custom_resource: Some(CustomResourceRequest::read(&request).expect("a request")),
                ..SweepRequest::default()
            }
            .payload();
            for payload in [request, removal] {
                match Invocation::parse(&payload, &me) {
                    Invocation::Refused(reason) => {
                        assert!(reason.contains(why), "{reason}");
                        assert!(!reason.contains("sig=s"), "the URL stays secret: {reason}");
                    }
                    other => panic!("{payload}: {other:?}"),
                }
            }
        }
    }

    fn filter_event(name: &str, caller: &str) -> Value {
        let mut e = with(event(), "/detail/eventName", json!(name));
        e["detail"]["userIdentity"]["arn"] = json!(caller);
        e["detail"]["requestParameters"]["filterName"] = json!("central-logging");
        e
    }

    #[test]
    fn filter_changes_by_others_are_read_and_the_functions_own_are_skipped() {
        let someone = "arn:aws:sts::111111111111:assumed-role/Admin/alice";
        let own = "arn:aws:sts::111111111111:assumed-role/logs-FunctionRole-1/auto-subscribe";
        for (name, call) in [
            ("DeleteSubscriptionFilter", FilterCall::Delete),
            ("PutSubscriptionFilter", FilterCall::Put),
        ] {
            match Invocation::parse(&filter_event(name, someone), &function()) {
                Invocation::FiltersChanged(group, read) => {
                    assert_eq!(group.name.as_str(), "/aws/lambda/orders-api");
                    assert_eq!(read, call);
                }
                other => panic!("{name}: {other:?}"),
            }
            let skipped = |caller: &str, me: &Deployment<'_>| match Invocation::parse(
                &filter_event(name, caller),
                me,
            ) {
                Invocation::NotOurs { reason, .. } => reason,
                other => panic!("{name}: {other:?}"),
            };
            assert!(skipped(own, &function()).contains("own"));
            // Without the role's name, the session name alone identifies the function.
            let any_role = deployed(Environment {
                role_name: None,
                ..env()
            });
            let other_role = "arn:aws:sts::111111111111:assumed-role/Other/auto-subscribe";
            assert!(skipped(other_role, &any_role).contains("own"));
            // With it, a session of the same name under another role is someone else.
            assert!(matches!(
                Invocation::parse(&filter_event(name, other_role), &function()),
                Invocation::FiltersChanged(..)
            ));
            // Other accounts' sessions and failed calls are skipped too.
            let failed = with(
                filter_event(name, someone),
                "/detail/errorCode",
                json!("AccessDenied"),
            );
            assert!(matches!(
                Invocation::parse(&failed, &function()),
                Invocation::NotOurs { .. }
            ));
        }
    }
}
