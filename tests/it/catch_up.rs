//! The catch-up sweep through the real binaries: `{"sweep": {"changedWithinSeconds": N}}` and
//! `backfill --changed-within`, reading the event history the local AWS keeps of the calls it
//! actually served, as CloudTrail records them. No event is delivered to the function here: every
//! change below is one whose event was lost.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::runtime_api::FunctionProcess;
use crate::common::{Account, backfill, json_lines, sender_and_central};

const MINUTE: Duration = Duration::from_secs(60);
/// An invocation with half a minute to list after the reserve: the lookups (seven calls at
/// 1/s) and the changed groups fit in one.
const ROOM: Duration = Duration::from_secs(90);

/// What the stack's frequent schedule sends.
fn catch_up() -> Value {
    crate::common::fixture("stack/changed-sweep-order.json")
}

/// The metric `name` summed over the function's EMF lines.
fn metric(logs: &str, name: &str) -> u64 {
    json_lines(logs)
        .iter()
        .filter(|l| l.get("_aws").is_some())
        .map(|m| m[name].as_u64().unwrap_or(0))
        .sum()
}

/// Everything the history holds for this account pushed out of any window, so a test starts
/// from the changes it makes next.
fn forget_history(account: &Account) {
    account.shift_history(None, Duration::from_secs(30 * 24 * 3600));
}

#[tokio::test]
async fn lost_creations_deletions_and_tag_changes_are_each_caught_by_one_catch_up() {
    let (sender, central) = sender_and_central().await;
    // A group with ours whose filter someone deletes by hand, and one whose tag someone removes.
    for group in ["/app/hand-deleted", "/app/untagged"] {
        sender
            .create_tagged_group(group, &[("team", "platform")])
            .await;
        sender
            .put_filter(group, "central-logging", &central.destination_arn)
            .await;
    }
    forget_history(&sender);
    sender.create_group("/app/new").await;
    sender
        .delete_filter("/app/hand-deleted", "central-logging")
        .await;
    sender.untag("/app/untagged", &["team"]).await;
    sender.tag("/app/new", &[("team", "platform")]).await;
    // The changes were made 20 minutes ago: their events are long overdue.
    sender.shift_history(None, 20 * MINUTE);
    let describes = sender.count("DescribeSubscriptionFilters");

    let mut function = FunctionProcess::start(&sender, &[("INCLUDE_TAGS", "team=platform")]);
    let chain = function.run_chain(&sender, &catch_up(), ROOM);
    assert_eq!(chain.answers.len(), 1, "{chain:?}");
    let answer = chain.answers[0].ok();
    assert_eq!(answer["kind"], "changed", "{answer}");
    assert_eq!(
        (
            chain.swept("total"),
            chain.swept("subscribed"),
            chain.swept("unsubscribed")
        ),
        (3, 2, 1),
        "{chain:?}"
    );
    assert_eq!(answer["lostEvents"], 3, "{answer}");
    assert_eq!(
        sender.count("DescribeSubscriptionFilters") - describes,
        3,
        "each changed group once, nothing else"
    );
    assert_eq!(sender.filter_names("/app/new").await, ["central-logging"]);
    assert_eq!(
        sender.filter_names("/app/hand-deleted").await,
        ["central-logging"]
    );
    assert!(sender.filter_names("/app/untagged").await.is_empty());
    // Seven call names, one page each; nothing listed.
    assert_eq!(sender.count("LookupEvents"), 7);
    let logs = function.stop();
    assert_eq!(metric(&logs, "LostEvents"), 3, "{logs}");
    let lost: Vec<(String, String)> = json_lines(&logs)
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("event lost"))
        })
        .map(|l| {
            (
                l["fields"]["log_group"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                l["fields"]["call"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (group, call) in [
        ("/app/hand-deleted", "DeleteSubscriptionFilter"),
        ("/app/untagged", "UntagResource"),
        ("/app/new", "TagResource"),
    ] {
        assert!(
            lost.contains(&(group.to_owned(), call.to_owned())),
            "{group} {call}: {lost:?}"
        );
    }
    assert!(
        json_lines(&logs)
            .iter()
            .any(|l| l["fields"]["message"] == "sweep done" && l["fields"]["kind"] == "changed"),
        "{logs}"
    );
}

#[tokio::test]
async fn the_functions_own_calls_and_failed_calls_are_left_out_and_recent_ones_are_not_lost() {
    let (sender, central) = sender_and_central().await;
    sender.create_group("/app/theirs").await;
    sender.create_group("/app/ours").await;
    forget_history(&sender);
    // The function subscribes `/app/ours` itself (its own PutSubscriptionFilter, recorded as its
    // role's session); a failed CreateLogGroup names `/app/theirs`.
    let mut function = FunctionProcess::start(&sender, &[]);
    let answer = function
        .runtime
        .invoke(&crate::common::create_log_group_event(
            &sender.id,
            "/app/ours",
        ));
    assert_eq!(answer.ok()["outcome"], "subscribed");
    let failed = sender
        .logs
        .create_log_group()
        .log_group_name("/app/theirs")
        .send()
        .await;
    assert!(failed.is_err(), "the group exists");
    // And someone puts a vendor filter on a third group, a minute ago: caught, not lost.
    sender.create_group("/app/vendor").await;
    sender
        .put_filter("/app/vendor", "vendor", &central.other_destination_arn)
        .await;
    let describes = sender.count("DescribeSubscriptionFilters");

    let chain = function.run_chain(&sender, &catch_up(), ROOM);
    let answer = chain.answers[0].ok();
    assert_eq!(
        (chain.swept("total"), chain.swept("subscribed")),
        (1, 1),
        "only /app/vendor: {chain:?}"
    );
    assert!(answer.get("lostEvents").is_none(), "{answer}");
    assert_eq!(sender.count("DescribeSubscriptionFilters") - describes, 1);
    assert!(sender.filter_names("/app/theirs").await.is_empty());
    let logs = function.stop();
    let looked_up = json_lines(&logs)
        .into_iter()
        .find(|l| l["fields"]["message"] == "changes looked up")
        .unwrap_or_else(|| panic!("{logs}"));
    // Left out: the failed CreateLogGroup and the function's own put.
    assert_eq!(looked_up["fields"]["left_out"], 2, "{looked_up}");
    assert_eq!(metric(&logs, "LostEvents"), 0);
}

#[tokio::test]
async fn pages_and_window_edges() {
    let (sender, _central) = sender_and_central().await;
    let groups: Vec<String> = (0..60).map(|i| format!("/burst/{i:02}")).collect();
    for group in &groups {
        sender.create_group(group).await;
    }
    // Just inside a 45-minute window, and just outside it.
    sender.create_group("/edge/inside").await;
    sender.create_group("/edge/outside").await;
    sender.shift_history(Some("/edge/inside"), 44 * MINUTE);
    sender.shift_history(Some("/edge/outside"), 46 * MINUTE);

    let mut function = FunctionProcess::start(&sender, &[]);
    let chain = function.run_chain(&sender, &catch_up(), ROOM);
    assert_eq!(chain.swept("subscribed"), 61, "{chain:?}");
    for group in groups.iter().chain([&"/edge/inside".to_owned()]) {
        assert_eq!(
            sender.filter_names(group).await,
            ["central-logging"],
            "{group}"
        );
    }
    assert!(sender.filter_names("/edge/outside").await.is_empty());
    // CreateLogGroup took two pages (61 events at 50 a page); the six other calls one each.
    assert_eq!(sender.count("LookupEvents"), 8);
    function.stop();
}

#[tokio::test]
async fn a_denied_lookup_falls_back_to_the_listing_recent_sweep_with_a_warning() {
    let (sender, _central) = sender_and_central().await;
    sender.create_group("/app/new").await;
    sender.set_behaviour(
        json!({}),
        json!({"LookupEvents": {"AccessDeniedException": 1.0}}),
    );
    let mut function = FunctionProcess::start(&sender, &[]);
    let chain = function.run_chain(&sender, &catch_up(), ROOM);
    let answer = chain.answers[0].ok();
    assert_eq!(answer["kind"], "recent", "{answer}");
    assert_eq!(chain.swept("subscribed"), 1);
    assert!(sender.count("DescribeLogGroups") >= 1, "listed instead");
    let logs = function.stop();
    assert!(
        json_lines(&logs).iter().any(|l| l["level"] == "WARN"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("cloudtrail:LookupEvents"))),
        "{logs}"
    );
}

#[tokio::test]
async fn backfill_changed_within_catches_up_from_the_command_line() {
    let (sender, _central) = sender_and_central().await;
    sender.create_group("/app/old").await;
    forget_history(&sender);
    sender.create_group("/app/new").await;

    let dry = backfill(
        &sender,
        &["--changed-within", "1h", "--dry-run", "--output", "json"],
    );
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!(
        (&dry.summary()["total"], &dry.summary()["subscribed"]),
        (&json!(1), &json!(1))
    );
    assert!(
        sender.filter_names("/app/new").await.is_empty(),
        "a dry run"
    );

    let run = backfill(&sender, &["--changed-within", "1h"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("1 log groups changed within 1h"),
        "{run:?}"
    );
    assert_eq!(sender.filter_names("/app/new").await, ["central-logging"]);
    assert!(sender.filter_names("/app/old").await.is_empty());

    let usage = backfill(
        &sender,
        &["--changed-within", "1h", "--created-within", "1h"],
    );
    assert_eq!(usage.code, 2, "{usage:?}");
    sender.set_behaviour(
        json!({}),
        json!({"LookupEvents": {"AccessDeniedException": 1.0}}),
    );
    let denied = backfill(&sender, &["--changed-within", "1h"]);
    assert_eq!(denied.code, 1, "{denied:?}");
    assert!(
        denied.stderr.contains("cloudtrail:LookupEvents"),
        "{denied:?}"
    );
}
