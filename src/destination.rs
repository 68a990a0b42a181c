//! Where the destination ARN comes from, checked before any write: an SSM parameter (read once, then
//! cached for a few minutes, so a warm function costs no SSM call per event) or an ARN given directly.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::OnceCell;
use tracing::warn;

use crate::account_policy::AccountPolicy;
use crate::aws::{ApiError, Aws};
use crate::names::{DestinationArn, DestinationKind};
use crate::settings::DestinationSource;

/// How long a destination read from SSM is trusted before it is read again.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// The destination cannot be used; each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DestinationError {
    #[error(
        "SSM parameter {name} does not exist: store the central destination's ARN in it \
         (aws ssm put-parameter --name {name} --type String --value arn:aws:logs:REGION:CENTRAL_ACCOUNT:destination:NAME), \
         or point DESTINATION_ARN_PARAMETER at the parameter that holds it"
    )]
    Missing { name: String },
    #[error(
        "SSM parameter {name} holds {value:?}, which is not usable: {why}. Store the ARN of the central account's \
         CloudWatch Logs destination (or a Kinesis, Firehose or Lambda ARN) in it"
    )]
    NotAnArn {
        name: String,
        value: String,
        why: String,
    },
    #[error(
        "destination {arn} is in Region {destination_region}, but a log group can only subscribe to a destination in \
         its own Region ({region}): create a destination in {region} in the central account and use its ARN here"
    )]
    WrongRegion {
        arn: String,
        destination_region: String,
        region: String,
    },
    #[error("reading SSM parameter {name}: {error}")]
    Read { name: String, error: ApiError },
    #[error(
        "the destination {arn} is this function itself: every log event would invoke it, and its own \
         logs would be shipped to it again. Store the central destination's ARN in the parameter"
    )]
    IsTheFunction { arn: String },
}

/// The destination, from its source, cached for [`CACHE_TTL`] when it comes from SSM (the
/// function's, across invocations).
#[derive(Debug)]
pub struct DestinationCache {
    source: DestinationSource,
    ttl: Duration,
    /// The function's own name, when a function uses the cache: a destination that is the function
    /// itself is a configuration error.
    own_function: Option<String>,
    cached: Mutex<Option<(Instant, DestinationArn)>>,
    /// The account's subscription filter policies, read once for the cache's life (an execution
    /// environment's, a sweep slice's, a backfill's).
    policies: OnceCell<Arc<[AccountPolicy]>>,
}

impl DestinationCache {
    pub fn new(source: DestinationSource, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            own_function: None,
            cached: Mutex::new(None),
            policies: OnceCell::new(),
        }
    }

    /// The same cache, refusing the function named `name` as a destination.
    pub fn not_the_function(mut self, name: &str) -> Self {
        self.own_function = Some(name.to_owned()).filter(|n| !n.is_empty());
        self
    }

    /// A destination already read and checked: every [`DestinationCache::get`] answers it at no cost.
    pub fn fixed(arn: DestinationArn) -> Self {
        Self::new(DestinationSource::Arn(arn), Duration::ZERO)
    }

    /// Drops the cached destination, so the next [`DestinationCache::get`] reads the parameter again
    /// (a sweep starts from what the stack says now, not from five minutes ago).
    pub fn forget(&self) {
        *self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// The destination ARN, checked to be in `region`: from the cache while it is fresh.
    pub async fn get(
        &self,
        aws: &impl Aws,
        region: &str,
    ) -> Result<DestinationArn, DestinationError> {
        let arn = match (&self.source, self.fresh()) {
            (DestinationSource::Parameter(_), Some(arn)) => arn,
            (source, _) => {
                let arn = read(source, aws).await?;
                if let DestinationSource::Parameter(_) = source {
                    let mut slot = self
                        .cached
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    *slot = Some((Instant::now(), arn.clone()));
                }
                arn
            }
        };
        let arn = in_region(arn, region)?;
        if arn.kind() == DestinationKind::Lambda && self.own_function.as_deref() == Some(arn.name())
        {
            return Err(DestinationError::IsTheFunction {
                arn: arn.to_string(),
            });
        }
        Ok(arn)
    }

    /// The account's subscription filter policies, read at the first ask (one
    /// DescribeAccountPolicies) and kept. When they cannot be read, a warning says so and none are
    /// known: groups get our filter as before (a double delivery rather than a gap).
    pub async fn policies(&self, aws: &impl Aws) -> Arc<[AccountPolicy]> {
        self.policies
            .get_or_init(|| async {
                match aws.subscription_policies().await {
                    Ok(policies) => policies.into(),
                    Err(e) => {
                        warn!(
                            error = %e,
                            "account-level subscription filter policies not read \
                             (logs:DescribeAccountPolicies): a group one of them ships to the \
                             destination gets our filter too"
                        );
                        Arc::from(Vec::new())
                    }
                }
            })
            .await
            .clone()
    }

    fn fresh(&self) -> Option<DestinationArn> {
        let slot = self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, arn)| arn.clone())
    }
}

/// The destination read once, with no cache, checked to be in `region` (`backfill` reads it once
/// per run).
pub async fn resolve_once(
    source: &DestinationSource,
    aws: &impl Aws,
    region: &str,
) -> Result<DestinationArn, DestinationError> {
    in_region(read(source, aws).await?, region)
}

async fn read(
    source: &DestinationSource,
    aws: &impl Aws,
) -> Result<DestinationArn, DestinationError> {
    match source {
        DestinationSource::Arn(arn) => Ok(arn.clone()),
        DestinationSource::Parameter(name) => read_parameter(aws, name).await,
    }
}

/// A subscription filter can only point at a destination in its log group's own Region.
fn in_region(arn: DestinationArn, region: &str) -> Result<DestinationArn, DestinationError> {
    if arn.region() != region {
        return Err(DestinationError::WrongRegion {
            arn: arn.to_string(),
            destination_region: arn.region().to_owned(),
            region: region.to_owned(),
        });
    }
    Ok(arn)
}

async fn read_parameter(aws: &impl Aws, name: &str) -> Result<DestinationArn, DestinationError> {
    let value = match aws.get_parameter(name).await {
        Ok(value) => value,
        Err(ApiError::ParameterNotFound(_)) => {
            return Err(DestinationError::Missing {
                name: name.to_owned(),
            });
        }
        Err(error) => {
            return Err(DestinationError::Read {
                name: name.to_owned(),
                error,
            });
        }
    };
    DestinationArn::parse(&value).map_err(|e| DestinationError::NotAnArn {
        name: name.to_owned(),
        value: value.clone(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::FakeAws;
    use crate::fixtures::DEST;

    const PARAMETER: &str = "/central-logging/destination-arn";

    fn parameter() -> DestinationSource {
        DestinationSource::Parameter(PARAMETER.into())
    }

    #[tokio::test]
    async fn the_parameter_is_read_once_and_cached_until_forgotten() {
        let aws = FakeAws::default().with_parameter(PARAMETER, DEST);
        let cache = DestinationCache::new(parameter(), CACHE_TTL);
        for _ in 0..3 {
            let arn = cache.get(&aws, "us-east-1").await.expect("usable");
            assert_eq!(arn.as_str(), DEST);
        }
        assert_eq!(aws.count(&format!("get {PARAMETER}")), 1);
        cache.forget();
        cache.get(&aws, "us-east-1").await.expect("usable");
        assert_eq!(aws.count(&format!("get {PARAMETER}")), 2, "read again");
        // A cached destination is still checked against the Region it is asked for.
        let error = cache
            .get(&aws, "eu-west-1")
            .await
            .expect_err("another Region");
        assert!(
            matches!(error, DestinationError::WrongRegion { .. }),
            "{error}"
        );
        assert_eq!(aws.count(&format!("get {PARAMETER}")), 2);
    }

    #[tokio::test]
    async fn a_stale_cache_reads_again_and_a_given_arn_never_reads() {
        let aws = FakeAws::default().with_parameter(PARAMETER, DEST);
        let uncached = DestinationCache::new(parameter(), Duration::ZERO);
        uncached.get(&aws, "us-east-1").await.expect("usable");
        uncached.get(&aws, "us-east-1").await.expect("usable");
        assert_eq!(aws.count(&format!("get {PARAMETER}")), 2);
        let fixed = DestinationCache::fixed(DestinationArn::parse(DEST).expect("valid"));
        fixed.get(&aws, "us-east-1").await.expect("usable");
        let given = DestinationSource::Arn(DestinationArn::parse(DEST).expect("valid"));
        let once = resolve_once(&given, &aws, "us-east-1").await;
        assert_eq!(once.expect("usable").as_str(), DEST);
        assert_eq!(aws.calls().len(), 2, "no read for an ARN given");
    }

    #[tokio::test]
    async fn every_unusable_destination_says_what_to_fix() {
        let cases: [(Option<&str>, &str); 4] = [
            (
                None,
                "aws ssm put-parameter --name /central-logging/destination-arn",
            ),
            (
                Some("not-an-arn"),
                "holds \"not-an-arn\", which is not usable",
            ),
            (
                Some("arn:aws:logs:eu-west-1:999999999999:destination:central"),
                "its own Region (us-east-1): create a destination in us-east-1",
            ),
            (Some("arn:aws:s3:::a-bucket"), "which is not usable"),
        ];
        for (value, expected) in cases {
            let aws = match value {
                Some(v) => FakeAws::default().with_parameter(PARAMETER, v),
                None => FakeAws::default(),
            };
            let error = resolve_once(&parameter(), &aws, "us-east-1")
                .await
                .expect_err("unusable")
                .to_string();
            assert!(error.contains(expected), "{value:?}: {error}");
        }
        let aws = FakeAws::default();
        aws.fail_nth(
            &format!("get {PARAMETER}"),
            1,
            ApiError::RetriesExhausted {
                attempts: 3,
                last: "ThrottlingException".into(),
            },
        );
        let error = resolve_once(&parameter(), &aws, "us-east-1")
            .await
            .expect_err("read failed");
        assert!(
            matches!(&error, DestinationError::Read { error, .. } if error.is_transient()),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_function_itself_is_no_destination() {
        let own = "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe";
        let aws = FakeAws::default().with_parameter(PARAMETER, own);
        let cache =
            DestinationCache::new(parameter(), CACHE_TTL).not_the_function("auto-subscribe");
        let error = cache.get(&aws, "us-east-1").await.expect_err("itself");
        assert!(
            matches!(error, DestinationError::IsTheFunction { .. }),
            "{error}"
        );
        // Another function of the account is a destination like any other.
        let aws = FakeAws::default().with_parameter(
            PARAMETER,
            "arn:aws:lambda:us-east-1:111111111111:function:shipper",
        );
        let cache =
            DestinationCache::new(parameter(), CACHE_TTL).not_the_function("auto-subscribe");
        assert!(cache.get(&aws, "us-east-1").await.is_ok());
    }
}
