//! auto-subscribe keeps every CloudWatch Logs log group of an account subscribed to a central
//! logging destination. The library decides; the two binaries (`auto-subscribe`, the Lambda
//! function, and `backfill`) only wire it up.
//!
//! From the bottom up:
//! - [`names`], [`filter`], [`outcome`]: the shared types (log group names and ARNs, filters,
//!   what became of a group);
//! - [`settings`], [`selection`]: the configuration, checked once where it enters;
//! - [`decision`] and [`plan`], the pure heart: whether a group should hold our filter, and the
//!   ordered writes that get it there;
//! - [`aws`]: the narrow trait over the AWS calls, its SDK adapter, retries and pacing;
//! - [`destination`]: the destination ARN, read from SSM and cached;
//! - [`reconcile`]: one group brought in line: decide, describe, plan, write;
//! - [`sweep`]: every group of the account: the engine `backfill` runs, the function's slices,
//!   and the stack's lifecycle;
//! - [`function`]: the Lambda function, one typed invocation at a time.
//!
//! One new log group: CloudTrail's `CreateLogGroup` event → [`function::Invocation::parse`] →
//! [`function::Function::handle`] → [`reconcile::Reconciler::reconcile`] ([`decision::decide`],
//! then DescribeSubscriptionFilters, [`plan::plan`], the writes) → the answer and one log line.
//!
//! One sweep: the schedule's event → [`sweep::lambda::Sweeper::sweep`] → [`sweep::engine::run`]
//! (DescribeLogGroups pages into a queue; workers reconcile each group) until the invocation's
//! deadline → the function invokes itself with a [`sweep::request::SweepRequest`] to continue.

pub mod aws;
pub mod decision;
pub mod destination;
pub mod filter;
pub mod function;
pub mod names;
pub mod outcome;
pub mod plan;
pub mod reconcile;
pub mod selection;
pub mod settings;
pub mod sweep;
