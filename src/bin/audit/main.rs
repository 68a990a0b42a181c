//! `audit`: proves coverage across the organization, read-only. For every account (the
//! organization's, an OU's, or those given) and Region, it assumes a role, judges every log group
//! as the function would, lists filters that ship outside, and prints a report. The command line
//! is [`cli`], the report formats [`report`]; every verdict is in the library (`audit`).

mod cli;
mod report;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cli::main().await
}
