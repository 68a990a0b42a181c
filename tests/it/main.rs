//! The integration tests: one binary, so the AWS SDK links once and one local AWS (moto's server
//! with our additions, `tests/local_aws/local_aws.py`) serves every test, each in a fresh account
//! of its own. The real `auto-subscribe` binary runs under a Runtime API emulator; the real
//! `backfill` runs as a process. A module per topic; `CONTRIBUTING.md` says where a test goes.

/// What the tests share: the local AWS, accounts, fixtures, the Runtime API emulator, CloudFormation's
/// stand-ins. Not a topic: add a helper here only when two topics need it.
mod common;

/// The SDK adapter against mocked SDK clients: one test per row of the error table.
mod adapter;
/// `audit` end to end: several accounts and Regions, every verdict and output, the canary.
mod audit;
/// `backfill` end to end: end states, summaries, exit codes, quotas and faults.
mod backfill;
/// The catch-up sweep (`changedWithinSeconds`, `--changed-within`) from CloudTrail's event history.
mod catch_up;
/// Configuration: errors that say what to fix, init failures, the SDK's endpoint variables.
mod config;
/// What else shares a group's subscriptions: account-level policies, the regex quota.
mod neighbours;
/// A new log group's event: answers, calls, end states, log lines and metrics. If you're adding
/// something the function does with an event, the test probably goes here.
mod new_group;
/// Recent-groups sweeps (`createdWithinSeconds`, `--created-within`).
mod recent;
/// The stack's lifecycle: CloudFormation's requests answered, removal across invocations.
mod stack;
/// Sweeps of the whole account across invocations.
mod sweep;
/// Selection by tag and tag changes.
mod tags;
/// What an attacker with an invoker's or a filter editor's access can and cannot do.
mod tamper;
