//! The `audit` command line: which accounts and Regions, the role to assume, the settings (the
//! same flags as `backfill`), the outputs, and the canary. Exit codes: 0 when every account and
//! Region is covered, 1 on any gap, foreign destination or unreadable account, 2 on a usage error.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{ArgGroup, Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use auto_subscribe::audit::verdict::Allowed;
use auto_subscribe::audit::{AccountRegion, Scope, audit, canary};
use auto_subscribe::aws::ApiError;
use auto_subscribe::aws::org::{Org, in_region};
use auto_subscribe::aws::pacing::{AUDIT_API_RATE, Pacing};
use auto_subscribe::aws::retry::RetryPolicy;
use auto_subscribe::aws::sdk::{SdkAws, load_config};
use auto_subscribe::flags::{SettingsFlags, checked_rate};
use auto_subscribe::names::DestinationArn;
use auto_subscribe::settings::Settings;

use crate::report::{self, Run};

/// Proves that every log group of every account and Region ships to the central destination, and
/// that nothing ships outside the organization. Read-only (but for --canary).
#[derive(Debug, Parser)]
#[command(name = "audit", version, max_term_width = 100)]
#[command(group(ArgGroup::new("which").required(true).args(["organization", "ou", "accounts"])))]
pub(crate) struct Args {
    /// Every active account of the organization (run from the management account or a delegated
    /// administrator).
    #[arg(long)]
    pub organization: bool,
    /// Every active account in this organizational unit and those below it (repeatable).
    #[arg(long, value_name = "OU_ID")]
    pub ou: Vec<String>,
    /// These accounts (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub accounts: Vec<String>,
    /// Regions (comma-separated), or `all`: the Regions enabled in each account [default: the
    /// SDK's, e.g. AWS_REGION].
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// The role assumed in each account (Control Tower's read-only role works as it is).
    #[arg(long, default_value = "aws-controltower-ReadOnlyExecutionRole")]
    pub role_name: String,
    /// The destination to audit against in its Region, instead of the stack's parameter there
    /// (repeatable: one per Region).
    #[arg(long = "destination-arn", value_name = "ARN")]
    pub destination_arns: Vec<String>,
    #[command(flatten)]
    pub settings: SettingsFlags,
    /// Accounts a filter may ship to without being reported as foreign (comma-separated)
    /// [default: the audited accounts, and the organization's with --organization].
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub allowed_accounts: Vec<String>,
    /// Account-Regions audited at once; each is paced at its own quotas, so more at once costs no
    /// account more than its quotas (docs/audit.md says where one machine stops being enough).
    #[arg(long, default_value_t = 64)]
    pub parallel: usize,
    /// Requests per second for each CloudWatch Logs API, per account and Region: by default what
    /// the function's own pace (3) leaves of AWS's 5, so an audit of every account at once never
    /// throttles the function or the accounts' other tools; up to 5 where nothing else runs.
    #[arg(long, default_value_t = AUDIT_API_RATE)]
    pub rate: f64,
    /// In each account-Region, create a group under /auto-subscribe/canary/, wait until the
    /// function has subscribed it, and delete it: proves trail, rule, function and destination
    /// end to end. Needs a role that may create and delete those groups.
    #[arg(long)]
    pub canary: bool,
    /// How long a canary waits for the function.
    #[arg(long, default_value = "3m", value_parser = humantime::parse_duration)]
    pub canary_timeout: Duration,
    /// text: a progress bar and a summary table; json, csv (one row per gap and foreign
    /// destination) or html (one self-contained page).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// AWS Region of the caller's own calls (Organizations, STS) [default: the SDK's].
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
    Csv,
    Html,
}

/// Runs the command.
pub(crate) async fn main() -> ExitCode {
    let args = Args::parse();
    let usage = |message: String| {
        eprintln!("audit: {message}");
        ExitCode::from(2)
    };
    if let Err(message) = checked_rate(args.rate) {
        return usage(message);
    }
    let settings = match args.settings.raw(None).parse() {
        Ok(settings) => Arc::new(settings),
        Err(e) => return usage(e.to_string()),
    };
    let mut destinations = BTreeMap::new();
    for text in &args.destination_arns {
        match DestinationArn::parse(text) {
            Ok(arn) => {
                destinations.insert(arn.region().to_owned(), arn);
            }
            Err(e) => return usage(format!("--destination-arn {text}: {e}")),
        }
    }
    let started = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let base = load_config(args.region.as_deref(), args.profile.as_deref()).await;
    let Some(home) = base.region().map(ToString::to_string) else {
        return usage("no AWS Region: pass --region or set AWS_REGION".into());
    };
    let org = Arc::new(Org::new(&base, RetryPolicy::BACKFILL));

    let accounts = match accounts(&args, &org).await {
        Ok(accounts) if accounts.is_empty() => return usage("no account to audit".into()),
        Ok(accounts) => accounts,
        Err(e) => {
            eprintln!("audit: listing the organization's accounts: {e}");
            return ExitCode::from(1);
        }
    };
    let allowed = Arc::new(Allowed::new(if args.allowed_accounts.is_empty() {
        let mut all = accounts.clone();
        all.extend(destinations.values().map(|d| d.account().to_string()));
        all
    } else {
        args.allowed_accounts.clone()
    }));
    let partition = partition_of(&home);
    let bar = progress_bar(args.output);
    bar.set_length(accounts.len() as u64);
    let limit = Arc::new(Semaphore::new(args.parallel.max(1)));
    let mut tasks = JoinSet::new();
    for account in accounts {
        let (org, settings, allowed, limit, bar) = (
            org.clone(),
            settings.clone(),
            allowed.clone(),
            limit.clone(),
            bar.clone(),
        );
        let (role, regions, destinations) = (
            args.role_name.clone(),
            args.regions.clone(),
            destinations.clone(),
        );
        let (home, rate, canary, canary_timeout) =
            (home.clone(), args.rate, args.canary, args.canary_timeout);
        let partition = partition.to_owned();
        tasks.spawn(async move {
            let config = match org.assume(&account, &role, &partition).await {
                Ok(config) => config,
                Err(e) => {
                    bar.inc(1);
                    return vec![AccountRegion::failed(
                        &account,
                        "*",
                        format!("assuming role {role} in {account}: {e}"),
                    )];
                }
            };
            let regions = match regions.as_slice() {
                [] => vec![home],
                [all] if all == "all" => match org.enabled_regions(&config).await {
                    Ok(regions) => regions,
                    Err(e) => {
                        bar.inc(1);
                        return vec![AccountRegion::failed(
                            &account,
                            "*",
                            format!("listing the Regions enabled in {account}: {e}"),
                        )];
                    }
                },
                some => some.to_vec(),
            };
            bar.inc_length(regions.len().saturating_sub(1) as u64);
            let mut reports = Vec::new();
            let mut region_tasks = JoinSet::new();
            for region in regions {
                let config = in_region(&config, &region);
                let (settings, allowed, limit, account) = (
                    settings.clone(),
                    allowed.clone(),
                    limit.clone(),
                    account.clone(),
                );
                let destination = destinations.get(&region).cloned();
                region_tasks.spawn(async move {
                    let Ok(_permit) = limit.acquire_owned().await else {
                        return AccountRegion::failed(&account, &region, "cancelled".into());
                    };
                    let aws =
                        SdkAws::new(&config, RetryPolicy::BACKFILL).with_pacing(Pacing::new(rate));
                    let report = one(
                        &aws,
                        &account,
                        &region,
                        &settings,
                        destination.as_ref(),
                        &allowed,
                    )
                    .await;
                    if canary && report.error.is_none() {
                        let name = canary::name(epoch_ms(), fastrand::u16(..));
                        let verdict = canary::run(
                            &aws,
                            &settings,
                            &report,
                            &name,
                            canary_timeout,
                            epoch_ms(),
                        )
                        .await;
                        return report.with_canary(verdict);
                    }
                    report
                });
            }
            while let Some(done) = region_tasks.join_next().await {
                bar.inc(1);
                if let Ok(report) = done {
                    reports.push(report);
                }
            }
            reports
        });
    }
    let mut reports = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(mut some) = done {
            reports.append(&mut some);
        }
    }
    bar.finish_and_clear();
    reports.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    let run = Run {
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        role_name: args.role_name.clone(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let printed: Result<String, String> = match args.output {
        Output::Text => Ok(report::text(&reports, &run)),
        Output::Json => report::json(&reports, &run)
            .map(|line| format!("{line}\n"))
            .map_err(|e| e.to_string()),
        Output::Csv => report::csv(&reports).map_err(|e| e.to_string()),
        Output::Html => Ok(report::html(&reports, &run)),
    };
    let printed = printed.map(|text| print!("{text}"));
    if let Err(e) = printed {
        eprintln!("audit: writing the report: {e}");
        return ExitCode::from(1);
    }
    if reports
        .iter()
        .all(|r| r.status == auto_subscribe::audit::Status::Covered)
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The accounts the flags name.
async fn accounts(args: &Args, org: &Org) -> Result<Vec<String>, ApiError> {
    let mut accounts = args.accounts.clone();
    if args.organization {
        accounts.extend(org.accounts().await?);
    }
    for ou in &args.ou {
        accounts.extend(org.accounts_in(ou).await?);
    }
    accounts.retain(|a| !a.trim().is_empty());
    accounts.sort();
    accounts.dedup();
    Ok(accounts)
}

/// One account and Region.
async fn one(
    aws: &SdkAws,
    account: &str,
    region: &str,
    settings: &Settings,
    destination: Option<&DestinationArn>,
    allowed: &Allowed,
) -> AccountRegion {
    let now_ms = epoch_ms();
    audit(
        aws,
        Scope {
            account_id: account,
            region,
            settings,
            destination,
            allowed,
            now_ms,
        },
    )
    .await
}

/// The audit's clock, epoch milliseconds.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The partition of a Region.
fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn progress_bar(output: Output) -> ProgressBar {
    if output != Output::Text || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} account-Regions  ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
