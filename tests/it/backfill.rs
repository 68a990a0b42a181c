//! The real `backfill` binary against the local AWS: end states, summaries and exit codes in each
//! mode, dry runs and re-runs that write nothing, and a run under AWS's quotas with injected faults.

use crate::common::{Account, Central, backfill};
use serde_json::json;

const PER_STATE: usize = 30;
/// Fast enough for tests against the local AWS; the quota test below uses the default 5/s.
const TEST_RATE: &str = "1000";

/// The groups of each state, by a name prefix.
const STATES: [&str; 10] = [
    "/mixed/none/",
    "/mixed/ours/",
    "/mixed/stale/",
    "/mixed/one-foreign/",
    "/mixed/two-foreign/",
    "/mixed/duplicate/",
    "/mixed/excluded/",
    "/odd/with#hash.dot_under-dash/",
    "odd.name_",
    "#odd-",
];

/// A sender account holding `PER_STATE` groups in each state, and its central destination.
async fn mixed_account() -> (Account, Central) {
    let sender = Account::new().await;
    let central = Central::new(&[&sender.id]).await;
    sender
        .put_parameter("/central-logging/destination-arn", &central.destination_arn)
        .await;
    for i in 0..PER_STATE {
        for state in STATES {
            sender.create_group(&format!("{state}{i:03}")).await;
        }
        let (dest, other) = (&central.destination_arn, &central.other_destination_arn);
        let filters = [
            ("/mixed/ours/", "central-logging", dest),
            ("/mixed/stale/", "central-logging", other),
            ("/mixed/one-foreign/", "vendor-a", other),
            ("/mixed/two-foreign/", "vendor-a", other),
            ("/mixed/two-foreign/", "vendor-b", other),
            ("/mixed/duplicate/", "Destination", dest),
        ];
        for (state, name, destination) in filters {
            sender
                .put_filter(&format!("{state}{i:03}"), name, destination)
                .await;
        }
    }
    (sender, central)
}

/// The filter names every group of a state must end with, in a mode.
fn expected(state: &str, mode: &str) -> Vec<&'static str> {
    match (state, mode) {
        ("/mixed/excluded/", _) => vec![],
        ("/mixed/one-foreign/", "make-room" | "keep") => vec!["central-logging", "vendor-a"],
        ("/mixed/two-foreign/", "make-room") => vec!["central-logging", "vendor-b"],
        ("/mixed/two-foreign/", "keep") => vec!["vendor-a", "vendor-b"],
        _ => vec!["central-logging"],
    }
}

async fn assert_end_state(sender: &Account, central: &Central, mode: &str) {
    for state in STATES {
        for i in 0..PER_STATE {
            let group = format!("{state}{i:03}");
            let filters = sender.filters(&group).await;
            let names: Vec<&str> = filters.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, expected(state, mode), "{mode}: {group}");
            if let Some((_, dest)) = filters.iter().find(|(n, _)| n == "central-logging") {
                assert_eq!(
                    dest, &central.destination_arn,
                    "{mode}: {group} points at the central destination"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_mode_end_state_summary_and_exit_code() {
    let n = PER_STATE as u64;
    for (mode, subscribed, skipped) in [
        ("replace", 8 * n, n),
        ("make-room", 8 * n, n),
        ("keep", 7 * n, 2 * n),
    ] {
        let (sender, central) = mixed_account().await;
        let run = backfill(
            &sender,
            &[
                "--existing-filters",
                mode,
                "--exclude",
                "/mixed/excluded/*",
                "--output",
                "json",
                "--rate",
                TEST_RATE,
            ],
        );
        assert_eq!(run.code, 0, "{mode}: {run:?}");
        let mut expected_summary = json!({
            "total": 10 * n, "subscribed": subscribed, "unchanged": n, "unsubscribed": 0, "skipped": skipped, "failed": 0, "failures": []
        });
        if mode == "keep" {
            // Of the skipped groups, the full ones: selected, and not shipping.
            expected_summary["noFreeSlot"] = json!(n);
        }
        assert_eq!(run.summary(), expected_summary, "{mode}");
        assert_end_state(&sender, &central, mode).await;
    }
}

#[tokio::test]
async fn dry_run_and_rerun_write_nothing() {
    let (sender, central) = mixed_account().await;
    let args = [
        "--exclude",
        "/mixed/excluded/*",
        "--output",
        "json",
        "--rate",
        TEST_RATE,
    ];

    let before = sender.writes();
    let dry = backfill(&sender, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!(sender.writes(), before, "a dry run makes no write");
    let n = PER_STATE as u64;
    assert_eq!(
        dry.summary()["subscribed"],
        8 * n,
        "outcomes as if applied: {dry:?}"
    );

    let first = backfill(&sender, &args);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(
        first.summary(),
        dry.summary(),
        "the dry run predicted the real run"
    );
    assert_end_state(&sender, &central, "replace").await;

    let after_first = sender.writes();
    let again = backfill(&sender, &args);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(sender.writes(), after_first, "a re-run makes no write");
    assert_eq!(again.summary()["unchanged"], 9 * n);
}

#[tokio::test]
async fn under_aws_quotas_with_faults_every_group_ends_subscribed() {
    let sender = Account::new().await;
    let central = Central::new(&[&sender.id]).await;
    sender
        .put_parameter("/central-logging/destination-arn", &central.destination_arn)
        .await;
    let groups: Vec<String> = (0..24).map(|i| format!("/quota/{i:03}")).collect();
    for (i, group) in groups.iter().enumerate() {
        sender.create_group(group).await;
        if i % 6 == 0 {
            sender
                .put_filter(group, "vendor-a", &central.other_destination_arn)
                .await;
            sender
                .put_filter(group, "vendor-b", &central.other_destination_arn)
                .await;
        }
    }
    sender.set_behaviour(
        json!("aws"),
        json!({
            "PutSubscriptionFilter": {"ServiceUnavailableException": 0.15, "OperationAbortedException": 0.1},
            "DeleteSubscriptionFilter": {"ServiceUnavailableException": 0.15, "OperationAbortedException": 0.1},
            "DescribeSubscriptionFilters": {"ServiceUnavailableException": 0.1},
        }),
    );

    // Default rate: AWS's 5/s. Faults and any throttling are retried; nothing may be lost.
    let run = backfill(&sender, &["--output", "json"]);
    let faults = sender.calls()["faults"].clone();
    sender.clear_behaviour();
    assert_eq!(run.code, 0, "{run:?}");
    let summary = run.summary();
    assert_eq!(summary["failed"], 0, "{run:?}");
    assert_eq!(summary["subscribed"], 24, "{run:?}");
    for group in &groups {
        let names = sender.filter_names(group).await;
        assert_eq!(names, ["central-logging"], "{group}");
    }
    assert!(
        faults["PutSubscriptionFilter"].as_u64().unwrap_or(0) > 0,
        "faults were injected: {faults}"
    );
}

#[tokio::test]
async fn a_failed_group_exits_1_and_is_listed() {
    let sender = Account::new().await;
    let central = Central::new(&["222222222222"]).await; // does not allow the sender
    sender.create_group("/denied/a").await;
    sender.create_group("/denied/b").await;
    let run = backfill(
        &sender,
        &[
            "--destination-arn",
            &central.destination_arn,
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let summary = run.summary();
    assert_eq!(summary["failed"], 2);
    let error = summary["failures"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("must allow account {}", sender.id)),
        "{error}"
    );
    assert!(sender.filters("/denied/a").await.is_empty());
}

#[tokio::test]
async fn usage_and_configuration_errors_exit_2() {
    let sender = Account::new().await;
    let cases: [(&[&str], &str); 6] = [
        (
            &["--existing-filters", "nope"],
            "EXISTING_FILTERS (--existing-filters)",
        ),
        (&["--include", "/a/[x"], "INCLUDE (--include)"),
        (&["--rate", "0"], "--rate must be a positive number"),
        (&["--save-parameter"], "--destination-arn"),
        (&["--bogus-flag"], "--bogus-flag"),
        (
            &[],
            "SSM parameter /central-logging/destination-arn does not exist",
        ),
    ];
    for (args, expected) in cases {
        let run = backfill(&sender, args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {run:?}");
    }
    let run = backfill(
        &sender,
        &[
            "--destination-arn",
            "arn:aws:logs:eu-west-1:999999999999:destination:x",
        ],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("own Region (us-east-1)"), "{run:?}");
}

#[tokio::test]
async fn save_parameter_and_literal_prefix() {
    let sender = Account::new().await;
    let central = Central::new(&[&sender.id]).await;
    for group in ["/aws/lambda/a", "/aws/lambda/b", "/app/c"] {
        sender.create_group(group).await;
    }
    let run = backfill(
        &sender,
        &[
            "--destination-arn",
            &central.destination_arn,
            "--save-parameter",
            "--include",
            "/aws/lambda/*",
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    // Only the two groups under the prefix were listed: the prefix went to DescribeLogGroups.
    assert_eq!(run.summary()["total"], 2, "{run:?}");
    assert!(sender.filters("/app/c").await.is_empty());
    let stored = sender
        .ssm
        .get_parameter()
        .name("/central-logging/destination-arn")
        .send()
        .await
        .expect("saved");
    assert_eq!(
        stored.parameter().and_then(|p| p.value()),
        Some(central.destination_arn.as_str())
    );

    // Text output: a per-outcome summary.
    let text = backfill(&sender, &["--include", "/aws/lambda/*"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("2 log groups") && text.stdout.contains("unchanged    2"),
        "{text:?}"
    );
}

#[tokio::test]
async fn remove_takes_this_tools_filter_off_and_nothing_else() {
    let (sender, central) = mixed_account().await;
    let (ours, other) = (&central.destination_arn, &central.other_destination_arn);
    let args = [
        "--remove",
        "--exclude",
        "/mixed/excluded/*,/odd/*",
        "--output",
        "json",
        "--rate",
        TEST_RATE,
    ];
    // Subscribe everything first, so every selected group holds ours (in replace mode: alone).
    let setup = backfill(&sender, &["--rate", TEST_RATE, "--output", "json"]);
    assert_eq!(setup.code, 0, "{setup:?}");
    // A vendor's filter beside ours, and our name on another destination: neither is ours to remove.
    sender
        .put_filter("/mixed/none/000", "vendor-a", other)
        .await;
    sender
        .put_filter("/mixed/stale/000", "central-logging", other)
        .await;

    let before = sender.writes();
    let dry = backfill(&sender, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!(sender.writes(), before, "a dry run makes no write");

    let run = backfill(&sender, &args);
    assert_eq!(run.code, 0, "{run:?}");
    let n = PER_STATE as u64;
    // 10 states: 1 excluded and 1 under /odd/ are skipped; of the other 8, one group holds our
    // name on another destination.
    let expected = json!({
        "total": 10 * n, "subscribed": 0, "unchanged": 1, "unsubscribed": 8 * n - 1,
        "skipped": 2 * n, "failed": 0, "failures": []
    });
    assert_eq!(run.summary(), expected, "{run:?}");
    assert_eq!(
        dry.summary(),
        expected,
        "the dry run predicted the real run"
    );
    assert_eq!(
        sender.writes() - before,
        8 * n - 1,
        "one delete per group that held ours, nothing else"
    );
    assert_eq!(
        sender.filters("/mixed/none/000").await,
        vec![("vendor-a".to_owned(), other.clone())]
    );
    assert_eq!(
        sender.filters("/mixed/stale/000").await,
        vec![("central-logging".to_owned(), other.clone())]
    );
    for state in ["/mixed/ours/", "/mixed/two-foreign/", "odd.name_", "#odd-"] {
        assert!(
            sender.filters(&format!("{state}001")).await.is_empty(),
            "{state}"
        );
    }
    assert_eq!(
        sender.filters("/odd/with#hash.dot_under-dash/001").await,
        vec![("central-logging".to_owned(), ours.clone())],
        "excluded groups keep ours"
    );

    // A re-run finds nothing of ours and writes nothing; text output names the outcome.
    let after = sender.writes();
    let text = backfill(
        &sender,
        &[
            "--remove",
            "--exclude",
            "/mixed/excluded/*,/odd/*",
            "--rate",
            TEST_RATE,
        ],
    );
    assert_eq!(text.code, 0, "{text:?}");
    assert_eq!(sender.writes(), after);
    assert!(text.stdout.contains("unsubscribed 0"), "{text:?}");

    let conflicting = backfill(
        &sender,
        &["--remove", "--save-parameter", "--destination-arn", ours],
    );
    assert_eq!(conflicting.code, 2, "{conflicting:?}");
}
