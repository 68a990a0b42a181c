//! `backfill`: subscribes the log groups that already exist, with the function's decision and
//! plan, through the sweep engine. The command line is [`cli`]; everything it decides is in the
//! library.

mod cli;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cli::main().await
}
