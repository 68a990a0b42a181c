//! `backfill`: subscribes the log groups that already exist. Everything it does is in
//! [`auto_subscribe::backfill`]; this file only starts it.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    auto_subscribe::backfill::cli::main().await
}
