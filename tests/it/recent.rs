//! Recent-groups sweeps: only the groups created within a window are described and planned; the
//! rest are counted as not checked, at no call. Through the real binaries against the local AWS,
//! whose groups can be made to look old.

use crate::common::runtime_api::FunctionProcess;
use crate::common::{Account, Central, backfill, fixture, json_lines, sender_and_central};
use serde_json::json;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// `old` groups created two days ago (every third holding our filter, the rest none), and
/// `recent` groups created a few minutes ago whose events were lost (no filter).
async fn aged_account(old: usize, recent: usize) -> (Account, Central) {
    let (sender, central) = sender_and_central().await;
    for i in 0..old {
        let group = format!("/old/{i:03}");
        sender.create_group(&group).await;
        if i % 3 == 0 {
            sender
                .put_filter(&group, "central-logging", &central.destination_arn)
                .await;
        }
        sender.set_age(&group, 2 * DAY);
    }
    for i in 0..recent {
        let group = format!("/recent/{i:02}");
        sender.create_group(&group).await;
        sender.set_age(&group, Duration::from_secs(300));
    }
    (sender, central)
}

#[tokio::test]
async fn a_recent_sweep_across_invocations_subscribes_recent_groups_and_never_describes_old_ones() {
    let (sender, _central) = aged_account(90, 6).await;
    let mut function = FunctionProcess::start(&sender, &[]);
    // No time past the 60 s reserve: each invocation lists one page (50 groups), then hands on.
    let short = Duration::from_millis(60_000);
    // What the stack's recent-sweep schedule sends.
    let order = fixture("stack/recent-sweep-order.json");
    let chain = function.run_chain(&sender, &order, short);
    for answer in &chain.answers {
        assert_eq!(answer.ok()["kind"], "recent", "{answer:?}");
    }
    for payload in &chain.handed_on {
        assert_eq!(
            payload["autoSubscribeSweep"]["createdWithinSeconds"], 2100,
            "a continuation keeps the kind"
        );
    }
    let invocations = chain.answers.len();
    let mut whole = json!({});
    for key in ["total", "subscribed", "notChecked", "unchanged", "failed"] {
        whole[key] = json!(chain.swept(key));
    }
    assert!(invocations >= 2, "96 groups in pages of 50: {invocations}");
    assert_eq!(
        whole,
        json!({"total": 96, "subscribed": 6, "notChecked": 90, "unchanged": 0, "failed": 0})
    );
    assert_eq!(
        sender.count("DescribeSubscriptionFilters"),
        6,
        "only the recent groups are described"
    );
    for i in 0..6 {
        assert_eq!(
            sender.filter_names(&format!("/recent/{i:02}")).await,
            ["central-logging"]
        );
    }
    // Old groups without our filter stay as they were: a full sweep's job.
    assert!(sender.filter_names("/old/001").await.is_empty());
    let logs = function.stop();
    let lines = json_lines(&logs);
    let done = lines
        .iter()
        .find(|l| l["fields"]["message"] == "sweep done")
        .unwrap_or_else(|| panic!("a sweep done line: {logs}"));
    assert_eq!(done["fields"]["kind"], "recent");
    assert_eq!(done["fields"]["not_checked"], 90);
    assert!(
        lines
            .iter()
            .filter(|l| l.get("_aws").is_some())
            .all(|l| l["SweepKind"] == "recent"),
        "every slice's metrics carry the kind: {logs}"
    );
}

#[tokio::test]
async fn a_full_sweep_order_checks_every_group() {
    let (sender, _central) = aged_account(10, 2).await;
    let mut function = FunctionProcess::start(&sender, &[]);
    let answer = function.runtime.invoke(&fixture("stack/sweep-order.json"));
    let answer = answer.ok();
    assert_eq!(answer["kind"], "full");
    assert_eq!(answer["sweep"]["total"], 12);
    assert!(
        answer["sweep"].get("notChecked").is_none(),
        "a full sweep checks every group: {answer}"
    );
    assert_eq!(sender.count("DescribeSubscriptionFilters"), 12);
}

#[tokio::test]
async fn backfill_created_within_audits_in_dry_run_then_subscribes_only_recent_groups() {
    let (sender, _central) = aged_account(30, 4).await;
    let (writes, describes) = (sender.writes(), sender.count("DescribeSubscriptionFilters"));
    let run = backfill(
        &sender,
        &["--created-within", "90m", "--dry-run", "--output", "json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let dry = run.summary();
    assert_eq!(
        (&dry["total"], &dry["subscribed"], &dry["notChecked"]),
        (&json!(34), &json!(4), &json!(30)),
        "{dry}"
    );
    assert_eq!(sender.writes(), writes, "a dry run writes nothing");
    assert_eq!(
        sender.count("DescribeSubscriptionFilters") - describes,
        4,
        "old groups are not described"
    );

    let run = backfill(&sender, &["--created-within", "1d", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = run.summary();
    assert_eq!(
        (&run["subscribed"], &run["notChecked"]),
        (&json!(4), &json!(30)),
        "{run}"
    );
    assert!(sender.filter_names("/old/001").await.is_empty());
    assert_eq!(sender.filter_names("/recent/03").await, ["central-logging"]);

    let bad = backfill(&sender, &["--created-within", "soon"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--created-within"), "{bad:?}");
}
