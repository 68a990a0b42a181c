//! AWS as this crate sees it: the narrow [`Aws`] trait over the few calls it makes, in our types
//! and with our errors, and everything that stands behind it. [`sdk`] implements it over the AWS
//! SDK (the only code that sees SDK types), with [`retry`]'s backoff and [`pacing`]'s token
//! buckets; tests use the in-memory `fake`.

pub mod lambda_env;
#[cfg(feature = "cli")]
pub mod org;
pub mod pacing;
pub mod retry;
pub mod sdk;

#[cfg(test)]
pub mod fake;

use std::future::Future;
use std::time::Duration;

use hyper::Uri;

use thiserror::Error;

use crate::account_policy::AccountPolicy;
use crate::filter::SubscriptionFilter;
use crate::group::{ListedGroup, Tags};
use crate::names::LogGroupName;

/// What went wrong with one call, after transient errors were retried (see `docs/errors.md`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// `ResourceNotFoundException`: the log group (or the filter) is gone.
    #[error("not found: {0}")]
    NotFound(String),
    /// `LimitExceededException` on a put: a quota of the group's is used up, either its
    /// subscription filter slots or its five regular expressions (AWS answers both alike; the
    /// writer tells them apart from what the group holds).
    #[error("a quota of the log group is used up: {0}")]
    LimitExceeded(String),
    /// `AccessDeniedException`: IAM, or the destination's access policy, refuses this account.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// `InvalidParameterException`: a bad destination, a Region mismatch, a bad pattern.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// SSM `ParameterNotFound`.
    #[error("SSM parameter not found: {0}")]
    ParameterNotFound(String),
    /// Throttling, 5xx, `OperationAbortedException` or a network error, on every attempt.
    #[error("gave up after {attempts} attempts, last error: {last}")]
    RetriesExhausted { attempts: u32, last: String },
    /// Anything else AWS can answer.
    #[error("{0}")]
    Other(String),
}

impl ApiError {
    /// Whether the cause was transient (throttling, 5xx, a concurrent change), so that a later
    /// attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RetriesExhausted { .. })
    }
}

/// One page of DescribeLogGroups.
#[derive(Debug, Clone, Default)]
pub struct LogGroupPage {
    pub groups: Vec<ListedGroup>,
    pub next_token: Option<String>,
}

/// One event of CloudTrail's event history (LookupEvents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailEvent {
    /// `EventTime`, epoch milliseconds.
    pub time_ms: u64,
    /// `CloudTrailEvent`: the record, JSON text.
    pub record: String,
}

/// One page of LookupEvents.
#[derive(Debug, Clone, Default)]
pub struct TrailPage {
    pub events: Vec<TrailEvent>,
    pub next_token: Option<String>,
}

/// The AWS calls this crate makes, and nothing else.
pub trait Aws: Send + Sync {
    fn describe_subscription_filters(
        &self,
        group: &LogGroupName,
    ) -> impl Future<Output = Result<Vec<SubscriptionFilter>, ApiError>> + Send;

    fn put_subscription_filter(
        &self,
        group: &LogGroupName,
        filter: &SubscriptionFilter,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn delete_subscription_filter(
        &self,
        group: &LogGroupName,
        filter_name: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn get_parameter(&self, name: &str) -> impl Future<Output = Result<String, ApiError>> + Send;

    /// Stores a String parameter, overwriting it (`backfill --save-parameter`).
    fn put_parameter(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Invokes a Lambda function asynchronously (InvocationType `Event`): how a sweep that does not
    /// fit in one invocation hands its continuation to the next.
    fn invoke_async(
        &self,
        function_arn: &str,
        payload: &serde_json::Value,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Reserves `executions` concurrent executions for a Lambda function (PutFunctionConcurrency):
    /// `InvalidParameter` when the account cannot afford it (its unreserved concurrency would fall
    /// below its minimum).
    fn reserve_concurrency(
        &self,
        function_arn: &str,
        executions: i32,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The status of a CloudFormation stack (`DescribeStacks`), such as `DELETE_IN_PROGRESS`.
    fn stack_status(&self, stack_id: &str)
    -> impl Future<Output = Result<String, ApiError>> + Send;

    /// A log group's tags (ListTagsForResource), by its ARN without the trailing `:*`.
    fn list_tags(&self, group_arn: &str) -> impl Future<Output = Result<Tags, ApiError>> + Send;

    /// One page of DescribeLogGroups, optionally narrowed to names starting with `prefix`.
    fn describe_log_groups(
        &self,
        prefix: Option<&str>,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<LogGroupPage, ApiError>> + Send;

    /// PUTs a custom resource's answer to CloudFormation's pre-signed response URL (S3), giving
    /// up after `timeout`. The URL is a secret: errors name its host only.
    fn answer_cloudformation(
        &self,
        url: &Uri,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The account's subscription filter policies (DescribeAccountPolicies, type
    /// `SUBSCRIPTION_FILTER_POLICY`, every page); a policy whose document or criteria cannot be
    /// read is left out, with a warning.
    fn subscription_policies(
        &self,
    ) -> impl Future<Output = Result<Vec<AccountPolicy>, ApiError>> + Send;

    /// The filter patterns of the group's metric filters (DescribeMetricFilters, every page): with
    /// its subscription filters', what its regular-expression quota counts.
    fn metric_filter_patterns(
        &self,
        group: &LogGroupName,
    ) -> impl Future<Output = Result<Vec<String>, ApiError>> + Send;

    /// One page of CloudTrail's event history (LookupEvents): the calls named `event_name`
    /// (lookup attribute `EventName`) made from `start_ms` to `end_ms` (epoch milliseconds),
    /// newest first, up to 50.
    fn lookup_events(
        &self,
        event_name: &str,
        start_ms: u64,
        end_ms: u64,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<TrailPage, ApiError>> + Send;

    /// Throttled answers retried so far, for the metrics line (an adapter that counts none says 0).
    fn throttled(&self) -> u64 {
        0
    }
}

/// The only writes `audit` makes: its canary's group, created and then deleted (`--canary`).
/// Apart from [`Aws`], so that nothing but the canary can create or delete a log group.
pub trait CanaryGroups: Aws {
    fn create_log_group(
        &self,
        group: &LogGroupName,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn delete_log_group(
        &self,
        group: &LogGroupName,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}
