//! auto-subscribe keeps every CloudWatch Logs log group of an account subscribed to a central
//! logging destination. The library decides; the three binaries (`auto-subscribe`, the Lambda
//! function, `backfill` and `audit`) only wire it up. `ARCHITECTURE.md` is the map.
//!
//! From the bottom up:
//! - [`names`], [`outcome`], [`filter`], [`group`], [`account_policy`], [`cloudformation`]: the
//!   shared vocabulary (log group names and ARNs, what became of a group, filters, a log group and
//!   its tags, the account-level subscription policy, CloudFormation's request and answer);
//! - [`trail`]: CloudTrail's record of a call (an event's, or the event history's);
//! - [`selection`], [`plan`]: which groups by name and tag, and the ordered writes for one group;
//! - [`aws`]: the narrow port over the AWS calls, its SDK adapter, retries and pacing;
//! - [`settings`]: the configuration, checked once where it enters;
//! - [`decision`], the rules: [`decision::Rules`] for a run, [`decision::decide`] for a group
//!   before any call, [`decision::settle`] for what its writes met;
//! - [`destination`]: the destination ARN, read from SSM and cached;
//! - [`reconcile`]: one group brought in line: decide, describe, plan, write, settle;
//! - [`sweep`]: every group of the account: the engine `backfill` runs, and the function's slices;
//! - [`stack`]: the stack's lifecycle, which drives a removal through the sweep;
//! - [`function`]: the Lambda function, one typed invocation at a time;
//! - [`audit`]: the read-only audit of one account and Region, and its canary, for the `audit`
//!   binary.
//!
//! One new log group: CloudTrail's `CreateLogGroup` event → [`function::Invocation::parse`] →
//! [`function::Function::handle`] → [`reconcile::Reconciler::reconcile`] ([`decision::decide`],
//! then DescribeSubscriptionFilters, [`plan::plan`], the writes, [`decision::settle`]) → the
//! answer and one log line.
//!
//! One sweep: `{"sweep": {}}` → [`sweep::slices::Sweeper::sweep`] → [`sweep::engine::run`]
//! (DescribeLogGroups pages into a queue; workers reconcile each group) until the invocation's
//! listing deadline → the function invokes itself with a [`sweep::request::SweepRequest`] to
//! continue.

// The crate's docs are a map of its rooms for contributors, private ones included (`make test`
// builds them with `--document-private-items`); the binaries use only what is `pub`.
#![allow(rustdoc::private_intra_doc_links)]

pub mod account_policy;
pub mod audit;
pub mod aws;
pub(crate) mod cloudformation;
pub mod decision;
pub mod destination;
pub mod filter;
#[cfg(test)]
mod fixtures;
#[cfg(feature = "cli")]
pub mod flags;
pub mod function;
pub(crate) mod group;
pub mod names;
pub mod outcome;
pub(crate) mod plan;
pub(crate) mod reconcile;
pub(crate) mod selection;
pub mod settings;
pub(crate) mod stack;
pub mod sweep;
pub mod trail;
