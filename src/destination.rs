//! Where the destination ARN comes from, checked before any write: an SSM parameter (read once, then
//! cached for a few minutes, so a warm function costs no SSM call per event) or an ARN given directly.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::aws::{ApiError, Aws};
use crate::names::DestinationArn;
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
}

/// The destination, from its source, cached when it comes from SSM.
#[derive(Debug)]
pub struct Destination {
    source: DestinationSource,
    ttl: Duration,
    cached: Mutex<Option<(Instant, DestinationArn)>>,
}

impl Destination {
    pub fn new(source: DestinationSource, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// A destination already read and checked: every [`Destination::get`] answers it at no cost.
    pub fn fixed(arn: DestinationArn) -> Self {
        Self::new(DestinationSource::Arn(arn), Duration::ZERO)
    }

    /// Drops the cached destination, so the next [`Destination::get`] reads the parameter again
    /// (a sweep starts from what the stack says now, not from five minutes ago).
    pub fn forget(&self) {
        *self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// The destination ARN, checked to be in `region`.
    pub async fn get(
        &self,
        aws: &impl Aws,
        region: &str,
    ) -> Result<DestinationArn, DestinationError> {
        let arn = match &self.source {
            DestinationSource::Arn(arn) => arn.clone(),
            DestinationSource::Parameter(name) => match self.fresh() {
                Some(arn) => arn,
                None => {
                    let arn = read_parameter(aws, name).await?;
                    let mut slot = self
                        .cached
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    *slot = Some((Instant::now(), arn.clone()));
                    arn
                }
            },
        };
        if arn.region() != region {
            return Err(DestinationError::WrongRegion {
                arn: arn.to_string(),
                destination_region: arn.region().to_owned(),
                region: region.to_owned(),
            });
        }
        Ok(arn)
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
