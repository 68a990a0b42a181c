//! `make demo`: the function, run for real against an embedded local AWS.
//!
//! Starts the local AWS (moto's server plus our fixture), sets up a central account with a
//! CloudWatch Logs destination and a sender account with log groups in mixed states, runs the
//! `auto-subscribe` binary through a Runtime API emulator on `events/create-log-group.json` and a
//! few more events, then on the schedules' catch-up (two changes whose events were lost) and full
//! sweep, and prints what it answered and each group's filters before and after.

#[allow(dead_code)] // the demo uses a part of the tests' harness
#[path = "../tests/it/common/mod.rs"]
mod common;

use common::runtime_api::{Answer, FunctionProcess};
use common::{Account, Central, create_log_group_event, fixture};

const SENDER: &str = "111111111111"; // the account in events/*.json
const CENTRAL: &str = "999999999999"; // the central (recipient) account

#[tokio::main]
async fn main() {
    println!("Starting the local AWS (moto's server with the fixture's additions)...");
    let sender = Account::with_id(SENDER).await;
    let central = Central::in_account(Account::with_id(CENTRAL).await, &[SENDER]).await;
    println!(
        "  central account {CENTRAL}: destination {}",
        central.destination_arn
    );
    println!(
        "                          another vendor's destination {}",
        central.other_destination_arn
    );
    sender
        .put_parameter("/central-logging/destination-arn", &central.destination_arn)
        .await;
    println!("  sender account {SENDER}: SSM /central-logging/destination-arn = the destination\n");

    // Log groups in mixed states.
    let groups = [
        (
            "/aws/lambda/orders-api",
            "new, no filters (the group in events/create-log-group.json)",
        ),
        (
            "/aws/lambda/billing",
            "subscribed by the AWS blog sample's script under the name \"Destination\" (a duplicate)",
        ),
        ("/app/legacy", "full: two filters to another vendor"),
        ("/aws/lambda/payments", "already subscribed by us"),
    ];
    for (group, _) in &groups {
        sender.create_group(group).await;
    }
    sender
        .put_filter(
            "/aws/lambda/billing",
            "Destination",
            &central.destination_arn,
        )
        .await;
    sender
        .put_filter("/app/legacy", "vendor-a", &central.other_destination_arn)
        .await;
    sender
        .put_filter("/app/legacy", "vendor-b", &central.other_destination_arn)
        .await;
    sender
        .put_filter(
            "/aws/lambda/payments",
            "central-logging",
            &central.destination_arn,
        )
        .await;

    println!("Before:");
    for (group, state) in &groups {
        println!("  {group:<24} {state}");
        print_filters(&sender, group, &central).await;
    }

    println!("\nRunning the auto-subscribe binary (EXISTING_FILTERS=replace, the default)...\n");
    // The stack the function belongs to, as CloudFormation would report it once deployed.
    sender.set_stack_status("CREATE_COMPLETE");
    let mut function = FunctionProcess::start(&sender, &[]);
    let mut events = vec![(
        "events/create-log-group.json".to_owned(),
        fixture("create-log-group.json"),
    )];
    for (group, _) in &groups[1..] {
        events.push((
            format!("CreateLogGroup {group}"),
            create_log_group_event(SENDER, group),
        ));
    }
    for name in [
        "create-log-group-failed.json",
        "create-log-group-infrequent-access.json",
        "put-retention-policy.json",
    ] {
        events.push((format!("events/{name}"), fixture(name)));
    }
    let writes_before = sender.writes();
    for (label, event) in &events {
        let answer = match function.runtime.invoke(event) {
            Answer::Ok(body) => body.to_string(),
            other => format!("error: {}", other.error_message()),
        };
        println!("  {label}\n    -> {answer}");
    }
    let writes = sender.writes() - writes_before;

    println!("\nAfter:");
    for (group, _) in &groups {
        println!("  {group}");
        print_filters(&sender, group, &central).await;
    }
    println!(
        "\n{} events, {writes} subscription filter writes, 1 SSM read (cached after).",
        events.len()
    );
    // Two changes whose events never arrived: a group created, and ours deleted by hand.
    sender.create_group("/app/missed-event").await;
    sender
        .delete_filter("/aws/lambda/orders-api", "central-logging")
        .await;
    // As CloudTrail's event history has it, twenty minutes ago: far past the few minutes an event
    // takes to arrive, so each is an event the pipeline lost.
    sender.shift_history(None, std::time::Duration::from_secs(20 * 60));
    println!(
        "\nTwenty minutes ago, two changes whose events never arrived: /app/missed-event was \
         created, and someone deleted\ncentral-logging from /aws/lambda/orders-api by hand. The \
         15-minute catch-up reads CloudTrail's event history\n(LookupEvents, no trail needed) and \
         reconciles each group a change names:"
    );
    // What the stack's frequent schedule sends (events/stack/changed-sweep-order.json).
    run_order(&mut function, "stack/changed-sweep-order.json");
    for group in ["/app/missed-event", "/aws/lambda/orders-api"] {
        println!("  {group}");
        print_filters(&sender, group, &central).await;
    }
    println!("\nThe weekly full sweep lists every group, and reports the coverage it found:");
    // What the stack's full-sweep schedule sends (events/stack/sweep-order.json).
    run_order(&mut function, "stack/sweep-order.json");

    let logs = function.stop();
    let (metrics, decisions): (Vec<&str>, Vec<&str>) =
        logs.lines().partition(|l| l.contains("\"_aws\""));
    println!("\nWhat the function logged (JSON, one line per decision):");
    for line in decisions {
        println!("  {line}");
    }
    println!(
        "(and {} CloudWatch Embedded Metric Format lines, one per invocation)",
        metrics.len()
    );
}

/// Sends the schedule's order in `fixture_path`, with the stack's 180-second timeout, and prints
/// the answer.
fn run_order(function: &mut FunctionProcess, fixture_path: &str) {
    let timeout = std::time::Duration::from_secs(180);
    match function
        .runtime
        .invoke_within(&fixture(fixture_path), timeout)
        .0
    {
        Answer::Ok(body) => println!("    -> {body}"),
        other => println!("    -> error: {}", other.error_message()),
    }
}

async fn print_filters(account: &Account, group: &str, central: &Central) {
    let filters = account.filters(group).await;
    if filters.is_empty() {
        println!("      (no subscription filters)");
    }
    for (name, destination) in filters {
        let target = if destination == central.destination_arn {
            "central destination"
        } else {
            "other vendor"
        };
        println!("      filter {name:<16} -> {target}");
    }
}
