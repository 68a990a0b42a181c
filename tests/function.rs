//! The real `auto-subscribe` binary, run through the Runtime API emulator against the local AWS:
//! what it answers, and what it leaves in the account.

mod common;

use common::runtime::{Answer, FunctionProcess, ResponseUrl};
use common::{
    Account, Central, create_log_group_event, fixture_for, group_with_ours_and_a_vendors,
    groups_with_ours_and_a_vendors, json_lines, sender_and_central,
};
use serde_json::{Value, json};

const PARAMETER: &str = "/central-logging/destination-arn";

#[tokio::test]
async fn subscribes_a_new_group_with_one_describe_and_one_put() {
    let (sender, central) = sender_and_central().await;
    sender.create_group("/aws/lambda/orders-api").await;
    let mut function = FunctionProcess::start(&sender, &[]);

    let answer = function.runtime.invoke(&create_log_group_event(
        &sender.id,
        "/aws/lambda/orders-api",
    ));
    assert_eq!(
        answer.ok(),
        &json!({"logGroupName": "/aws/lambda/orders-api", "outcome": "subscribed"})
    );
    assert_eq!(sender.count("DescribeSubscriptionFilters"), 1);
    assert_eq!(sender.count("PutSubscriptionFilter"), 1);
    assert_eq!(
        sender.filters("/aws/lambda/orders-api").await,
        vec![(
            "central-logging".to_owned(),
            central.destination_arn.clone()
        )]
    );

    // The same event again: nothing to write, and the parameter comes from the cache.
    let again = function.runtime.invoke(&create_log_group_event(
        &sender.id,
        "/aws/lambda/orders-api",
    ));
    assert_eq!(again.ok()["outcome"], "unchanged");
    assert_eq!(sender.count("PutSubscriptionFilter"), 1);
    assert_eq!(
        sender.count("GetParameter"),
        1,
        "parameter read once per cold start"
    );

    let logs = function.stop();
    let lines = json_lines(&logs);
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["log_group"] == "/aws/lambda/orders-api"
                && l["fields"]["outcome"] == "subscribed"),
        "one structured line per decision:\n{logs}"
    );
    for secret in [
        "userIdentity",
        "ASIAEXAMPLEKEYID1234",
        "sourceIPAddress",
        "cdk-deploy-role",
    ] {
        assert!(
            !logs.contains(secret),
            "logs must not hold the CloudTrail event ({secret}):\n{logs}"
        );
    }
}

/// The stack's `LogLevel` can silence everything below ERROR; the metrics line, which has no
/// level, is printed all the same, so `FailedAlarm` and the dashboards keep their data.
#[tokio::test]
async fn the_metrics_line_is_printed_whatever_the_log_level() {
    let (sender, _central) = sender_and_central().await;
    sender.create_group("/aws/lambda/quiet").await;
    let mut function = FunctionProcess::start(&sender, &[("LOG_LEVEL", "ERROR")]);
    let answer = function
        .runtime
        .invoke(&create_log_group_event(&sender.id, "/aws/lambda/quiet"));
    assert_eq!(answer.ok()["outcome"], "subscribed");
    let lines = json_lines(&function.stop());
    assert!(
        !lines.iter().any(|l| l["level"] == "INFO"),
        "INFO lines are filtered: {lines:?}"
    );
    let metrics: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(metrics.len(), 1, "{lines:?}");
    assert_eq!(metrics[0]["Subscribed"], 1);
}

#[tokio::test]
async fn existing_filters_modes_through_the_binary() {
    let (sender, central) = sender_and_central().await;
    for mode in ["replace", "make-room", "keep"] {
        let group = format!("/app/{mode}");
        sender.create_group(&group).await;
        // Two foreign filters, oldest first: the group is full.
        sender
            .put_filter(&group, "first", &central.other_destination_arn)
            .await;
        sender
            .put_filter(&group, "second", &central.other_destination_arn)
            .await;
    }
    let expectations = [
        ("replace", "subscribed", vec!["central-logging"]),
        ("make-room", "subscribed", vec!["central-logging", "second"]),
        ("keep", "skipped", vec!["first", "second"]),
    ];
    for (mode, outcome, filters) in expectations {
        let mut function = FunctionProcess::start(&sender, &[("EXISTING_FILTERS", mode)]);
        let group = format!("/app/{mode}");
        let answer = function
            .runtime
            .invoke(&create_log_group_event(&sender.id, &group));
        assert_eq!(answer.ok()["outcome"], outcome, "{mode}: {answer:?}");
        let names = sender.filter_names(&group).await;
        assert_eq!(names, filters, "{mode}");
    }
}

#[tokio::test]
async fn every_skip_rule_answers_success_and_touches_nothing() {
    let (sender, central) = sender_and_central().await;
    let foreign = central.other_destination_arn.clone();
    for group in [
        "/aws/lambda/orders-api",
        "/app/orders/archive",
        "/aws/lambda/auto-subscribe",
        "/noisy/x",
    ] {
        sender.create_group(group).await;
        sender.put_filter(group, "shipper", &foreign).await;
    }
    let mut other_region = create_log_group_event(&sender.id, "/aws/lambda/orders-api");
    other_region["region"] = "eu-west-1".into();
    other_region["detail"]["awsRegion"] = "eu-west-1".into();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "failed call",
            fixture_for("create-log-group-failed.json", &sender.id),
            "failed (ResourceAlreadyExistsException)",
        ),
        (
            "infrequent access",
            fixture_for("create-log-group-infrequent-access.json", &sender.id),
            "INFREQUENT_ACCESS",
        ),
        (
            "other API call",
            fixture_for("put-retention-policy.json", &sender.id),
            "PutRetentionPolicy",
        ),
        (
            "other account",
            create_log_group_event("222222222222", "/aws/lambda/orders-api"),
            "account 222222222222",
        ),
        ("other region", other_region, "Region eu-west-1"),
        (
            "own log group",
            create_log_group_event(&sender.id, "/aws/lambda/auto-subscribe"),
            "EXCLUDE",
        ),
        (
            "excluded",
            create_log_group_event(&sender.id, "/noisy/x"),
            "excluded by EXCLUDE glob \"/noisy/*\"",
        ),
        (
            "gone",
            create_log_group_event(&sender.id, "/never/created"),
            "no longer exists",
        ),
        ("null", Value::Null, "not an event object"),
        ("array", json!([]), "not an event object"),
        ("string", json!("hello"), "not an event object"),
        ("number", json!(42), "not an event object"),
        ("empty", json!({}), "no detail-type"),
        (
            "scheduled",
            json!({"source": "aws.events", "detail-type": "Some Other Event", "detail": {}}),
            "Some Other Event",
        ),
        (
            "null detail",
            json!({"detail-type": "AWS API Call via CloudTrail", "detail": null}),
            "no detail",
        ),
        (
            "null name",
            {
                let mut e = create_log_group_event(&sender.id, "x");
                e["detail"]["requestParameters"]["logGroupName"] = Value::Null;
                e
            },
            "logGroupName",
        ),
    ];
    let mut function = FunctionProcess::start(&sender, &[("EXCLUDE", "/noisy/*")]);
    for (case, event, reason) in cases {
        let answer = function.runtime.invoke(&event);
        let Answer::Ok(body) = &answer else {
            panic!("{case}: expected success, got {answer:?}")
        };
        assert_eq!(body["outcome"], "skipped", "{case}: {body}");
        let got = body["reason"].as_str().unwrap_or_default();
        assert!(
            got.contains(reason),
            "{case}: reason {got:?} should mention {reason:?}"
        );
    }
    assert_eq!(
        sender.writes(),
        4,
        "only the four puts the test made itself"
    );
    for group in [
        "/aws/lambda/orders-api",
        "/app/orders/archive",
        "/aws/lambda/auto-subscribe",
        "/noisy/x",
    ] {
        assert_eq!(
            sender.filters(group).await,
            vec![("shipper".to_owned(), foreign.clone())],
            "{group} untouched"
        );
    }
    let logs = function.stop();
    assert!(!logs.contains("panicked"), "{logs}");
}

/// Broken configuration: an error answer whose message says what to fix, and the group untouched.
#[tokio::test]
async fn broken_configuration_is_an_error_and_leaves_the_group_alone() {
    let sender = Account::new().await;
    let stranger = Account::new().await;
    let central = Central::new(&[&stranger.id]).await; // does not allow `sender`
    let vendor = Central::new(&[&sender.id]).await;
    let foreign = vendor.other_destination_arn.clone();
    let group = "/aws/lambda/orders-api";
    sender.create_group(group).await;
    sender.put_filter(group, "shipper", &foreign).await;

    let other_region = central.destination_arn.replace("us-east-1", "eu-west-1");
    let cases: Vec<(&str, Option<&str>, Vec<&str>)> = vec![
        (
            "parameter missing",
            None,
            vec![
                "SSM parameter /central-logging/destination-arn does not exist",
                "put-parameter",
            ],
        ),
        (
            "not an ARN",
            Some("central-logging"),
            vec!["holds \"central-logging\"", "not usable"],
        ),
        (
            "log group ARN",
            Some("arn:aws:logs:us-east-1:999999999999:log-group:x"),
            vec!["not the ARN of a CloudWatch Logs destination"],
        ),
        (
            "other region",
            Some(other_region.as_str()),
            vec!["is in Region eu-west-1", "its own Region (us-east-1)"],
        ),
        (
            "policy refuses",
            Some(central.destination_arn.as_str()),
            vec![
                "access policy must allow account",
                sender.id.as_str(),
                "not authorized",
            ],
        ),
    ];
    for (case, value, expected) in cases {
        match value {
            Some(v) => sender.put_parameter(PARAMETER, v).await,
            None => {
                let _ = sender.ssm.delete_parameter().name(PARAMETER).send().await;
            }
        }
        let mut function = FunctionProcess::start(&sender, &[]);
        let answer = function
            .runtime
            .invoke(&create_log_group_event(&sender.id, group));
        let Answer::Error(error) = &answer else {
            panic!("{case}: expected an error, got {answer:?}")
        };
        let message = answer.error_message();
        for part in expected {
            assert!(
                message.contains(part),
                "{case}: {message:?} should contain {part:?} ({error})"
            );
        }
        assert_eq!(
            sender.filters(group).await,
            vec![("shipper".to_owned(), foreign.clone())],
            "{case}"
        );
        let logs = function.stop();
        let failed = json_lines(&logs)
            .into_iter()
            .find(|l| l.get("_aws").is_some())
            .map(|m| m["Failed"].clone());
        assert_eq!(
            failed,
            Some(json!(1)),
            "{case}: an EMF line counts the failure:\n{logs}"
        );
    }
}

#[tokio::test]
async fn bad_settings_fail_init_naming_the_variable() {
    let sender = Account::new().await;
    for (var, value) in [
        ("EXCLUDE", "/a/[x"),
        ("EXISTING_FILTERS", "delete-everything"),
        ("DISTRIBUTION", "random"),
    ] {
        let function = FunctionProcess::start(&sender, &[(var, value)]);
        let answer = function.runtime.init_error();
        assert!(matches!(answer, Answer::InitError(_)), "{var}: {answer:?}");
        let message = answer.error_message();
        assert!(message.starts_with(var), "{var}: {message}");
        assert!(
            message.contains(value.trim_start_matches('/')),
            "{var}: {message}"
        );
    }
}

/// The function reads its Region and credentials from the Lambda environment alone (no default
/// credential chain): without them it fails init naming the variable, before any AWS call.
#[tokio::test]
async fn missing_lambda_credentials_fail_init_naming_the_variable() {
    let sender = Account::new().await;
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        let mut blank = vec![(var, "")];
        if var == "AWS_REGION" {
            blank.push(("AWS_DEFAULT_REGION", ""));
        }
        let function = FunctionProcess::start(&sender, &blank);
        let answer = function.runtime.init_error();
        assert!(matches!(answer, Answer::InitError(_)), "{var}: {answer:?}");
        let message = answer.error_message();
        assert!(message.starts_with(var), "{var}: {message}");
    }
    for action in ["GetParameter", "DescribeSubscriptionFilters"] {
        assert_eq!(sender.count(action), 0, "{action}");
    }
}

/// `AWS_ENDPOINT_URL_<SERVICE>` wins over `AWS_ENDPOINT_URL` in the function's own SDK
/// configuration, as in the SDK's: with the global endpoint dead, a new group is still subscribed
/// through the per-service endpoints of SSM and CloudWatch Logs.
#[tokio::test]
async fn service_endpoint_variables_reach_the_clients() {
    let (sender, central) = sender_and_central().await;
    sender.create_group("/aws/lambda/orders-api").await;
    let local = common::local_aws().endpoint.clone();
    let mut function = FunctionProcess::start(
        &sender,
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_SSM", &local),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &local),
        ],
    );
    let answer = function.runtime.invoke(&create_log_group_event(
        &sender.id,
        "/aws/lambda/orders-api",
    ));
    assert_eq!(answer.ok()["outcome"], "subscribed", "{answer:?}");
    assert_eq!(
        sender.filters("/aws/lambda/orders-api").await,
        vec![(
            "central-logging".to_owned(),
            central.destination_arn.clone()
        )]
    );
    function.stop();
}

#[tokio::test]
async fn settings_reach_the_filter() {
    let (sender, central) = sender_and_central().await;
    sender.create_group("/app/payments").await;
    let mut function = FunctionProcess::start(
        &sender,
        &[
            ("FILTER_NAME", "to-central"),
            ("FILTER_PATTERN", "ERROR"),
            ("DISTRIBUTION", "Random"),
            ("INCLUDE", "/app/*"),
        ],
    );
    let answer = function
        .runtime
        .invoke(&create_log_group_event(&sender.id, "/app/payments"));
    assert_eq!(answer.ok()["outcome"], "subscribed");
    let out = sender
        .logs
        .describe_subscription_filters()
        .log_group_name("/app/payments")
        .send()
        .await
        .expect("ok");
    let filter = &out.subscription_filters()[0];
    assert_eq!(filter.filter_name(), Some("to-central"));
    assert_eq!(filter.filter_pattern(), Some("ERROR"));
    assert_eq!(
        filter.destination_arn(),
        Some(central.destination_arn.as_str())
    );
    assert_eq!(filter.distribution().map(|d| d.as_str()), Some("Random"));

    let answer = function
        .runtime
        .invoke(&create_log_group_event(&sender.id, "/other/group"));
    assert_eq!(answer.ok()["reason"], "not matched by INCLUDE (/app/*)");
}

/// With one execution environment (the stack reserves one), the function's own pacing keeps a burst
/// of new groups under CloudWatch Logs' quotas: no throttled answer at all.
#[tokio::test]
async fn a_burst_of_new_groups_stays_under_the_quotas() {
    let (sender, _central) = sender_and_central().await;
    let groups: Vec<String> = (0..12).map(|i| format!("/burst/{i:02}")).collect();
    for group in &groups {
        sender.create_group(group).await;
    }
    sender.set_behaviour(json!("aws"), json!({}));
    let mut function = FunctionProcess::start(&sender, &[]);
    for group in &groups {
        let answer = function
            .runtime
            .invoke(&create_log_group_event(&sender.id, group));
        assert_eq!(answer.ok()["outcome"], "subscribed", "{group}: {answer:?}");
    }
    let throttled = sender.calls()["throttled"].clone();
    sender.clear_behaviour();
    assert_eq!(throttled, json!({}), "no request was throttled");
}

/// A scheduled sweep over an account whose groups never produced an event, cut into several
/// invocations by a short deadline: it ends complete, visits each group once, and takes our filter
/// off groups the selection no longer covers.
#[tokio::test]
async fn a_scheduled_sweep_converges_across_invocations() {
    let (sender, central) = sender_and_central().await;
    let groups: Vec<String> = (0..110).map(|i| format!("/quiet/{i:03}")).collect();
    for group in &groups {
        sender.create_group(group).await;
    }
    // Groups the selection no longer covers: ours comes off, the other vendor's stays.
    for i in 0..10 {
        group_with_ours_and_a_vendors(&sender, &central, &format!("/excluded/{i:02}")).await;
    }
    let describes_before = sender.count("DescribeSubscriptionFilters");
    let mut function = FunctionProcess::start(&sender, &[("EXCLUDE", "/excluded/*")]);
    // Just over the 60 s reserve: each invocation lists about one page (50 groups), then hands on.
    let short = std::time::Duration::from_millis(61_500);
    let scheduled = json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event",
                           "account": sender.id, "region": "us-east-1", "detail": {}});
    let mut next = vec![scheduled];
    let (mut invocations, mut total, mut subscribed, mut unsubscribed) = (0, 0, 0, 0);
    while let Some(event) = next.pop() {
        let (answer, _) = function.runtime.invoke_within(&event, short);
        let sweep = &answer.ok()["sweep"];
        invocations += 1;
        total += sweep["total"].as_u64().unwrap_or(0);
        subscribed += sweep["subscribed"].as_u64().unwrap_or(0);
        unsubscribed += sweep["unsubscribed"].as_u64().unwrap_or(0);
        assert_eq!(sweep["failed"], 0, "{answer:?}");
        for invocation in sender.take_invocations() {
            assert_eq!(
                invocation["function"], function.runtime.function_arn,
                "it invokes itself"
            );
            next.push(invocation["payload"].clone());
        }
        assert!(invocations < 10, "the sweep must end");
    }
    assert!(
        invocations >= 3,
        "120 groups in pages of 50 take several invocations: {invocations}"
    );
    assert_eq!((total, subscribed, unsubscribed), (120, 110, 10));
    assert_eq!(
        sender.count("DescribeSubscriptionFilters") - describes_before,
        120,
        "each group once"
    );
    for group in &groups {
        let names = sender.filter_names(group).await;
        assert_eq!(names, ["central-logging"], "{group}");
    }
    for i in 0..10 {
        let names = sender.filter_names(&format!("/excluded/{i:02}")).await;
        assert_eq!(names, ["vendor"], "ours removed, theirs kept");
    }
    let logs = function.stop();
    assert!(logs.contains("sweep slice done"), "{logs}");
    let counted: u64 = json_lines(&logs)
        .iter()
        .filter(|l| l.get("_aws").is_some())
        .map(|m| m["Subscribed"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        counted, 110,
        "every slice's subscriptions are in its metrics line"
    );
}

/// A CloudFormation custom resource request for the stack's sweep resource.
fn stack_request(
    kind: &str,
    sender: &Account,
    response_url: &str,
    remove_on_delete: &str,
) -> Value {
    json!({
        "RequestType": kind,
        "ServiceToken": format!("arn:aws:lambda:us-east-1:{}:function:auto-subscribe", sender.id),
        "ResponseURL": response_url,
        "StackId": sender.stack_id(),
        "RequestId": format!("request-{kind}"),
        "ResourceType": "Custom::AutoSubscribeSweep",
        "LogicalResourceId": "Sweep",
        "PhysicalResourceId": "auto-subscribe-sweep",
        "ResourceProperties": {"ServiceToken": "x", "RemoveOnDelete": remove_on_delete},
    })
}

#[tokio::test]
async fn the_custom_resource_starts_a_sweep_on_create_and_update() {
    let (sender, central) = sender_and_central().await;
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    for kind in ["Create", "Update"] {
        let answer =
            function
                .runtime
                .invoke(&stack_request(kind, &sender, &cloudformation.url, "true"));
        assert!(matches!(answer, Answer::Ok(_)), "{kind}: {answer:?}");
        let put = cloudformation.next();
        assert_eq!(put.method, "PUT", "{kind}");
        assert_eq!(
            put.content_type.as_deref(),
            Some(""),
            "{kind}: the pre-signed URL signs no content type"
        );
        assert_eq!(put.body["Status"], "SUCCESS", "{kind}: {}", put.body);
        assert_eq!(put.body["RequestId"], format!("request-{kind}"));
        assert_eq!(put.body["LogicalResourceId"], "Sweep");
        assert_eq!(put.body["PhysicalResourceId"], "auto-subscribe-sweep");
        assert_eq!(
            put.body["Data"]["DestinationArn"],
            central.destination_arn.as_str()
        );
        let invocations = sender.take_invocations();
        assert_eq!(invocations.len(), 1, "{kind}: one sweep started");
        assert!(
            invocations[0]["payload"]["autoSubscribeSweep"]["customResource"].is_null(),
            "{kind}: a sweep, not a removal"
        );
    }
}

#[tokio::test]
async fn the_custom_resource_answers_failure_too() {
    let sender = Account::new().await; // no destination parameter: a broken configuration
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    let answer = function.runtime.invoke(&stack_request(
        "Create",
        &sender,
        &cloudformation.url,
        "true",
    ));
    assert!(
        matches!(answer, Answer::Ok(_)),
        "CloudFormation was answered: {answer:?}"
    );
    let put = cloudformation.next();
    assert_eq!(put.body["Status"], "FAILED");
    let reason = put.body["Reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("SSM parameter /central-logging/destination-arn does not exist"),
        "{reason}"
    );
    assert!(sender.take_invocations().is_empty(), "no sweep started");
    // Deleting a stack whose configuration is broken is never blocked.
    sender.set_stack_status("DELETE_IN_PROGRESS");
    function.runtime.invoke(&stack_request(
        "Delete",
        &sender,
        &cloudformation.url,
        "true",
    ));
    let put = cloudformation.next();
    assert_eq!(put.body["Status"], "SUCCESS", "{}", put.body);
    assert!(
        put.body["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains("filters left in place")
    );
}

#[tokio::test]
async fn deleting_the_stack_removes_exactly_its_filters() {
    let (sender, central) = sender_and_central().await;
    let (ours, vendor) = (&central.destination_arn, &central.other_destination_arn);
    groups_with_ours_and_a_vendors(&sender, &central, 6).await;
    // Our name to another destination, and our destination under another name: not this stack's.
    sender.create_group("/app/same-name").await;
    sender
        .put_filter("/app/same-name", "central-logging", vendor)
        .await;
    sender.create_group("/app/other-name").await;
    sender
        .put_filter("/app/other-name", "Destination", ours)
        .await;

    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    sender.set_stack_status("DELETE_IN_PROGRESS");
    // RemoveFiltersOnDelete=false leaves everything in place.
    function.runtime.invoke(&stack_request(
        "Delete",
        &sender,
        &cloudformation.url,
        "false",
    ));
    assert_eq!(cloudformation.next().body["Status"], "SUCCESS");
    assert_eq!(sender.filters("/app/000").await.len(), 2);

    function.runtime.invoke(&stack_request(
        "Delete",
        &sender,
        &cloudformation.url,
        "true",
    ));
    let put = cloudformation.next();
    assert_eq!(put.body["Status"], "SUCCESS", "{}", put.body);
    assert_eq!(put.body["Data"]["Unsubscribed"], 6);
    for i in 0..6 {
        assert_eq!(
            sender.filters(&format!("/app/{i:03}")).await,
            vec![("vendor".to_owned(), vendor.clone())]
        );
    }
    assert_eq!(
        sender.filters("/app/same-name").await,
        vec![("central-logging".to_owned(), vendor.clone())]
    );
    assert_eq!(
        sender.filters("/app/other-name").await,
        vec![("Destination".to_owned(), ours.clone())]
    );
    assert!(
        cloudformation.silent_for(std::time::Duration::from_millis(300)),
        "answered once"
    );
}

/// Runs a removal's invocations the way Lambda would, each with a deadline short enough that it
/// lists about one page; returns how many invocations it took.
fn run_removal(function: &mut FunctionProcess, sender: &Account, first: Value) -> usize {
    let short = std::time::Duration::from_millis(61_500);
    let mut next = vec![first];
    let mut invocations = 0;
    while let Some(event) = next.pop() {
        let (answer, _) = function.runtime.invoke_within(&event, short);
        assert!(matches!(answer, Answer::Ok(_)), "{answer:?}");
        invocations += 1;
        next.extend(
            sender
                .take_invocations()
                .into_iter()
                .map(|i| i["payload"].clone()),
        );
        assert!(invocations < 10, "the removal must end");
    }
    invocations
}

#[tokio::test]
async fn a_removal_across_invocations_reports_the_whole_removal() {
    let (sender, central) = sender_and_central().await;
    groups_with_ours_and_a_vendors(&sender, &central, 120).await;
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    sender.set_stack_status("DELETE_IN_PROGRESS");
    let delete = stack_request("Delete", &sender, &cloudformation.url, "true");
    let invocations = run_removal(&mut function, &sender, delete);
    assert!(invocations >= 3, "pages of 50: {invocations} invocations");
    let put = cloudformation.next();
    assert_eq!(put.body["Status"], "SUCCESS", "{}", put.body);
    assert_eq!(
        (
            &put.body["Data"]["Checked"],
            &put.body["Data"]["Unsubscribed"],
            &put.body["Data"]["Complete"]
        ),
        (&json!(120), &json!(120), &json!(true)),
        "counted over every invocation: {}",
        put.body
    );
    assert!(cloudformation.silent_for(std::time::Duration::from_millis(300)));
    for i in [0, 60, 119] {
        assert_eq!(
            sender.filter_names(&format!("/app/{i:03}")).await,
            ["vendor"]
        );
    }
    let logs = function.stop();
    assert!(logs.contains("sweep done"), "{logs}");
}

/// CloudFormation waits at most `ServiceTimeout` (an hour) for the answer: a removal that cannot
/// finish by then answers SUCCESS in time, so the stack deletes, and says how to finish; the
/// command it names does.
#[tokio::test]
async fn a_removal_out_of_time_answers_in_time_and_names_the_command_that_finishes() {
    let (sender, central) = sender_and_central().await;
    groups_with_ours_and_a_vendors(&sender, &central, 70).await;
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    sender.set_stack_status("DELETE_IN_PROGRESS");
    let mut delete = stack_request("Delete", &sender, &cloudformation.url, "true");
    // No time for a second invocation.
    delete["ResourceProperties"]["ServiceTimeout"] = json!("1");
    let invocations = run_removal(&mut function, &sender, delete);
    assert_eq!(invocations, 1, "no continuation once out of time");
    let put = cloudformation.next();
    assert_eq!(put.body["Status"], "SUCCESS", "{}", put.body);
    assert_eq!(put.body["Data"]["Complete"], false, "{}", put.body);
    let done = put.body["Data"]["Unsubscribed"].as_u64().unwrap_or(0);
    assert!((1..70).contains(&done), "{}", put.body);
    let reason = put.body["Reason"].as_str().unwrap_or_default();
    let (_, command) = reason
        .split_once("run in this account: ")
        .unwrap_or_else(|| panic!("names a command: {reason}"));
    assert!(command.starts_with("backfill --remove "), "{command}");

    // The named command, as an operator would paste it, finishes the removal.
    let left = {
        let mut left = 0;
        for i in 0..70 {
            left += usize::from(sender.filter_names(&format!("/app/{i:03}")).await.len() == 2);
        }
        left
    };
    assert_eq!(left as u64, 70 - done);
    let backfill = env!("CARGO_BIN_EXE_backfill");
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{backfill}{} --rate 1000 --output json",
            command.trim_start_matches("backfill")
        ))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sender.env())
        .output()
        .expect("run the named command");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(summary["unsubscribed"], json!(left), "{summary}");
    for i in 0..70 {
        assert_eq!(
            sender.filter_names(&format!("/app/{i:03}")).await,
            ["vendor"],
            "/app/{i:03}"
        );
    }
}
