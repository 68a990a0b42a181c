//! What else shares a log group's subscriptions, through the real binaries: an account-level
//! subscription filter policy (`DescribeAccountPolicies`, answered by the local AWS as AWS
//! documents it) and the quota of five regular expressions per group, counted over its metric and
//! subscription filters and answered as a full group is.

use serde_json::json;

use crate::common::runtime_api::{ABOUT_ONE_PAGE, FunctionProcess};
use crate::common::{
    Account, backfill, create_log_group_event, fixture, group_with_ours_and_a_vendors, json_lines,
    sender_and_central,
};

/// An account-level subscription filter policy shipping to `destination`, leaving out `excluded`.
async fn put_account_policy(account: &Account, name: &str, destination: &str, excluded: &[&str]) {
    let mut put = account
        .logs
        .put_account_policy()
        .policy_name(name)
        .policy_type(aws_sdk_cloudwatchlogs::types::PolicyType::SubscriptionFilterPolicy)
        .policy_document(json!({"DestinationArn": destination, "FilterPattern": ""}).to_string());
    if !excluded.is_empty() {
        put = put.selection_criteria(format!(
            "LogGroupName NOT IN {}",
            serde_json::to_string(excluded).expect("names")
        ));
    }
    put.send().await.expect("put an account policy");
}

#[tokio::test]
async fn a_group_an_account_policy_ships_already_is_left_alone_and_counted() {
    let (sender, central) = sender_and_central().await;
    put_account_policy(
        &sender,
        "org-wide",
        &central.destination_arn,
        &["/app/special"],
    )
    .await;
    // Another tool's policy to another destination changes nothing for us.
    put_account_policy(&sender, "to-siem", &central.other_destination_arn, &[]).await;
    for group in ["/app/a", "/app/b", "/app/special"] {
        sender.create_group(group).await;
    }
    let mut function = FunctionProcess::start(&sender, &[]);
    for group in ["/app/a", "/app/b"] {
        let answer = function
            .runtime
            .invoke(&create_log_group_event(&sender.id, group));
        let answer = answer.ok();
        assert_eq!(answer["outcome"], "covered", "{answer}");
        let reason = answer["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("\"org-wide\"") && reason.contains("twice"),
            "{answer}"
        );
        assert!(sender.filter_names(group).await.is_empty(), "{group}");
    }
    // The group the policy leaves out gets ours.
    let answer = function
        .runtime
        .invoke(&create_log_group_event(&sender.id, "/app/special"));
    assert_eq!(answer.ok()["outcome"], "subscribed");
    assert_eq!(
        sender.count("DescribeAccountPolicies"),
        1,
        "read once per cold start"
    );
    assert_eq!(sender.count("PutSubscriptionFilter"), 1);
    let logs = function.stop();
    let covered: u64 = json_lines(&logs)
        .iter()
        .filter(|l| l.get("_aws").is_some())
        .map(|m| m["CoveredByAccountPolicy"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(covered, 2, "{logs}");
}

#[tokio::test]
async fn a_sweep_takes_ours_off_covered_groups_and_backfill_leaves_them_alone() {
    let (sender, central) = sender_and_central().await;
    for i in 0..3 {
        group_with_ours_and_a_vendors(&sender, &central, &format!("/app/{i}")).await;
    }
    sender.create_group("/app/new").await;
    put_account_policy(&sender, "org-wide", &central.destination_arn, &["/app/2"]).await;

    // backfill subscribes: a covered group is reported, not touched.
    let keep = ["--existing-filters", "make-room"];
    let run = backfill(
        &sender,
        &[&keep[..], &["--output", "json", "--dry-run"]].concat(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let summary = run.summary();
    assert_eq!(summary["covered"], 3, "{run:?}");
    let run = backfill(&sender, &keep);
    assert!(run.stdout.contains("covered"), "{run:?}");
    assert!(sender.filter_names("/app/new").await.is_empty());
    assert_eq!(
        sender.filter_names("/app/0").await,
        ["central-logging", "vendor"]
    );

    // A sweep converges: ours comes off what the policy ships, the vendor's stays; the group the
    // policy leaves out keeps ours.
    let mut function = FunctionProcess::start(&sender, &[("EXISTING_FILTERS", "make-room")]);
    let chain = function.run_chain(&sender, &fixture("stack/sweep-order.json"), ABOUT_ONE_PAGE);
    assert_eq!(chain.swept("covered"), 3, "{chain:?}");
    assert_eq!(chain.swept("failed"), 0, "{chain:?}");
    for group in ["/app/0", "/app/1"] {
        assert_eq!(sender.filter_names(group).await, ["vendor"], "{group}");
    }
    assert_eq!(
        sender.filter_names("/app/2").await,
        ["central-logging", "vendor"]
    );
    assert!(sender.filter_names("/app/new").await.is_empty());
    let logs = function.stop();
    assert!(
        json_lines(&logs)
            .iter()
            .any(|l| l["fields"]["message"] == "sweep done" && l["fields"]["covered"] == 3),
        "{logs}"
    );
}

/// A metric filter on `group` with `pattern`.
async fn put_metric_filter(account: &Account, group: &str, name: &str, pattern: &str) {
    account
        .logs
        .put_metric_filter()
        .log_group_name(group)
        .filter_name(name)
        .filter_pattern(pattern)
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_name(name)
                .metric_namespace("App")
                .metric_value("1")
                .build()
                .expect("a metric transformation"),
        )
        .send()
        .await
        .expect("put a metric filter");
}

#[tokio::test]
async fn a_used_up_regex_quota_evicts_nothing_and_says_so() {
    let (sender, central) = sender_and_central().await;
    let group = "/app/errors";
    sender.create_group(group).await;
    // Four regular expressions in metric filters, one in a vendor's subscription filter: the
    // group's five. A slot is free, so AWS's LimitExceededException is not a full group.
    put_metric_filter(&sender, group, "errors", "%ERROR|FATAL%").await;
    put_metric_filter(&sender, group, "latency", "%slow [0-9]+% %timeout%").await;
    put_metric_filter(&sender, group, "panics", "%panic%").await;
    sender
        .logs
        .put_subscription_filter()
        .log_group_name(group)
        .filter_name("vendor")
        .filter_pattern("%WARN%")
        .destination_arn(&central.other_destination_arn)
        .send()
        .await
        .expect("the vendor's filter");
    for mode in ["replace", "make-room"] {
        let mut function = FunctionProcess::start(
            &sender,
            &[("FILTER_PATTERN", "%ERROR%"), ("EXISTING_FILTERS", mode)],
        );
        let answer = function
            .runtime
            .invoke(&create_log_group_event(&sender.id, group));
        let message = answer.error_message();
        assert!(
            message.contains("quota of 5 regular expressions") && message.contains("hold 5"),
            "{mode}: {message}"
        );
        function.stop();
        assert_eq!(sender.filter_names(group).await, ["vendor"], "{mode}");
    }
    assert_eq!(
        sender.count("DeleteSubscriptionFilter"),
        0,
        "nothing evicted"
    );
    assert_eq!(sender.count("DescribeMetricFilters"), 2);

    // Without a regular expression in ours there is room, and ours goes in beside the vendor's.
    let mut function = FunctionProcess::start(&sender, &[("EXISTING_FILTERS", "make-room")]);
    let answer = function
        .runtime
        .invoke(&create_log_group_event(&sender.id, group));
    assert_eq!(answer.ok()["outcome"], "subscribed");
    function.stop();
    assert_eq!(
        sender.filter_names(group).await,
        ["central-logging", "vendor"]
    );
}
