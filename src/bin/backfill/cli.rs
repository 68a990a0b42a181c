//! The `backfill` command line: flags (each falling back to the function's environment variable,
//! both named once in [`Setting`]), `--remove` to take this tool's filter off instead, output (a
//! progress bar and summary, or one JSON line), and exit codes: 0 when nothing failed, 1 when a
//! group failed, 2 on a usage or configuration error.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use auto_subscribe::aws::pacing::{FILTER_API_QUOTA, Pacing};
use auto_subscribe::aws::retry::RetryPolicy;
use auto_subscribe::aws::sdk::{SdkAws, load_config};
use auto_subscribe::aws::{ApiError, Aws};
use auto_subscribe::decision::{Goal, Rules};
use auto_subscribe::destination::resolve_once;
use auto_subscribe::flags::{SettingsFlags, checked_rate};
use auto_subscribe::outcome::OutcomeLabel;
use auto_subscribe::settings::{DestinationSource, Setting};
use auto_subscribe::sweep::changed::{Looked, Window, look_up};
use auto_subscribe::sweep::engine::{Job, Progress, Resume, Summary, run};

/// Subscribes the log groups that already exist to the central logging destination, with the same
/// plan as the auto-subscribe function, paced under CloudWatch Logs' API quotas.
#[derive(Debug, Parser)]
#[command(name = "backfill", version, max_term_width = 100)]
pub(crate) struct Args {
    #[command(flatten)]
    pub settings: SettingsFlags,
    /// Use this destination ARN instead of reading the parameter.
    #[arg(long = Setting::DestinationArn.long())]
    pub destination_arn: Option<String>,
    /// Store --destination-arn into the parameter first (as the AWS sample's init script does).
    #[arg(long, requires = "destination_arn")]
    pub save_parameter: bool,
    /// Take this tool's filter (--filter-name, pointing at the destination) off the selected groups
    /// instead of subscribing them; no other filter is touched.
    #[arg(long, conflicts_with = "save_parameter")]
    pub remove: bool,
    /// Make no write; report what would be done.
    #[arg(long)]
    pub dry_run: bool,

    /// Only groups created within this long before now (`90m`, `2h`, `7d`); older groups are
    /// counted as not checked, with no call. Finds what recent deploys created.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub created_within: Option<std::time::Duration>,
    /// Only groups CloudTrail's event history names in a change call (CreateLogGroup, a
    /// subscription filter put or deleted, a tag change) made within this long before now (up to
    /// 90 days): a catch-up at a cost in calls that grows with the changes, not the groups. Needs
    /// cloudtrail:LookupEvents, and no trail.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, conflicts_with_all = ["created_within", "remove"])]
    pub changed_within: Option<std::time::Duration>,
    /// Requests per second for each subscription filter API. AWS allows 5 per account and Region;
    /// pass less to leave headroom for other tools.
    #[arg(long, default_value_t = FILTER_API_QUOTA)]
    pub rate: f64,
    /// text: progress bar and summary; json: one JSON summary as the last line of stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// AWS Region [default: the SDK's, e.g. AWS_REGION].
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile from the AWS config files [default: the SDK's, e.g. AWS_PROFILE].
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

/// Runs the command.
pub(crate) async fn main() -> ExitCode {
    let args = Args::parse();
    let usage = |message: String| {
        eprintln!("backfill: {message}");
        ExitCode::from(2)
    };
    if let Err(message) = checked_rate(args.rate) {
        return usage(message);
    }
    let settings = match args.settings.raw(args.destination_arn.clone()).parse() {
        Ok(s) => s,
        Err(e) => return usage(e.to_string()),
    };

    let config = load_config(args.region.as_deref(), args.profile.as_deref()).await;
    let Some(region) = config.region().map(|r| r.to_string()) else {
        return usage("no AWS Region: pass --region or set AWS_REGION".into());
    };
    let aws =
        Arc::new(SdkAws::new(&config, RetryPolicy::BACKFILL).with_pacing(Pacing::new(args.rate)));

    if let (true, DestinationSource::Arn(arn)) = (args.save_parameter, &settings.destination)
        && let Err(e) = aws
            .put_parameter(&args.settings.destination_arn_parameter, arn.as_str())
            .await
    {
        let name = &args.settings.destination_arn_parameter;
        return usage(format!(
            "storing the destination in SSM parameter {name}: {e}"
        ));
    }
    let destination = match resolve_once(&settings.destination, aws.as_ref(), &region).await {
        Ok(d) => d,
        Err(e) => return usage(e.to_string()),
    };
    let created_after_ms = args.created_within.map(|within| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        u64::try_from(now.saturating_sub(within).as_millis()).unwrap_or(0)
    });
    let goal = if args.remove {
        Goal::Remove
    } else {
        Goal::Subscribe
    };
    let resume = match args.changed_within {
        None => Resume::default(),
        Some(within) => match changed_groups(aws.as_ref(), within, args.output).await {
            Ok(groups) => Resume::only(groups),
            Err(message) => {
                eprintln!("backfill: {message}");
                return ExitCode::from(1);
            }
        },
    };
    let job = Job {
        rules: Rules::new(&settings, goal)
            .within(created_after_ms)
            .dry_run(args.dry_run),
        destination,
        workers: 16,
        deadline: None,
        resume,
    };

    let bar = progress_bar(args.output);
    let on_progress = {
        let bar = bar.clone();
        move |p: Progress| match p {
            Progress::Seen(n) => bar.set_length(n),
            Progress::Done { .. } => bar.inc(1),
        }
    };
    let result = run(aws.clone(), job, on_progress).await;
    bar.finish_and_clear();
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("backfill: listing the log groups failed: {e}");
            return ExitCode::from(1);
        }
    };
    let throttled = aws.stats().throttled.load(Ordering::Relaxed);
    match args.output {
        Output::Json => match serde_json::to_string(&summary) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("backfill: {e}"),
        },
        Output::Text => print_text(&summary, &args, throttled),
    }
    if summary.counts.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The groups CloudTrail's event history names in a change call within `within` before now, each
/// once; the reason when they cannot be read.
async fn changed_groups(
    aws: &SdkAws,
    within: std::time::Duration,
    output: Output,
) -> Result<Vec<String>, String> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let window = Window::before(now_ms, within.as_secs().max(1));
    match look_up(aws, window, None, usize::MAX).await {
        Ok(Looked::Changes(changes)) => {
            if output == Output::Text {
                println!(
                    "{} log groups changed within {} ({} events, {} LookupEvents calls)",
                    changes.len(),
                    humantime::format_duration(within),
                    changes.events,
                    changes.lookups
                );
            }
            Ok(changes.groups())
        }
        Ok(Looked::TooMany { at_least }) => {
            Err(format!("{at_least} groups changed: no limit was set"))
        }
        Err(ApiError::AccessDenied(message)) => Err(format!(
            "CloudTrail LookupEvents is denied: allow cloudtrail:LookupEvents, or use \
             --created-within (creations only). AWS said: {message}"
        )),
        Err(e) => Err(format!("reading CloudTrail's event history: {e}")),
    }
}

fn progress_bar(output: Output) -> ProgressBar {
    if output != Output::Text || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{bar:40} {pos}/{len} log groups  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn print_text(summary: &Summary, args: &Args, throttled: u64) {
    let note = if args.dry_run {
        " (dry run: nothing was written; outcomes as if applied)"
    } else {
        ""
    };
    println!("{} log groups{note}", summary.counts.total);
    let (main, count) = if args.remove {
        (OutcomeLabel::Unsubscribed, summary.counts.unsubscribed)
    } else {
        (OutcomeLabel::Subscribed, summary.counts.subscribed)
    };
    for (label, count) in [
        (main, count),
        (OutcomeLabel::Unchanged, summary.counts.unchanged),
        (OutcomeLabel::Skipped, summary.counts.skipped),
        (OutcomeLabel::Failed, summary.counts.failed),
    ] {
        println!("  {label:<12} {count}");
    }
    if summary.counts.covered > 0 {
        let label = OutcomeLabel::Covered;
        println!(
            "  {label:<12} {} (an account-level subscription policy ships them already)",
            summary.counts.covered
        );
    }
    if args.created_within.is_some() && args.changed_within.is_none() {
        let label = OutcomeLabel::NotChecked;
        println!(
            "  {label:<12} {} (created earlier)",
            summary.counts.not_checked
        );
    }
    if throttled > 0 {
        println!("  ({throttled} throttled answers were retried)");
    }
    for failure in &summary.failures {
        println!("failed: {}: {}", failure.log_group_name, failure.error);
    }
}
