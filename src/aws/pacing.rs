//! Pacing under CloudWatch Logs' per-account quotas: a token bucket per API, so a long run stays
//! under the ceiling instead of bouncing off it. PutSubscriptionFilter, DeleteSubscriptionFilter and
//! DescribeSubscriptionFilters allow 5 requests/s each (not adjustable), DescribeLogGroups 10/s,
//! ListTagsForResource 5/s of its own, and the two rare reads (DescribeAccountPolicies,
//! DescribeMetricFilters) are paced as the others. Every attempt takes a token, retries included.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// AWS's quota for each of the three subscription filter APIs, requests per second per account.
pub const FILTER_API_QUOTA: f64 = 5.0;
/// The function's own pace for each of those APIs by default (`API_RATE`): three fifths of the
/// quota, so a burst of new groups leaves two requests a second of each to the other tools of the
/// account, which share it.
pub const FUNCTION_API_RATE: f64 = 3.0;
/// `audit`'s pace for each of those APIs by default: what the function's pace leaves of the quota.
/// An organization-wide audit reads every account at once, beside the function and the account's
/// other tools; it is read-only and can wait.
pub const AUDIT_API_RATE: f64 = FILTER_API_QUOTA - FUNCTION_API_RATE;
/// AWS's quota for DescribeLogGroups.
pub const DESCRIBE_LOG_GROUPS_QUOTA: f64 = 10.0;

/// CloudTrail LookupEvents' quota is 2 requests/s per account and Region, shared with every SIEM
/// poller of the account: a catch-up takes half.
pub const LOOKUP_EVENTS_RATE: f64 = 1.0;

/// The APIs that are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    DescribeSubscriptionFilters,
    PutSubscriptionFilter,
    DeleteSubscriptionFilter,
    DescribeLogGroups,
    ListTagsForResource,
    /// Once per sweep, backfill or execution environment.
    DescribeAccountPolicies,
    /// Only when a put meets a quota and our pattern holds a regular expression.
    DescribeMetricFilters,
    /// CloudTrail's event history, for a catch-up sweep.
    LookupEvents,
}

/// One token bucket per API.
#[derive(Debug)]
pub struct Pacing {
    describe_filters: DefaultDirectRateLimiter,
    put: DefaultDirectRateLimiter,
    delete: DefaultDirectRateLimiter,
    describe_groups: DefaultDirectRateLimiter,
    list_tags: DefaultDirectRateLimiter,
    account_policies: DefaultDirectRateLimiter,
    metric_filters: DefaultDirectRateLimiter,
    lookup_events: DefaultDirectRateLimiter,
}

impl Pacing {
    /// Each subscription filter API, and ListTagsForResource, at `rate` requests/s;
    /// DescribeLogGroups at twice that, at most its own quota. A `rate` below AWS's 5/s leaves
    /// headroom for other tools in the account.
    pub fn new(rate: f64) -> Self {
        Self {
            describe_filters: bucket(rate),
            put: bucket(rate),
            delete: bucket(rate),
            describe_groups: bucket((rate * 2.0).min(DESCRIBE_LOG_GROUPS_QUOTA.max(rate))),
            list_tags: bucket(rate),
            account_policies: bucket(rate),
            metric_filters: bucket(rate),
            lookup_events: bucket(rate.min(LOOKUP_EVENTS_RATE)),
        }
    }

    /// Waits for a token for one request to `api`.
    pub async fn wait(&self, api: Api) {
        let bucket = match api {
            Api::DescribeSubscriptionFilters => &self.describe_filters,
            Api::PutSubscriptionFilter => &self.put,
            Api::DeleteSubscriptionFilter => &self.delete,
            Api::DescribeLogGroups => &self.describe_groups,
            Api::ListTagsForResource => &self.list_tags,
            Api::DescribeAccountPolicies => &self.account_policies,
            Api::DescribeMetricFilters => &self.metric_filters,
            Api::LookupEvents => &self.lookup_events,
        };
        bucket.until_ready().await;
    }
}

/// A bucket releasing one token every `1/rate` seconds, with no burst: AWS counts requests over
/// short windows, and an even spacing keeps every window under the quota.
fn bucket(rate: f64) -> DefaultDirectRateLimiter {
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        FILTER_API_QUOTA
    };
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
    RateLimiter::direct(quota.allow_burst(NonZeroU32::MIN))
}
