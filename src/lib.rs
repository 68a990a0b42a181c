//! auto-subscribe keeps every CloudWatch Logs log group of an account subscribed to a central
//! logging destination. The library decides; the binaries (`auto-subscribe`, the Lambda function,
//! and `backfill`) only wire it up.
//!
//! Reading order:
//! - [`names`], [`settings`], [`selection`]: the typed inputs, checked once where they enter;
//! - [`plan`]: the pure heart, from the filters a group has to the ordered writes;
//! - [`aws`]: the narrow trait over the AWS calls; [`sdk`] implements it with the AWS SDK and
//!   [`retry`]'s backoff;
//! - [`apply`]: one group subscribed through that trait, never leaving it with less than it had;
//! - [`event`], [`destination`], [`function`], [`metrics`]: what the Lambda function adds around
//!   [`apply`];
//! - [`pacing`], [`backfill`]: token buckets per API, and the run over every existing group;
//! - [`custom_resource`]: the stack's sweep on create and update, and its clean removal.

pub mod apply;
pub mod aws;
pub mod backfill;
pub mod custom_resource;
pub mod destination;
pub mod event;
#[cfg(test)]
mod fake;
pub mod function;
pub mod metrics;
pub mod names;
pub mod pacing;
pub mod plan;
pub mod retry;
pub mod sdk;
pub mod selection;
pub mod settings;
