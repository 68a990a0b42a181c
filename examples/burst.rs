//! `make bench`: a burst of new log groups (a deploy creating 500 at once) under CloudWatch Logs'
//! quotas as AWS enforces them (5 requests/s per subscription filter API, per account), handled by
//! one execution environment (a reserved concurrency of 1) and by three at once (no reservation),
//! side by side in one run, while another tool makes one DescribeSubscriptionFilters a second.
//! Printed: wall time, the function's throttled answers, and the other tool's.

#[allow(dead_code)] // the benchmark uses a part of the tests' harness
#[path = "../tests/it/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::runtime_api::FunctionProcess;
use common::{Account, Central, create_log_group_event};

const GROUPS: usize = 500;

#[tokio::main]
async fn main() {
    let groups = std::env::var("BURST_GROUPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(GROUPS);
    println!("{groups} new log groups at once, AWS's quotas enforced:");
    for environments in [1, 3] {
        let (wall, throttled, other) = burst(groups, environments).await;
        println!(
            "  {environments} execution environment(s): {:.1} s, {throttled} of the function's calls throttled, \
             {other} of the other tool's calls throttled",
            wall.as_secs_f64()
        );
    }
}

/// One burst of `groups` events spread over `environments` function processes; returns the wall
/// time, the throttled answers the function got, and those another tool got meanwhile.
async fn burst(groups: usize, environments: usize) -> (Duration, u64, u64) {
    let sender = Account::new().await;
    let central = Central::new(&[&sender.id]).await;
    sender
        .put_parameter("/central-logging/destination-arn", &central.destination_arn)
        .await;
    let names: Vec<String> = (0..groups).map(|i| format!("/burst/{i:04}")).collect();
    for name in &names {
        sender.create_group(name).await;
    }
    sender.create_group("/other-tool").await;
    sender.set_behaviour(serde_json::json!("aws"), serde_json::Value::Null);
    let done = Arc::new(AtomicBool::new(false));
    let other_throttled = Arc::new(AtomicU64::new(0));
    // The other tool: one DescribeSubscriptionFilters a second, without retries, so every
    // throttled answer counts.
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
        sender
            .logs
            .config()
            .to_builder()
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build(),
    );
    let other = {
        let (done, throttled) = (done.clone(), other_throttled.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let answer = logs
                    .describe_subscription_filters()
                    .log_group_name("/other-tool")
                    .send()
                    .await;
                if answer.is_err() {
                    throttled.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let started = Instant::now();
    let shares: Vec<Vec<String>> = (0..environments)
        .map(|e| {
            names
                .iter()
                .skip(e)
                .step_by(environments)
                .cloned()
                .collect()
        })
        .collect();
    let handles: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let mut function = FunctionProcess::start(&sender, &[]);
            let account = sender.id.clone();
            std::thread::spawn(move || {
                for name in share {
                    let _ = function
                        .runtime
                        .invoke(&create_log_group_event(&account, &name));
                }
                function.stop();
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = other.await;
    let throttled: u64 = sender.calls()["throttled"]
        .as_object()
        .map(|t| t.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0);
    let others = other_throttled.load(Ordering::Relaxed);
    sender.clear_behaviour();
    (wall, throttled.saturating_sub(others), others)
}
