//! The stack's lifecycle through the real binary: CloudFormation's requests (from
//! `events/stack/`), answered to a local stand-in for the pre-signed response URL, and what each
//! leaves in the account. The lifecycle's every branch is a table in `src/stack/mod.rs`; these
//! tests prove the wiring, the answer on the wire and the removal across invocations.

use serde_json::{Value, json};

use crate::common::cloudformation::{ResponseUrl, stack_request};
use crate::common::runtime_api::{ABOUT_ONE_PAGE, Answer, FunctionProcess};
use crate::common::{
    Account, groups_with_ours_and_a_vendors, http_post, local_aws, sender_and_central,
};

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
        assert_eq!(
            put.body["RequestId"],
            format!("request-{}", kind.to_lowercase())
        );
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

#[tokio::test]
async fn a_removal_across_invocations_reports_the_whole_removal() {
    let (sender, central) = sender_and_central().await;
    groups_with_ours_and_a_vendors(&sender, &central, 120).await;
    let cloudformation = ResponseUrl::start();
    let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
    sender.set_stack_status("DELETE_IN_PROGRESS");
    let delete = stack_request("Delete", &sender, &cloudformation.url, "true");
    let chain = function.run_chain(&sender, &delete, ABOUT_ONE_PAGE);
    assert!(
        chain.answers.iter().all(|a| matches!(a, Answer::Ok(_))),
        "{chain:?}"
    );
    let invocations = chain.answers.len();
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
    let chain = function.run_chain(&sender, &delete, ABOUT_ONE_PAGE);
    assert_eq!(chain.answers.len(), 1, "no continuation once out of time");
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

/// With `ReservedConcurrency=auto` (the default), Create reserves one execution environment where
/// the account can afford it, and deploys without one where Lambda refuses, as it does in an
/// account vended a minute ago.
#[tokio::test]
async fn create_reserves_concurrency_where_the_account_can_afford_it() {
    for (quota, reserved) in [(1000, "1"), (10, "none")] {
        let (sender, _central) = sender_and_central().await;
        http_post(
            &format!("{}/_fixture/lambda-concurrency", local_aws().endpoint),
            &json!({"account": sender.id, "quota": quota}).to_string(),
        )
        .expect("set the account's concurrency quota");
        let cloudformation = ResponseUrl::start();
        let mut function = FunctionProcess::start(&sender, &[cloudformation.endpoint()]);
        let mut create = stack_request("Create", &sender, &cloudformation.url, "true");
        create["ResourceProperties"]["ReservedConcurrency"] = json!("auto");
        let answer = function.runtime.invoke(&create);
        assert!(matches!(answer, Answer::Ok(_)), "{answer:?}");
        let put = cloudformation.next();
        assert_eq!(put.body["Status"], "SUCCESS", "quota {quota}: {}", put.body);
        assert_eq!(
            put.body["Data"]["ReservedConcurrency"], reserved,
            "quota {quota}"
        );
        assert_eq!(sender.count("PutFunctionConcurrency"), 1);
    }
}
