//! A new log group through the real binary: what the function answers for each CloudTrail event
//! (`events/`), what it costs in calls, what it leaves in the account, and what it logs. If
//! you're adding something the function does with an event, its test probably goes here.

use serde_json::{Value, json};

use crate::common::runtime_api::{Answer, FunctionProcess};
use crate::common::{create_log_group_event, fixture_for, json_lines, sender_and_central};

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
