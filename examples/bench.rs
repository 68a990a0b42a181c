//! `make bench`: the function's figures, measured against the local AWS in one run.
//!
//! - the stripped release binary's size;
//! - cold start: process start to its first Runtime API poll (clients built, settings checked),
//!   side by side in one run with the system's trust store (`TRUST_STORE=system`) and with a
//!   minimal `lambda_runtime` function (`MINIMAL_BIN`, which `make bench` builds); with
//!   `BASELINE_BIN` set to another build of ours, that one is interleaved too;
//! - peak RSS after handling every event;
//! - AWS API calls per new log group;
//! - time per event, from handing the event out to receiving the answer, its two calls to the local
//!   AWS included.

#[allow(dead_code)] // the benchmark uses a part of the tests' harness
#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::runtime_api::{FunctionProcess, function_binary};
use common::{Account, Central, create_log_group_event};

const GROUPS: usize = 100;
/// Events arrive at 2.5/s, under the function's own pacing (3 requests/s per API by default,
/// `API_RATE`), so the time per event is the function's work, not its wait for a token.
const EVENT_SPACING: Duration = Duration::from_millis(400);
const COLD_STARTS: usize = 15;

#[tokio::main]
async fn main() {
    let binary = function_binary();
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!("binary: {} ({:.1} MB)", binary.display(), size as f64 / 1e6);

    let sender = Account::new().await;
    let central = Central::new(&[&sender.id]).await;
    sender
        .put_parameter("/central-logging/destination-arn", &central.destination_arn)
        .await;

    // Cold start: process start to first poll; every variant's starts interleaved with ours.
    let baseline = std::env::var_os("BASELINE_BIN").map(std::path::PathBuf::from);
    let minimal = std::env::var_os("MINIMAL_BIN").map(std::path::PathBuf::from);
    let (mut cold, mut baseline_cold) = (Vec::new(), Vec::new());
    let (mut system_cold, mut minimal_cold) = (Vec::new(), Vec::new());
    for _ in 0..COLD_STARTS {
        cold.push(cold_start(&binary, &sender, &[]));
        system_cold.push(cold_start(&binary, &sender, &[("TRUST_STORE", "system")]));
        if let Some(minimal) = &minimal {
            minimal_cold.push(cold_start(minimal, &sender, &[]));
        }
        if let Some(baseline) = &baseline {
            baseline_cold.push(cold_start(baseline, &sender, &[]));
        }
    }
    let our_median = median(&mut cold.clone());
    let system_median = median(&mut system_cold);
    println!(
        "cold start with the system's trust store: median {:.2} ms ({:.2}x of the compiled-in Amazon roots)",
        ms(system_median),
        ms(system_median) / ms(our_median)
    );
    if !minimal_cold.is_empty() {
        let minimal_median = median(&mut minimal_cold);
        println!(
            "cold start of a minimal lambda_runtime function: median {:.2} ms; ours is {:.2}x of it",
            ms(minimal_median),
            ms(our_median) / ms(minimal_median)
        );
    }

    // Events: one new group each.
    for i in 0..GROUPS {
        sender
            .create_group(&format!("/bench/function/{i:04}"))
            .await;
    }
    let calls_before = sender.calls();
    let mut function = FunctionProcess::start(&sender, &[]);
    let mut handling = Vec::new();
    for i in 0..GROUPS {
        let (answer, timing) = function.runtime.invoke_timed(&create_log_group_event(
            &sender.id,
            &format!("/bench/function/{i:04}"),
        ));
        assert_eq!(answer.ok()["outcome"], "subscribed", "{answer:?}");
        handling.push(timing.handling);
        std::thread::sleep(EVENT_SPACING);
    }
    let peak_rss_kb = function.pid().and_then(peak_rss_kb).unwrap_or(0);
    function.stop();
    let calls_after = sender.calls();
    let delta = |action: &str| {
        calls_after["calls"][action].as_u64().unwrap_or(0)
            - calls_before["calls"][action].as_u64().unwrap_or(0)
    };

    let (cold_med, handling_med) = (median(&mut cold), median(&mut handling));
    println!(
        "cold start to first poll: median {:.1} ms, p90 {:.1} ms ({COLD_STARTS} starts)",
        ms(cold_med),
        ms(p90(&mut cold))
    );
    if let Some(baseline) = &baseline {
        let size = std::fs::metadata(baseline).map(|m| m.len()).unwrap_or(0);
        let base_med = median(&mut baseline_cold);
        println!(
            "baseline {} ({:.1} MB), interleaved: median {:.1} ms, p90 {:.1} ms; this build / baseline: {:.2}",
            baseline.display(),
            size as f64 / 1e6,
            ms(base_med),
            ms(p90(&mut baseline_cold)),
            cold_med.as_secs_f64() / base_med.as_secs_f64()
        );
    }
    println!(
        "peak RSS after {GROUPS} events: {:.1} MB",
        peak_rss_kb as f64 / 1024.0
    );
    println!(
        "API calls per new log group: {:.2} DescribeSubscriptionFilters + {:.2} PutSubscriptionFilter; {} GetParameter for {GROUPS} events",
        delta("DescribeSubscriptionFilters") as f64 / GROUPS as f64,
        delta("PutSubscriptionFilter") as f64 / GROUPS as f64,
        delta("GetParameter"),
    );
    println!(
        "per event (two calls to the local AWS included): median {:.2} ms, p90 {:.2} ms",
        ms(handling_med),
        ms(p90(&mut handling)),
    );
}

/// Starts `binary` as the function and returns the time from its start to its first poll.
fn cold_start(binary: &std::path::Path, sender: &Account, settings: &[(&str, &str)]) -> Duration {
    let function = FunctionProcess::start_binary(binary, sender, settings);
    let deadline = Instant::now() + Duration::from_secs(10);
    let polled = loop {
        if let Some(at) = *function.runtime.first_poll.lock().expect("not poisoned") {
            break at;
        }
        assert!(Instant::now() < deadline, "the function never polled");
        std::thread::sleep(Duration::from_micros(200));
    };
    let took = polled.duration_since(function.started);
    function.stop();
    took
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p90(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() * 9 / 10]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
