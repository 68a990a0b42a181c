//! Sweeps: every log group of the account visited and reconciled, for the groups whose events
//! never arrived, for filters changed by hand, and for the stack's removal.
//!
//! - [`engine`]: the lister, the workers and the deadline; `backfill` runs it whole, the function
//!   one slice per invocation;
//! - [`changed`]: the catch-up's groups, from CloudTrail's event history, and its lost events;
//! - [`request`]: what a sweep invocation carries to the next (serde);
//! - [`slices`]: the function's sweep: a slice, then hand on to the next invocation.
//!
//! The stack's lifecycle ([`crate::stack`]) drives a removal through [`slices`]; nothing here
//! calls it.

pub mod changed;
pub mod engine;
pub(crate) mod request;
pub mod slices;
