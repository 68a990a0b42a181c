//! What the function refuses, and what it repairs: through the real binary against the local AWS.
//! Anyone who may invoke the function can send it any payload, so no payload alone may remove a
//! filter or make it PUT anywhere; and a central filter deleted or re-pointed by someone else comes
//! back within one event.

use crate::common::cloudformation::{DeadUrl, ResponseUrl, stack_request};
use crate::common::runtime_api::{Answer, FUNCTION_ROLE_NAME, FunctionProcess};
use crate::common::{
    Account, Central, Narrowed, fixture, fixture_for, groups_with_ours_and_a_vendors, json_lines,
    sender_and_central,
};
use serde_json::{Value, json};
use std::time::Duration;

/// A sender account with a destination parameter and `count` groups holding our filter and a
/// vendor's.
async fn subscribed_account(count: usize) -> (Account, Central) {
    let (sender, central) = sender_and_central().await;
    groups_with_ours_and_a_vendors(&sender, &central, count).await;
    (sender, central)
}

async fn all_still_subscribed(sender: &Account, count: usize) {
    for i in 0..count {
        assert_eq!(
            sender.filter_names(&format!("/app/{i:03}")).await,
            ["central-logging", "vendor"],
            "/app/{i:03}"
        );
    }
}

/// CloudFormation's Delete (from the fixtures) for the stack `stack_id`, answering to
/// `response_url`.
fn delete_request(sender: &Account, stack_id: &str, response_url: &str) -> Value {
    let mut request = stack_request("Delete", sender, response_url, "true");
    request["StackId"] = stack_id.into();
    request
}

/// Delivers `first` and what it hands on, as Lambda would, until the chain ends.
fn run_chain(function: &mut FunctionProcess, sender: &Account, first: &Value) -> Vec<Answer> {
    function
        .run_chain(sender, first, Duration::from_secs(60))
        .answers
}

#[tokio::test]
async fn forged_payloads_and_foreign_stacks_remove_nothing_and_send_nothing() {
    let (sender, _central) = subscribed_account(4).await;
    let cloudformation = ResponseUrl::start();
    // make-room: a sweep (what a forged sweep request may start) keeps the vendor's filter, so
    // any filter gone is a removal.
    let mut function = FunctionProcess::start(
        &sender,
        &[cloudformation.endpoint(), ("EXISTING_FILTERS", "make-room")],
    );
    sender.set_stack_status("UPDATE_COMPLETE");
    let foreign_stack = format!(
        "arn:aws:cloudformation:us-east-1:{}:stack/someone-elses/9",
        sender.id
    );
    let forged = [
        // The payload that once took the central filter off every group.
        json!({"autoSubscribeSweep": {"remove": true}}),
        // A Delete from another stack, as the public example requests are sent.
        delete_request(&sender, &foreign_stack, &cloudformation.url),
        // A removal's continuation for another stack.
        json!({"autoSubscribeSweep": {"customResource": delete_request(&sender, &foreign_stack, &cloudformation.url),
                                      "startedAtMs": 1, "nextToken": "x"}}),
        // A removal's continuation for its own stack, while the stack is not being deleted.
        json!({"autoSubscribeSweep": {"customResource": delete_request(&sender, &sender.stack_id(), &cloudformation.url),
                                      "startedAtMs": 1}}),
    ];
    for payload in &forged {
        let answers = run_chain(&mut function, &sender, payload);
        for answer in &answers {
            assert!(matches!(answer, Answer::Ok(_)), "{payload}: {answer:?}");
        }
        all_still_subscribed(&sender, 4).await;
        assert!(
            cloudformation.silent_for(Duration::from_millis(200)),
            "{payload}: nothing sent"
        );
    }
    assert_eq!(sender.count("DeleteSubscriptionFilter"), 0);
    // The foreign stack's requests cost no AWS call at all: refused at the edge.
    let logs = function.stop();
    assert!(logs.contains("request refused"), "{logs}");
    assert!(logs.contains("someone-elses"), "{logs}");
}

#[tokio::test]
async fn a_delete_of_its_own_stack_removes_only_while_cloudformation_deletes_the_stack() {
    let (sender, _central) = subscribed_account(4).await;
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    let delete = delete_request(&sender, &sender.stack_id(), &cloudformation.url);

    // CloudFormation says the stack is fine: the request is answered, nothing removed.
    sender.set_stack_status("UPDATE_COMPLETE");
    run_chain(&mut function, &sender, &delete);
    let put = cloudformation.next();
    assert_eq!(put.body["Status"], "SUCCESS", "{}", put.body);
    let reason = put.body["Reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not being deleted"), "{reason}");
    all_still_subscribed(&sender, 4).await;

    // The rollback of a failed create, and the stack's deletion, remove.
    sender.set_stack_status("ROLLBACK_IN_PROGRESS");
    run_chain(&mut function, &sender, &delete);
    let put = cloudformation.next();
    assert_eq!(put.body["Data"]["Unsubscribed"], 4, "{}", put.body);
    for i in 0..4 {
        assert_eq!(
            sender.filter_names(&format!("/app/{i:03}")).await,
            ["vendor"]
        );
    }
}

/// Once CloudFormation says the stack is being deleted, nothing subscribes again: not a new
/// group's event, not a sweep already scheduled. A removal slice whose DescribeStacks keeps being
/// throttled still answers CloudFormation, with what is left and how to finish it.
#[tokio::test]
async fn a_removal_is_final_and_dependable() {
    let (sender, central) = subscribed_account(2).await;
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    sender.set_stack_status("DELETE_IN_PROGRESS");
    sender.create_group("/app/new").await;
    let puts = sender.count("PutSubscriptionFilter");
    let answer = function
        .runtime
        .invoke(&crate::common::create_log_group_event(
            &sender.id, "/app/new",
        ));
    assert_eq!(answer.ok()["outcome"], "skipped", "{answer:?}");
    assert!(
        answer.ok()["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("being deleted"),
        "{answer:?}"
    );
    let answer = function.runtime.invoke(&fixture("stack/sweep-order.json"));
    assert!(answer.ok()["stopped"].is_string(), "{answer:?}");
    assert_eq!(
        sender.count("PutSubscriptionFilter"),
        puts,
        "nothing subscribed"
    );
    assert!(sender.take_invocations().is_empty(), "no sweep handed on");
    assert!(sender.filters("/app/new").await.is_empty());
    // A removal's next slice, while CloudFormation keeps throttling DescribeStacks.
    sender.set_behaviour(json!({}), json!({"DescribeStacks": {"Throttling": 1.0}}));
    let mut delete = stack_request("Delete", &sender, &cloudformation.url, "true");
    delete["RequestId"] = json!("request-delete-throttled");
    let continuation = json!({"autoSubscribeSweep": {
        "customResource": delete, "startedAtMs": 1, "nextToken": "x", "hops": 1,
        "soFar": {"total": 50, "unsubscribed": 12},
    }});
    let answer = function.runtime.invoke(&continuation);
    assert!(matches!(answer, Answer::Ok(_)), "{answer:?}");
    let put = cloudformation.next();
    assert_eq!(put.body["Status"], "SUCCESS", "{}", put.body);
    assert_eq!(put.body["RequestId"], "request-delete-throttled");
    let reason = put.body["Reason"].as_str().unwrap_or_default();
    assert!(reason.contains("could not confirm"), "{reason}");
    assert!(reason.contains("taken off 12 of the 50"), "{reason}");
    assert!(reason.contains("backfill --remove"), "{reason}");
    assert_eq!(put.body["Data"]["Complete"], false);
    assert_eq!(
        sender.count("DeleteSubscriptionFilter"),
        0,
        "nothing removed unconfirmed"
    );
    let _ = central;
}

#[tokio::test]
async fn answers_go_only_to_s3_of_the_partition_and_a_dead_url_does_not_hold_the_function() {
    let (sender, _central) = subscribed_account(1).await;
    sender.set_stack_status("DELETE_IN_PROGRESS");
    // A plain-HTTP, non-S3 URL that is not the configured S3 endpoint: refused, nothing removed.
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[]);
    let answer = function.runtime.invoke(&delete_request(
        &sender,
        &sender.stack_id(),
        &cloudformation.url,
    ));
    let reason = answer.ok()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("not HTTPS"), "{reason}");
    assert!(
        !reason.contains("signature"),
        "the URL stays secret: {reason}"
    );
    assert!(cloudformation.silent_for(Duration::from_millis(300)));
    all_still_subscribed(&sender, 1).await;
    let logs = function.stop();
    assert!(!logs.contains("signature=local"), "{logs}");

    // A URL that accepts the connection and never answers: the invocation ends with an error
    // (Lambda retries it) instead of waiting until the function's timeout.
    let dead = DeadUrl::start();
    let mut function = FunctionProcess::start(&sender, &[dead.endpoint()]);
    let mut create = delete_request(&sender, &sender.stack_id(), &dead.url);
    create["RequestType"] = json!("Create");
    let (answer, _) = function
        .runtime
        .invoke_within(&create, Duration::from_secs(6));
    let message = answer.error_message();
    assert!(message.contains("did not answer within"), "{message}");
    assert!(!message.contains("signature"), "{message}");
    let logs = function.stop();
    assert!(!logs.contains("signature=local"), "{logs}");
}

/// A filter-change event as CloudTrail reports it, for `group`, made by `caller`.
fn filter_change(name: &str, sender: &Account, group: &str, caller: &str) -> Value {
    let fixture = match name {
        "DeleteSubscriptionFilter" => "delete-subscription-filter.json",
        _ => "put-subscription-filter.json",
    };
    let mut event = fixture_for(fixture, &sender.id);
    event["detail"]["requestParameters"]["logGroupName"] = json!(group);
    event["detail"]["userIdentity"]["arn"] = json!(caller);
    event
}

#[tokio::test]
async fn a_deleted_or_repointed_central_filter_is_repaired_and_the_functions_own_changes_cost_nothing()
 {
    let (sender, central) = subscribed_account(1).await;
    let group = "/app/000";
    let someone = format!("arn:aws:sts::{}:assumed-role/Admin/alice", sender.id);
    let mut function = FunctionProcess::start(&sender, &[]);

    // Deleted by hand: back with one describe and one put.
    sender.delete_filter(group, "central-logging").await;
    let before = sender.calls()["calls"].clone();
    let answer = function.runtime.invoke(&filter_change(
        "DeleteSubscriptionFilter",
        &sender,
        group,
        &someone,
    ));
    assert_eq!(answer.ok()["outcome"], "subscribed", "{answer:?}");
    let after = sender.calls()["calls"].clone();
    let spent =
        |action: &str| after[action].as_u64().unwrap_or(0) - before[action].as_u64().unwrap_or(0);
    assert_eq!(
        (
            spent("DescribeSubscriptionFilters"),
            spent("PutSubscriptionFilter")
        ),
        (1, 1)
    );
    // EXISTING_FILTERS as always (replace, the default): the vendor's filter went too.
    assert_eq!(
        sender.filters(group).await,
        vec![(
            "central-logging".to_owned(),
            central.destination_arn.clone()
        )]
    );

    // Re-pointed by hand: ours to our destination again.
    sender
        .put_filter(group, "central-logging", &central.other_destination_arn)
        .await;
    let answer = function.runtime.invoke(&filter_change(
        "PutSubscriptionFilter",
        &sender,
        group,
        &someone,
    ));
    assert_eq!(answer.ok()["outcome"], "subscribed", "{answer:?}");
    assert_eq!(
        sender.filters(group).await,
        vec![(
            "central-logging".to_owned(),
            central.destination_arn.clone()
        )]
    );

    // The function's own change, as CloudTrail reports it: skipped with no AWS call.
    let own = format!(
        "arn:aws:sts::{}:assumed-role/{FUNCTION_ROLE_NAME}/auto-subscribe",
        sender.id
    );
    let before = sender.calls()["calls"].clone();
    for name in ["PutSubscriptionFilter", "DeleteSubscriptionFilter"] {
        let answer = function
            .runtime
            .invoke(&filter_change(name, &sender, group, &own));
        assert_eq!(answer.ok()["outcome"], "skipped", "{answer:?}");
    }
    // And a failed call by someone else.
    let mut failed = filter_change("DeleteSubscriptionFilter", &sender, group, &someone);
    failed["detail"]["errorCode"] = json!("ResourceNotFoundException");
    assert_eq!(function.runtime.invoke(&failed).ok()["outcome"], "skipped");
    assert_eq!(sender.calls()["calls"], before, "not one AWS call");
}

/// A central filter muted without being deleted (re-put with criteria that select nothing, or on
/// transformed events) is not "unchanged": the repair and a sweep both put it right, and the
/// criteria are cleared on AWS's side, not only left out of the put.
#[tokio::test]
async fn a_central_filter_muted_by_hand_is_repaired_by_the_event_and_by_a_sweep() {
    let (sender, central) = subscribed_account(2).await;
    let someone = format!("arn:aws:sts::{}:assumed-role/Admin/mallory", sender.id);
    let mut function = FunctionProcess::start(&sender, &[("EXISTING_FILTERS", "make-room")]);
    let nothing = Narrowed {
        criteria: Some("@aws.region = \"nowhere-1\"".into()),
        ..Narrowed::default()
    };
    let transformed = Narrowed {
        transformed: true,
        ..Narrowed::default()
    };
    for (group, muted) in [("/app/000", &nothing), ("/app/001", &transformed)] {
        sender
            .put_narrowed_filter(group, "central-logging", &central.destination_arn, muted)
            .await;
        assert_eq!(
            &sender.narrowed(group, "central-logging").await,
            muted,
            "the local AWS keeps it"
        );
        let answer = function.runtime.invoke(&filter_change(
            "PutSubscriptionFilter",
            &sender,
            group,
            &someone,
        ));
        assert_eq!(answer.ok()["outcome"], "subscribed", "{group}: {answer:?}");
        assert_eq!(
            sender.narrowed(group, "central-logging").await,
            Narrowed::default(),
            "{group}: ours ships everything again"
        );
        assert_eq!(
            sender.filter_names(group).await,
            ["central-logging", "vendor"]
        );
    }
    // A muting whose event never arrived: the next full sweep puts it right.
    sender
        .put_narrowed_filter(
            "/app/000",
            "central-logging",
            &central.destination_arn,
            &nothing,
        )
        .await;
    let answer = function.runtime.invoke(&fixture("stack/sweep-order.json"));
    assert_eq!(answer.ok()["sweep"]["subscribed"], 1, "{answer:?}");
    assert_eq!(
        sender.narrowed("/app/000", "central-logging").await,
        Narrowed::default()
    );
}

/// `EMIT_SYSTEM_FIELDS` puts the system fields on ours (the centralize-then-forward topology needs
/// the source account and Region in the payload), and a filter of ours without them is stale.
#[tokio::test]
async fn emit_system_fields_reach_our_filter() {
    let (sender, _central) = subscribed_account(1).await;
    let mut function = FunctionProcess::start(
        &sender,
        &[("EMIT_SYSTEM_FIELDS", "@aws.account,@aws.region")],
    );
    let answer = function.runtime.invoke(&fixture("stack/sweep-order.json"));
    assert_eq!(answer.ok()["sweep"]["subscribed"], 1, "{answer:?}");
    assert_eq!(
        sender
            .narrowed("/app/000", "central-logging")
            .await
            .system_fields,
        ["@aws.account", "@aws.region"]
    );
    let again = function.runtime.invoke(&fixture("stack/sweep-order.json"));
    assert_eq!(again.ok()["sweep"]["unchanged"], 1, "{again:?}");
}

#[tokio::test]
async fn two_tools_fighting_over_a_group_stop_after_a_few_repairs_with_a_metric_naming_it() {
    let (sender, central) = subscribed_account(1).await;
    let group = "/app/000";
    let other_tool = format!(
        "arn:aws:sts::{}:assumed-role/other-stack-FunctionRole/other-auto-subscribe",
        sender.id
    );
    let mut function = FunctionProcess::start(&sender, &[]);
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        // The other tool, in replace mode with another destination, puts its filter over ours.
        sender
            .put_filter(group, "central-logging", &central.other_destination_arn)
            .await;
        let before = sender.count("DescribeSubscriptionFilters");
        let answer = function.runtime.invoke(&filter_change(
            "PutSubscriptionFilter",
            &sender,
            group,
            &other_tool,
        ));
        let outcome = answer.ok()["outcome"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        outcomes.push((
            outcome,
            sender.count("DescribeSubscriptionFilters") - before,
        ));
    }
    assert_eq!(
        outcomes,
        [
            ("subscribed".to_owned(), 1),
            ("subscribed".to_owned(), 1),
            ("subscribed".to_owned(), 1),
            ("skipped".to_owned(), 0),
        ]
    );
    let logs = function.stop();
    assert!(logs.contains("repairs stopped"), "{logs}");
    let named = json_lines(&logs)
        .into_iter()
        .find(|l| l.get("_aws").is_some() && l.get("LogGroupName").is_some())
        .unwrap_or_else(|| panic!("a metric naming the group: {logs}"));
    assert_eq!(named["LogGroupName"], group);
    assert_eq!(named["RepairsStopped"], 1);
}

/// The repair limit is no off switch: a filter editor deleting the central filter again and again
/// has it back every time.
#[tokio::test]
async fn a_hand_deletion_is_undone_every_time() {
    let (sender, _central) = subscribed_account(1).await;
    let group = "/app/000";
    let editor = format!("arn:aws:sts::{}:assumed-role/Admin/mallory", sender.id);
    let mut function = FunctionProcess::start(&sender, &[("EXISTING_FILTERS", "make-room")]);
    for round in 0..6 {
        sender.delete_filter(group, "central-logging").await;
        let answer = function.runtime.invoke(&filter_change(
            "DeleteSubscriptionFilter",
            &sender,
            group,
            &editor,
        ));
        assert_eq!(
            answer.ok()["outcome"],
            "subscribed",
            "round {round}: {answer:?}"
        );
        assert_eq!(
            sender.filter_names(group).await,
            ["central-logging", "vendor"]
        );
    }
    let logs = function.stop();
    assert!(!logs.contains("repairs stopped"), "{logs}");
}

/// A continuation is a cue: the groups it carries are read again from AWS, so a carried group whose
/// `arn` names another, untagged group cannot make the function read that group's tags and take
/// our filter off; and what it carries is cut to what one slice can do.
#[tokio::test]
async fn a_forged_continuation_cannot_remove_or_hold_the_quota() {
    let (sender, central) = sender_and_central().await;
    sender
        .create_tagged_group("/app/audit", &[("team", "platform")])
        .await;
    sender
        .put_filter("/app/audit", "central-logging", &central.destination_arn)
        .await;
    sender.create_group("/app/untagged").await;
    let mut function = FunctionProcess::start(&sender, &[("INCLUDE_TAGS", "team=platform")]);
    let forged = json!({"autoSubscribeSweep": {"startedAtMs": 1, "hops": 1, "retry": [
        {"name": "/app/audit", "arn": sender.group_arn("/app/untagged"), "class": "STANDARD"},
    ]}});
    let answer = function.runtime.invoke(&forged);
    assert!(matches!(answer, Answer::Ok(_)), "{answer:?}");
    assert_eq!(
        sender.filter_names("/app/audit").await,
        ["central-logging"],
        "its own tags decide: still selected"
    );
    assert_eq!(sender.count("DeleteSubscriptionFilter"), 0);
    // Thousands of carried names: one invocation reads no more than a slice can handle.
    let names: Vec<String> = (0..2000).map(|i| format!("/nowhere/{i:04}")).collect();
    let listed = sender.count("DescribeLogGroups");
    let answer = function
        .runtime
        .invoke(&json!({"autoSubscribeSweep": {"startedAtMs": 1, "hops": 1, "retry": names}}));
    assert!(matches!(answer, Answer::Ok(_)), "{answer:?}");
    let read = sender.count("DescribeLogGroups") - listed;
    assert!(read <= 500, "cut when read: {read} DescribeLogGroups");
}

/// JSON the function cannot hold as a value is an answer, not an error Lambda would retry into the
/// failure queue; and at TRACE, no log line holds a pre-signed ResponseURL.
#[tokio::test]
async fn odd_json_is_an_answer_and_no_log_line_holds_a_secret_at_trace() {
    let (sender, _central) = subscribed_account(1).await;
    let mut function = FunctionProcess::start(&sender, &[("LOG_LEVEL", "TRACE")]);
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    for body in [
        deep.as_str(),
        r#"{"detail": {"requestParameters": {"logGroupName": "\udc00"}}}"#,
    ] {
        let (answer, _) = function.runtime.invoke_text(body, Duration::from_secs(60));
        assert_eq!(answer.ok()["outcome"], "skipped", "{answer:?}");
    }
    let cloudformation = ResponseUrl::start();
    let secret = format!("{}&X-Amz-Signature=trace-secret", cloudformation.url);
    let request = stack_request("Create", &sender, &secret, "true");
    function.runtime.invoke(&request);
    let logs = function.stop();
    assert!(!logs.is_empty());
    assert!(!logs.contains("trace-secret"), "{logs}");
    assert!(!logs.contains("raw JSON event"), "{logs}");
}

#[tokio::test]
async fn a_continuation_chain_past_its_bound_stops_with_an_error_line_and_a_metric() {
    let (sender, _central) = subscribed_account(1).await;
    let mut function = FunctionProcess::start(&sender, &[]);
    // Handed on 50 times, having listed nothing: no real sweep looks like this.
    let looping = json!({"autoSubscribeSweep": {"nextToken": "t", "startedAtMs": 1, "hops": 50}});
    let answer = function.runtime.invoke(&looping);
    let stopped = answer.ok()["stopped"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(stopped.contains("sweep stopped"), "{answer:?}");
    assert!(sender.take_invocations().is_empty(), "not handed on");
    assert_eq!(sender.count("DescribeLogGroups"), 0, "nothing listed");
    let logs = function.stop();
    let lines = json_lines(&logs);
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("sweep stopped"))),
        "{logs}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.get("_aws").is_some() && l["SweepsStopped"] == 1),
        "{logs}"
    );
}
