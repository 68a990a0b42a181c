//! `audit` end to end: the real binary, run from a management account of an organization (moto's
//! Organizations), assuming a role in each member account (the local AWS's STS), over several
//! Regions; every verdict, every output format, the exit codes, and the canary with the real
//! function binary answering.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::runtime_api::FunctionProcess;
use crate::common::{Account, Central, create_log_group_event, http_post, local_aws};

const ROLE: &str = "aws-controltower-ReadOnlyExecutionRole";
const PARAMETER: &str = "/central-logging/destination-arn";

/// What one run of the real `audit` binary printed, and its exit code.
struct Audit {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Audit {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {self:?}"))
    }
}

fn audit_command(caller: &Account, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audit"));
    command.env_clear().envs(caller.env()).args(args);
    command
}

fn audit(caller: &Account, args: &[&str]) -> Audit {
    let output = audit_command(caller, args).output().expect("run audit");
    Audit {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn fixture(path: &str, body: Value) {
    http_post(
        &format!("{}{path}", local_aws().endpoint),
        &body.to_string(),
    )
    .expect("fixture");
}

/// The role `audit` assumes, made assumable in `account`.
fn with_role(account: &Account) {
    fixture(
        "/_fixture/roles",
        json!({"account": account.id, "roleName": ROLE}),
    );
}

/// An organization whose management account is `management`, with two new member accounts.
async fn organization(management: &Account) -> (Account, Account, String) {
    let org = aws_sdk_organizations::Client::new(&management.config);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create the organization");
    let mut members = Vec::new();
    for name in ["workload", "sandbox"] {
        let status = org
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("create an account");
        let id = status
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("an account ID")
            .to_owned();
        members.push(Account::with_id(&id).await);
    }
    let root = org
        .list_roots()
        .send()
        .await
        .expect("roots")
        .roots()
        .first()
        .and_then(|r| r.id().map(str::to_owned))
        .expect("a root");
    let ou = org
        .create_organizational_unit()
        .parent_id(&root)
        .name("workloads")
        .send()
        .await
        .expect("an OU")
        .organizational_unit()
        .and_then(|u| u.id().map(str::to_owned))
        .expect("its ID");
    org.move_account()
        .account_id(&members[0].id)
        .source_parent_id(&root)
        .destination_parent_id(&ou)
        .send()
        .await
        .expect("move the workload account");
    let sandbox = members.pop().expect("two");
    let workload = members.pop().expect("two");
    (workload, sandbox, ou)
}

async fn put_filter_with(
    account: &Account,
    group: &str,
    name: &str,
    to: &str,
    pattern: &str,
    criteria: Option<&str>,
) {
    account
        .logs
        .put_subscription_filter()
        .log_group_name(group)
        .filter_name(name)
        .filter_pattern(pattern)
        .destination_arn(to)
        .set_field_selection_criteria(criteria.map(str::to_owned))
        .send()
        .await
        .expect("put a filter");
}

#[tokio::test]
async fn an_organization_audited_across_accounts_and_regions() {
    let management = Account::new().await;
    let (workload, sandbox, ou) = organization(&management).await;
    let outsider = Account::new().await;
    let central = Central::new(&[&workload.id, &sandbox.id, &outsider.id]).await;
    let leak = Central::new(&[&workload.id]).await;
    // The workload account: the stack's parameter in us-east-1, none in eu-west-1; a group of
    // each verdict.
    with_role(&workload);
    fixture(
        "/_fixture/regions",
        json!({"account": workload.id, "enabled": ["us-east-1", "eu-west-1"], "disabled": ["ap-south-2"]}),
    );
    workload
        .put_parameter(PARAMETER, &central.destination_arn)
        .await;
    for group in [
        "/app/ok",
        "/app/none",
        "/app/stale",
        "/app/muted",
        "/app/leaky",
        "/app/renamed",
        "/app/full",
        "/excluded/x",
    ] {
        workload.create_group(group).await;
        workload.set_age(group, Duration::from_secs(3600));
    }
    // Created a moment ago: its event may still be on its way.
    workload.create_group("/app/new").await;
    let to = &central.destination_arn;
    put_filter_with(&workload, "/app/ok", "central-logging", to, "", None).await;
    put_filter_with(
        &workload,
        "/app/stale",
        "central-logging",
        to,
        "ERROR",
        None,
    )
    .await;
    put_filter_with(
        &workload,
        "/app/muted",
        "central-logging",
        to,
        "",
        Some("@aws.region = \"nowhere-1\""),
    )
    .await;
    put_filter_with(&workload, "/app/leaky", "central-logging", to, "", None).await;
    put_filter_with(
        &workload,
        "/app/leaky",
        "exfil",
        &leak.destination_arn,
        "",
        None,
    )
    .await;
    let elsewhere = &central.other_destination_arn;
    put_filter_with(
        &workload,
        "/app/renamed",
        "central-logging",
        elsewhere,
        "",
        None,
    )
    .await;
    put_filter_with(&workload, "/app/full", "vendor-a", elsewhere, "", None).await;
    put_filter_with(&workload, "/app/full", "vendor-b", elsewhere, "", None).await;
    // The sandbox account: no role to assume.
    sandbox
        .put_parameter(PARAMETER, &central.destination_arn)
        .await;

    let run = audit(
        &management,
        &[
            "--organization",
            "--regions",
            "us-east-1,eu-west-1",
            "--exclude",
            "/excluded/*",
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    let entries = report["accountRegions"].as_array().expect("entries");
    let entry = |account: &str, region: &str| {
        entries
            .iter()
            .find(|e| e["accountId"] == account && e["region"] == region)
            .unwrap_or_else(|| panic!("{account} {region}: {report}"))
            .clone()
    };
    let east = entry(&workload.id, "us-east-1");
    assert_eq!(east["status"], "gaps", "{east}");
    assert_eq!(
        (east["eligible"].as_u64(), east["subscribed"].as_u64()),
        (Some(8), Some(2)),
        "{east}"
    );
    let gaps: Vec<(String, String)> = east["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .map(|g| {
            (
                g["logGroupName"].as_str().unwrap_or_default().to_owned(),
                g["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (group, part) in [
        ("/app/none", "no filter of ours"),
        ("/app/stale", "stale: pattern \"ERROR\""),
        ("/app/muted", "muted by fieldSelectionCriteria"),
        ("/app/renamed", "a filter named ours ships to"),
        ("/app/new", "created in the last minutes"),
        ("/app/full", "no filter of ours"),
    ] {
        assert!(
            gaps.iter().any(|(g, r)| g == group && r.contains(part)),
            "{group}: {gaps:?}"
        );
    }
    assert_eq!(
        east["foreignDestinations"],
        json!([{"logGroupName": "/app/leaky", "filterName": "exfil", "destinationArn": leak.destination_arn}])
    );
    assert_eq!(east["stackPresent"], true);
    let west = entry(&workload.id, "eu-west-1");
    assert_eq!(
        (west["status"].as_str(), west["stackPresent"].as_bool()),
        (Some("error"), Some(false)),
        "{west}"
    );
    assert!(
        west["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no auto-subscribe stack"),
        "{west}"
    );
    let sandboxed = entry(&sandbox.id, "*");
    assert!(
        sandboxed["error"]
            .as_str()
            .unwrap_or_default()
            .contains("sts:AssumeRole"),
        "{sandboxed}"
    );
    assert!(
        entries.iter().any(|e| e["accountId"] == management.id),
        "the management account too"
    );
    assert_eq!(report["summary"]["gaps"], 6, "{}", report["summary"]);
    assert_eq!(report["summary"]["foreignDestinations"], 1);

    // Read-only: nothing was written.
    assert_eq!(
        workload.count("PutSubscriptionFilter"),
        8,
        "only the set-up's puts"
    );
    assert_eq!(workload.count("DeleteSubscriptionFilter"), 0);

    // One OU: the workload account only; all its enabled Regions; a disabled Region is an error.
    let run = audit(
        &management,
        &["--ou", &ou, "--regions", "all", "--output", "json"],
    );
    let report = run.json();
    let regions: Vec<&str> = report["accountRegions"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["region"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1"], "{run:?}");
    let run = audit(
        &management,
        &[
            "--accounts",
            &workload.id,
            "--regions",
            "ap-south-2",
            "--output",
            "json",
        ],
    );
    let disabled = &run.json()["accountRegions"][0];
    assert!(
        disabled["error"]
            .as_str()
            .unwrap_or_default()
            .contains("UnrecognizedClient")
            || disabled["error"]
                .as_str()
                .unwrap_or_default()
                .contains("security token"),
        "{disabled}"
    );

    // In keep mode, a full group is a gap of its own kind.
    let keep = audit(
        &management,
        &[
            "--accounts",
            &workload.id,
            "--regions",
            "us-east-1",
            "--existing-filters",
            "keep",
            "--output",
            "json",
        ],
    );
    let full = keep.json()["accountRegions"][0]["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .find(|g| g["logGroupName"] == "/app/full")
        .cloned();
    assert_eq!(
        full.map(|g| g["reason"].clone()),
        Some(json!("no free slot in keep mode")),
        "{keep:?}"
    );

    // CSV: one row per gap, foreign destination and error; HTML: one page, escaped.
    let only = [
        "--accounts",
        &workload.id,
        "--regions",
        "us-east-1",
        "--exclude",
        "/excluded/*",
    ];
    let csv = audit(&management, &[&only[..], &["--output", "csv"]].concat());
    assert_eq!(csv.code, 1);
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(rows[0], "accountId,region,kind,logGroupName,detail");
    assert_eq!(rows.len(), 1 + 6 + 1, "{csv:?}");
    assert!(
        rows.iter().any(|r| r.contains(",foreign,/app/leaky,")),
        "{csv:?}"
    );
    let html = audit(&management, &[&only[..], &["--output", "html"]].concat());
    assert!(html.stdout.starts_with("<!doctype html>"), "{html:?}");
    assert!(
        html.stdout.contains("/app/leaky") && html.stdout.contains("&quot;ERROR&quot;"),
        "{html:?}"
    );

    // An outsider's account, fully covered: exit 0, and the text report says so.
    with_role(&outsider);
    outsider
        .put_parameter(PARAMETER, &central.destination_arn)
        .await;
    outsider.create_group("/app/one").await;
    put_filter_with(
        &outsider,
        "/app/one",
        "central-logging",
        &central.destination_arn,
        "",
        None,
    )
    .await;
    let text = audit(&management, &["--accounts", &outsider.id]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("covered") && text.stdout.contains("1 covered"),
        "{text:?}"
    );

    // Usage errors exit 2.
    assert_eq!(audit(&management, &[]).code, 2);
    assert_eq!(
        audit(
            &management,
            &[
                "--accounts",
                &workload.id,
                "--existing-filters",
                "sometimes"
            ]
        )
        .code,
        2
    );
}

/// A management account, and a member whose role it may assume, with the stack's parameter
/// naming a central destination open to it.
async fn one_member_with_the_stack() -> (Account, Account, Central) {
    let management = Account::new().await;
    let member = Account::new().await;
    let central = Central::new(&[&member.id]).await;
    with_role(&member);
    member
        .put_parameter(PARAMETER, &central.destination_arn)
        .await;
    (management, member, central)
}

/// The canary groups in `account`, by name.
async fn canaries(account: &Account) -> Vec<String> {
    account
        .logs
        .describe_log_groups()
        .log_group_name_prefix("/auto-subscribe/canary/")
        .send()
        .await
        .expect("list")
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_account_policy_is_reported_and_covers_its_groups() {
    let (management, member, central) = one_member_with_the_stack().await;
    member.create_group("/app/a").await;
    member.set_age("/app/a", Duration::from_secs(3600));
    member
        .logs
        .put_account_policy()
        .policy_name("org-wide")
        .policy_type(aws_sdk_cloudwatchlogs::types::PolicyType::SubscriptionFilterPolicy)
        .policy_document(json!({"DestinationArn": central.destination_arn}).to_string())
        .send()
        .await
        .expect("an account policy");
    let run = audit(&management, &["--accounts", &member.id, "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let entry = &run.json()["accountRegions"][0];
    assert_eq!(entry["coveredByPolicy"], 1, "{entry}");
    assert_eq!(
        entry["accountPolicies"],
        json!([{"policyName": "org-wide", "destinationArn": central.destination_arn, "central": true}])
    );
}

#[tokio::test]
async fn the_canary_proves_the_function_end_to_end() {
    let (management, member, _central) = one_member_with_the_stack().await;
    let mut function = FunctionProcess::start(&member, &[]);
    let child = audit_command(
        &management,
        &[
            "--accounts",
            &member.id,
            "--canary",
            "--canary-timeout",
            "60s",
            "--output",
            "json",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start audit");
    // Stand in for CloudTrail and EventBridge: deliver the canary's CreateLogGroup to the function.
    let started = Instant::now();
    let canary = loop {
        if let Some(name) = canaries(&member).await.pop() {
            break name;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no canary group appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let answer = function
        .runtime
        .invoke(&create_log_group_event(&member.id, &canary));
    assert_eq!(answer.ok()["outcome"], "subscribed");
    let output = child.wait_with_output().expect("audit ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let verdict = &report["accountRegions"][0]["canary"];
    assert_eq!(
        (
            verdict["logGroupName"].as_str(),
            verdict["subscribed"].as_bool()
        ),
        (Some(canary.as_str()), Some(true)),
        "{verdict}"
    );
    assert!(
        verdict["seconds"].as_f64().is_some_and(|s| s < 60.0),
        "{verdict}"
    );
    assert!(canaries(&member).await.is_empty(), "the canary is deleted");
    function.stop();

    // A selection that leaves the canary's names out: the function would leave it alone, so
    // none is created, and that is no failure.
    let skipped = audit(
        &management,
        &[
            "--accounts",
            &member.id,
            "--canary",
            "--exclude",
            "/auto-subscribe/*",
            "--output",
            "json",
        ],
    );
    assert_eq!(skipped.code, 0, "{skipped:?}");
    let verdict = &skipped.json()["accountRegions"][0]["canary"];
    assert!(
        verdict["skipped"]
            .as_str()
            .is_some_and(|s| s.contains("/auto-subscribe/canary/* out")),
        "{verdict}"
    );
    assert!(canaries(&member).await.is_empty(), "no canary created");
}
