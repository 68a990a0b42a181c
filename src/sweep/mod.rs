//! Sweeps: every log group of the account visited and reconciled, for the groups whose events
//! never arrived, for filters changed by hand, and for the stack's removal.
//!
//! - [`engine`]: the lister, the workers and the deadline; `backfill` runs it whole, the function
//!   one slice per invocation;
//! - [`request`]: what a sweep invocation carries to the next (serde);
//! - [`lambda`]: the function's sweep: a slice, then hand on to the next invocation;
//! - [`stack`]: CloudFormation's custom resource, which starts a sweep on create and update and
//!   drives the removal on delete. It calls the sweep; the sweep never calls it;
//! - [`response_url`]: where an answer to CloudFormation may be sent.

pub mod engine;
pub mod lambda;
pub mod request;
pub mod response_url;
pub mod stack;
