//! Selection by tag (`INCLUDE_TAGS`, `EXCLUDE_TAGS`, backfill's `--include-tag` / `--exclude-tag`),
//! and tag changes taking effect on their own. Through the real binaries against the local AWS:
//! what they answer, what they leave in the account, and what they cost in calls.

use crate::common::runtime_api::{Answer, FunctionProcess};
use crate::common::{
    Account, Central, backfill, create_log_group_event, fixture, fixture_for, sender_and_central,
};
use serde_json::{Value, json};

/// The tag rules most tests run under: platform's or audit groups, never noisy ones.
const RULES: [(&str, &str); 2] = [
    ("INCLUDE_TAGS", "team=platform, data-class=audit*, shipped"),
    ("EXCLUDE_TAGS", "noisy"),
];

/// A CreateLogGroup event for `group`, with the `tags` parameter when given.
fn created(account: &Account, group: &str, tags: Option<Value>) -> Value {
    let mut event = create_log_group_event(&account.id, group);
    if let Some(tags) = tags {
        event["detail"]["requestParameters"]["tags"] = tags;
    }
    event
}

/// A tag call's event (`TagResource`, `UntagResource`, `TagLogGroup`, `UntagLogGroup`) for
/// `group`, as CloudTrail delivers it.
fn tag_event(account: &Account, fixture: &str, group: &str) -> Value {
    let mut event = fixture_for(fixture, &account.id);
    let params = &mut event["detail"]["requestParameters"];
    if params.get("resourceArn").is_some() {
        params["resourceArn"] = account.group_arn(group).into();
    } else {
        params["logGroupName"] = group.into();
    }
    event
}

/// Tags as a test writes them: (key, value) pairs.
type TagList = &'static [(&'static str, &'static str)];

fn total_calls(account: &Account) -> u64 {
    account.calls()["calls"]
        .as_object()
        .map(|calls| calls.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn new_groups_under_each_rule_shape() {
    let (sender, central) = sender_and_central().await;
    let mut function = FunctionProcess::start(&sender, &RULES);
    // (group, tags it is created with, whether the event carries them, outcome, part of the reason)
    let cases: [(&str, TagList, bool, &str, &str); 7] = [
        (
            "/t/in-event",
            &[("team", "platform")],
            true,
            "subscribed",
            "",
        ),
        ("/t/read", &[("team", "platform")], false, "subscribed", ""),
        (
            "/t/glob-value",
            &[("data-class", "audit-2026")],
            false,
            "subscribed",
            "",
        ),
        ("/t/key-only", &[("shipped", "no")], false, "subscribed", ""),
        (
            "/t/excluded",
            &[("team", "platform"), ("noisy", "true")],
            true,
            "skipped",
            "excluded by EXCLUDE_TAGS tag \"noisy\"",
        ),
        (
            "/t/other-team",
            &[("team", "apps")],
            false,
            "skipped",
            "carries none of the INCLUDE_TAGS tags",
        ),
        (
            "/t/untagged",
            &[],
            false,
            "skipped",
            "carries none of the INCLUDE_TAGS tags",
        ),
    ];
    let mut reads = 0;
    for (group, tags, in_event, outcome, reason) in cases {
        sender.create_tagged_group(group, tags).await;
        let event_tags = in_event.then(|| {
            json!(
                tags.iter()
                    .map(|(k, v)| ((*k).to_owned(), json!(v)))
                    .collect::<serde_json::Map<_, _>>()
            )
        });
        let before = sender.count("ListTagsForResource");
        let described = sender.count("DescribeSubscriptionFilters");
        let answer = function
            .runtime
            .invoke(&created(&sender, group, event_tags));
        let answer = answer.ok();
        assert_eq!(answer["outcome"], outcome, "{group}: {answer}");
        assert!(
            answer["reason"]
                .as_str()
                .unwrap_or_default()
                .contains(reason),
            "{group}: {answer}"
        );
        let read = sender.count("ListTagsForResource") - before;
        // An event's tags are a cue: one that leaves the group out spares the read, one that
        // would have it subscribed is checked with AWS first.
        assert_eq!(
            read,
            u64::from(!in_event || outcome == "subscribed"),
            "{group}: tags read only where a write depends on them"
        );
        reads += read;
        assert_eq!(
            sender.count("DescribeSubscriptionFilters") - described,
            u64::from(outcome == "subscribed"),
            "{group}: only selected groups are described"
        );
        let expected: Vec<(String, String)> = if outcome == "subscribed" {
            vec![("central-logging".into(), central.destination_arn.clone())]
        } else {
            vec![]
        };
        assert_eq!(sender.filters(group).await, expected, "{group}");
    }
    assert_eq!(reads, 6);
    assert_eq!(sender.count("PutSubscriptionFilter"), 4);

    // A forged CreateLogGroup claiming tags the group does not carry: the group's own tags
    // decide, and its other filters stay (replace mode would have removed them).
    let opted_out = "/t/opted-out";
    sender
        .create_tagged_group(opted_out, &[("team", "platform"), ("noisy", "true")])
        .await;
    sender
        .put_filter(opted_out, "vendor", &central.other_destination_arn)
        .await;
    let forged = created(&sender, opted_out, Some(json!({"team": "platform"})));
    let answer = function.runtime.invoke(&forged);
    assert_eq!(answer.ok()["outcome"], "skipped", "{answer:?}");
    assert_eq!(sender.filter_names(opted_out).await, ["vendor"]);
    // Tags the event cannot say (null, a number) are no tags at all: read from the group.
    for (i, odd) in [json!(null), json!({"team": 7})].into_iter().enumerate() {
        let group = format!("/t/odd-{i}");
        sender
            .create_tagged_group(&group, &[("team", "platform")])
            .await;
        let answer = function
            .runtime
            .invoke(&created(&sender, &group, Some(odd.clone())));
        assert_eq!(answer.ok()["outcome"], "subscribed", "{odd}: {answer:?}");
    }
    function.stop();
}

#[tokio::test]
async fn without_tag_rules_no_tag_is_read_and_tag_events_cost_nothing() {
    let (sender, _central) = sender_and_central().await;
    sender
        .create_tagged_group("/t/tagged", &[("team", "platform")])
        .await;
    let mut function = FunctionProcess::start(&sender, &[]);
    let answer = function
        .runtime
        .invoke(&created(&sender, "/t/tagged", None));
    assert_eq!(answer.ok()["outcome"], "subscribed");
    let before = total_calls(&sender);
    for fixture in [
        "tag-resource.json",
        "untag-resource.json",
        "tag-log-group.json",
        "untag-log-group.json",
    ] {
        let answer = function
            .runtime
            .invoke(&tag_event(&sender, fixture, "/t/tagged"));
        let answer = answer.ok();
        assert_eq!(answer["outcome"], "skipped", "{fixture}: {answer}");
        assert!(
            answer["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("no tag rule"),
            "{fixture}: {answer}"
        );
    }
    assert_eq!(
        total_calls(&sender),
        before,
        "tag events without rules: no call"
    );
    assert_eq!(sender.count("ListTagsForResource"), 0);
    // A sweep without tag rules reads no tags either.
    let answer = function.runtime.invoke(&fixture("stack/sweep-order.json"));
    assert_eq!(answer.ok()["sweep"]["total"], 1);
    assert_eq!(sender.count("ListTagsForResource"), 0);
    function.stop();
}

#[tokio::test]
async fn tagging_into_and_out_of_the_selection_takes_effect_on_its_own() {
    let (sender, central) = sender_and_central().await;
    let vendor = central.other_destination_arn.clone();
    let mut settings = RULES.to_vec();
    settings.push(("EXISTING_FILTERS", "keep"));
    let mut function = FunctionProcess::start(&sender, &settings);
    for (group, tag, untag) in [
        ("/t/new-api", "tag-resource.json", "untag-resource.json"),
        ("/t/old-api", "tag-log-group.json", "untag-log-group.json"),
    ] {
        sender.create_group(group).await;
        sender.put_filter(group, "vendor", &vendor).await;
        let answer = function.runtime.invoke(&created(&sender, group, None));
        assert_eq!(answer.ok()["outcome"], "skipped", "{group}: not tagged yet");

        // A forged or stale event is only a cue: the tags are read from AWS.
        let answer = function.runtime.invoke(&tag_event(&sender, tag, group));
        assert_eq!(
            answer.ok()["outcome"],
            "skipped",
            "{group}: still not tagged"
        );
        assert_eq!(sender.filter_names(group).await, ["vendor"]);

        sender.tag(group, &[("team", "platform")]).await;
        let answer = function.runtime.invoke(&tag_event(&sender, tag, group));
        assert_eq!(
            answer.ok()["outcome"],
            "subscribed",
            "{group}: {:?}",
            answer
        );
        assert_eq!(
            sender.filter_names(group).await,
            ["central-logging", "vendor"]
        );

        // Still tagged: an untag event changes nothing.
        let answer = function.runtime.invoke(&tag_event(&sender, untag, group));
        assert_eq!(answer.ok()["outcome"], "unchanged", "{group}");

        // Opted out by an exclude tag: ours comes off, the vendor's stays.
        sender.tag(group, &[("noisy", "yes")]).await;
        let answer = function.runtime.invoke(&tag_event(&sender, tag, group));
        let answer = answer.ok();
        assert_eq!(answer["outcome"], "unsubscribed", "{group}: {answer}");
        assert_eq!(answer["removedFilters"], json!(["central-logging"]));
        assert_eq!(sender.filter_names(group).await, ["vendor"]);

        // Back in, then out by losing the include tag.
        sender.untag(group, &["noisy"]).await;
        let answer = function.runtime.invoke(&tag_event(&sender, untag, group));
        assert_eq!(answer.ok()["outcome"], "subscribed", "{group}");
        sender.untag(group, &["team"]).await;
        let answer = function.runtime.invoke(&tag_event(&sender, untag, group));
        assert_eq!(answer.ok()["outcome"], "unsubscribed", "{group}");
        assert_eq!(sender.filter_names(group).await, ["vendor"]);
    }
    // A tag event for a group that is gone: skipped, nothing written.
    let writes = sender.writes();
    let answer = function
        .runtime
        .invoke(&tag_event(&sender, "tag-resource.json", "/t/gone"));
    assert_eq!(answer.ok()["outcome"], "skipped");
    assert_eq!(sender.writes(), writes);
    function.stop();
}

/// Mixed groups for the sweep and backfill tests: (name, tags, holds our filter).
const MIXED: [(&str, TagList, bool); 6] = [
    ("/mix/platform", &[("team", "platform")], false),
    ("/mix/audit", &[("data-class", "audit")], true),
    ("/mix/untagged-ours", &[], true),
    (
        "/mix/noisy-ours",
        &[("team", "platform"), ("noisy", "1")],
        true,
    ),
    ("/mix/untagged", &[], false),
    ("/elsewhere/ours", &[("team", "platform")], true),
];

async fn mixed_account() -> (Account, Central) {
    let (sender, central) = sender_and_central().await;
    for (group, tags, ours) in MIXED {
        sender.create_tagged_group(group, tags).await;
        if ours {
            sender
                .put_filter(group, "central-logging", &central.destination_arn)
                .await;
        }
    }
    (sender, central)
}

#[tokio::test]
async fn a_sweep_applies_tag_rules_and_reads_tags_only_where_the_name_passes() {
    let (sender, _central) = mixed_account().await;
    let mut settings = RULES.to_vec();
    settings.push(("INCLUDE", "/mix/*"));
    let mut function = FunctionProcess::start(&sender, &settings);
    let answer = function.runtime.invoke(&fixture("stack/sweep-order.json"));
    let sweep = &answer.ok()["sweep"];
    assert_eq!(sweep["total"], 6, "{sweep}");
    assert_eq!(sweep["subscribed"], 1, "/mix/platform: {sweep}");
    assert_eq!(sweep["unchanged"], 1, "/mix/audit: {sweep}");
    assert_eq!(
        sweep["unsubscribed"], 3,
        "untagged, noisy, and the group outside INCLUDE: {sweep}"
    );
    assert_eq!(sweep["skipped"], 1, "/mix/untagged: {sweep}");
    assert_eq!(sweep["failed"], 0);
    assert_eq!(
        sender.count("ListTagsForResource"),
        5 + 2,
        "every /mix/ group's tags, none for the group whose name leaves it out, and once more \
         after each of the two removals by tag (a re-tag meanwhile would bring ours back)"
    );
    assert_eq!(sender.count("DescribeSubscriptionFilters"), 6);
    for (group, names) in [
        ("/mix/platform", vec!["central-logging"]),
        ("/mix/audit", vec!["central-logging"]),
        ("/mix/untagged-ours", vec![]),
        ("/mix/noisy-ours", vec![]),
        ("/mix/untagged", vec![]),
        ("/elsewhere/ours", vec![]),
    ] {
        assert_eq!(sender.filter_names(group).await, names, "{group}");
    }
    function.stop();
}

#[tokio::test]
async fn backfill_applies_tag_flags_under_the_quotas_and_reads_no_tags_without_them() {
    let (sender, _central) = mixed_account().await;
    sender.set_behaviour(json!("aws"), json!({}));
    let run = backfill(
        &sender,
        &[
            "--include-tag",
            "team=platform",
            "--include-tag",
            "data-class=audit*",
            "--exclude-tag",
            "noisy",
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let summary = run.summary();
    assert_eq!(summary["total"], 6, "{summary}");
    // backfill subscribes and removes nothing: groups out of the selection are skipped.
    assert_eq!(summary["subscribed"], 1, "/mix/platform: {summary}");
    assert_eq!(
        summary["unchanged"], 2,
        "/mix/audit and /elsewhere/ours: {summary}"
    );
    assert_eq!(summary["skipped"], 3, "{summary}");
    assert_eq!(sender.count("ListTagsForResource"), 6);
    assert_eq!(
        sender.count("DescribeSubscriptionFilters"),
        3,
        "only groups the tags select are described"
    );
    let throttled = sender.calls()["throttled"].clone();
    assert_eq!(
        throttled,
        json!({}),
        "tag reads are paced under their quota"
    );
    assert_eq!(
        sender.filter_names("/mix/noisy-ours").await,
        ["central-logging"],
        "backfill takes nothing off"
    );
    sender.clear_behaviour();

    // Without tag flags: not one tag read.
    let before = sender.count("ListTagsForResource");
    let run = backfill(&sender, &["--dry-run", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(sender.count("ListTagsForResource"), before);

    // A bad rule is a usage error naming the flag, before any call.
    let calls = total_calls(&sender);
    let run = backfill(&sender, &["--include-tag", "=platform"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--include-tag"), "{run:?}");
    assert!(run.stderr.contains("tag key is empty"), "{run:?}");
    assert_eq!(total_calls(&sender), calls);
}

#[tokio::test]
async fn bad_tag_rules_fail_the_function_at_init_naming_the_variable() {
    let sender = Account::new().await;
    for (var, value) in [("INCLUDE_TAGS", "team=[x"), ("EXCLUDE_TAGS", "a;b")] {
        let function = FunctionProcess::start(&sender, &[(var, value)]);
        let answer = function.runtime.init_error();
        assert!(matches!(answer, Answer::InitError(_)), "{var}: {answer:?}");
        let message = answer.error_message();
        assert!(message.starts_with(var), "{var}: {message}");
    }
}
