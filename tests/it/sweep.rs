//! Sweeps through the real binary: the stack's orders (`events/stack/`), cut into invocations by
//! short deadlines and handed on, as Lambda runs them. Recent-groups sweeps are in `recent.rs`;
//! a slice's every branch is a unit test in `src/sweep/slices.rs`.

use crate::common::runtime_api::{ABOUT_ONE_PAGE, FunctionProcess};
use crate::common::{fixture, group_with_ours_and_a_vendors, json_lines, sender_and_central};

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
    // What the stack's full-sweep schedule sends.
    let order = fixture("stack/sweep-order.json");
    let chain = function.run_chain(&sender, &order, ABOUT_ONE_PAGE);
    let invocations = chain.answers.len();
    let (total, subscribed, unsubscribed) = (
        chain.swept("total"),
        chain.swept("subscribed"),
        chain.swept("unsubscribed"),
    );
    assert_eq!(chain.swept("failed"), 0, "{chain:?}");
    for answer in &chain.answers {
        assert_eq!(answer.ok()["kind"], "full", "{answer:?}");
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
    // The last slice reports the account's coverage, once, for a cross-account dashboard.
    let last = chain.answers.last().expect("answers").ok();
    assert_eq!(
        last["coverage"],
        serde_json::json!({"eligible": 110, "subscribed": 110}),
        "{last}"
    );
    let coverage: Vec<(u64, u64)> = json_lines(&logs)
        .iter()
        .filter(|l| l.get("CoverageEligible").is_some())
        .map(|m| {
            (
                m["CoverageEligible"].as_u64().unwrap_or(0),
                m["CoverageSubscribed"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(coverage, [(110, 110)]);
}
