//! The typed names this crate passes around: log group and filter names, account IDs, Regions, and
//! the ARNs of destinations and roles. Each is checked once, where it enters (an event, a setting, an
//! SSM parameter), and is a plain value after that.

use std::fmt;

use thiserror::Error;

/// Why a string is not the name or ARN it was meant to be.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct InvalidName(String);

/// `as_str` and `Display` for a checked string newtype: every name below is shown as the string
/// it was parsed from.
macro_rules! shown_as_str {
    ($($name:ident),+) => {$(
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}

shown_as_str!(LogGroupName, FilterName, AccountId, RoleArn);

/// A CloudWatch Logs log group name: 1 to 512 characters of `a-z A-Z 0-9 _ - / . #`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogGroupName(String);

impl LogGroupName {
    pub fn parse(name: &str) -> Result<Self, InvalidName> {
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.' | '#');
        if name.is_empty() || name.len() > 512 {
            return Err(InvalidName(format!(
                "log group name must be 1 to 512 characters, got {}",
                name.len()
            )));
        }
        if let Some(bad) = name.chars().find(|c| !legal(*c)) {
            return Err(InvalidName(format!(
                "log group name {name:?} contains {bad:?}; only letters, digits and _ - / . # are allowed"
            )));
        }
        Ok(Self(name.to_owned()))
    }
}

/// The name of the subscription filter this tool owns on every group (`FILTER_NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterName(String);

impl FilterName {
    pub fn parse(name: &str) -> Result<Self, InvalidName> {
        // AWS: 1-512 characters, no colon or asterisk.
        if name.is_empty() || name.len() > 512 {
            return Err(InvalidName(
                "a filter name must be 1 to 512 characters".into(),
            ));
        }
        if name.contains([':', '*']) {
            return Err(InvalidName(format!(
                "filter name {name:?} must not contain ':' or '*'"
            )));
        }
        Ok(Self(name.to_owned()))
    }
}

/// A 12-digit AWS account ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(id: &str) -> Result<Self, InvalidName> {
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(id.to_owned()))
        } else {
            Err(InvalidName(format!(
                "{id:?} is not a 12-digit AWS account ID"
            )))
        }
    }
}

/// The parts every ARN has: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

impl Arn {
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        let mut parts = text.splitn(6, ':');
        let mut next = || parts.next().unwrap_or_default().to_owned();
        let (prefix, partition, service, region, account, resource) =
            (next(), next(), next(), next(), next(), next());
        if prefix != "arn" || partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(InvalidName(format!(
                "{text:?} is not an ARN (expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"
            )));
        }
        Ok(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The account ID and Region of a log group ARN as DescribeLogGroups returns it.
    pub fn account_id(&self) -> Option<AccountId> {
        AccountId::parse(&self.account).ok()
    }
}

/// What a subscription filter can deliver to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    /// A CloudWatch Logs destination: the cross-account case this product is for.
    LogsDestination,
    KinesisStream,
    Firehose,
    Lambda,
}

/// The ARN of a subscription target: a CloudWatch Logs destination, Kinesis stream, Firehose
/// stream or Lambda function, checked for shape, with its Region and account to hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationArn {
    arn: String,
    kind: DestinationKind,
    /// The destination's, stream's or function's name (a function's without its qualifier).
    name: String,
    region: String,
    account: AccountId,
}

impl DestinationArn {
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        let text = text.trim();
        let arn = Arn::parse(text)?;
        let (kind, name) = match (arn.service.as_str(), arn.resource.split_once([':', '/'])) {
            ("logs", Some(("destination", name))) if !name.is_empty() => {
                (DestinationKind::LogsDestination, name)
            }
            ("kinesis", Some(("stream", name))) if !name.is_empty() => {
                (DestinationKind::KinesisStream, name)
            }
            ("firehose", Some(("deliverystream", name))) if !name.is_empty() => {
                (DestinationKind::Firehose, name)
            }
            ("lambda", Some(("function", name))) if !name.is_empty() => (
                DestinationKind::Lambda,
                name.split(':').next().unwrap_or(name),
            ),
            _ => {
                return Err(InvalidName(format!(
                    "{text:?} is not the ARN of a CloudWatch Logs destination \
                     (arn:aws:logs:REGION:ACCOUNT:destination:NAME), Kinesis stream, Firehose stream or Lambda function"
                )));
            }
        };
        if arn.region.is_empty() {
            return Err(InvalidName(format!("{text:?} has no Region")));
        }
        let account = AccountId::parse(&arn.account)
            .map_err(|e| InvalidName(format!("{text:?}: the account part: {e}")))?;
        Ok(Self {
            arn: text.to_owned(),
            kind,
            name: name.to_owned(),
            region: arn.region,
            account,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn kind(&self) -> DestinationKind {
        self.kind
    }

    /// The destination's, stream's or function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The log groups a same-account delivery writes its own logs to: a Lambda function's, and a
    /// Firehose stream's error logs. Subscribing one would ship every event it ships again.
    pub fn own_log_groups(&self) -> Vec<String> {
        match self.kind {
            DestinationKind::Lambda => vec![format!("/aws/lambda/{}", self.name)],
            DestinationKind::Firehose => vec![format!("/aws/kinesisfirehose/{}", self.name)],
            DestinationKind::LogsDestination | DestinationKind::KinesisStream => Vec::new(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }
}

impl fmt::Display for DestinationArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// The ARN of an IAM role (`ROLE_ARN`), passed to PutSubscriptionFilter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn(String);

impl RoleArn {
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        let text = text.trim();
        let arn = Arn::parse(text)?;
        if arn.service != "iam"
            || !arn.resource.starts_with("role/")
            || AccountId::parse(&arn.account).is_err()
        {
            return Err(InvalidName(format!(
                "{text:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            )));
        }
        Ok(Self(text.to_owned()))
    }
}

/// The ARN the function was invoked by, `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`
/// (with a qualifier, maybe): the account and Region it serves, and where it hands a sweep on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionArn {
    arn: String,
    partition: String,
    region: String,
    account: AccountId,
    name: String,
}

impl FunctionArn {
    pub fn parse(arn: &str) -> Result<Self, InvalidName> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                name,
                ..,
            ] if !partition.is_empty() && !region.is_empty() && !name.is_empty() => {
                let account = AccountId::parse(account)
                    .map_err(|e| InvalidName(format!("invoked function ARN {arn:?}: {e}")))?;
                Ok(Self {
                    arn: arn.to_owned(),
                    partition: (*partition).to_owned(),
                    region: (*region).to_owned(),
                    account,
                    name: (*name).to_owned(),
                })
            }
            _ => Err(InvalidName(format!("{arn:?} is not a Lambda function ARN"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The function's name, without a qualifier.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ARN of log group `group` in the function's own account and Region, as
    /// ListTagsForResource takes it (no trailing `:*`).
    pub fn log_group_arn(&self, group: &LogGroupName) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{group}",
            self.partition, self.region, self.account
        )
    }
}

impl fmt::Display for FunctionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_group_names() {
        for good in ["a", "/aws/lambda/fn", "my#group.name_x-1", &"x".repeat(512)] {
            assert!(LogGroupName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "semi;colon", "ünï", &"x".repeat(513)] {
            assert!(LogGroupName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn destination_arns() {
        let d = DestinationArn::parse("arn:aws:logs:eu-west-1:999999999999:destination:central")
            .unwrap();
        assert_eq!(d.kind(), DestinationKind::LogsDestination);
        assert_eq!(d.region(), "eu-west-1");
        assert_eq!(d.account().as_str(), "999999999999");
        let cases = [
            (
                "arn:aws:kinesis:us-east-1:111111111111:stream/s",
                Some(DestinationKind::KinesisStream),
            ),
            (
                "arn:aws:firehose:us-east-1:111111111111:deliverystream/f",
                Some(DestinationKind::Firehose),
            ),
            (
                "arn:aws:lambda:us-east-1:111111111111:function:f",
                Some(DestinationKind::Lambda),
            ),
            (
                "arn:aws-cn:logs:cn-north-1:111111111111:destination:d",
                Some(DestinationKind::LogsDestination),
            ),
            ("arn:aws:logs:us-east-1:111111111111:log-group:g", None),
            ("arn:aws:logs:us-east-1:111111111111:destination:", None),
            ("arn:aws:logs::111111111111:destination:d", None),
            ("arn:aws:logs:us-east-1:1111:destination:d", None),
            ("central-logging", None),
            ("", None),
        ];
        for (text, kind) in cases {
            assert_eq!(
                DestinationArn::parse(text).ok().map(|d| d.kind()),
                kind,
                "{text}"
            );
        }
    }

    #[test]
    fn function_arns() {
        let arn = FunctionArn::parse("arn:aws:lambda:eu-west-1:123456789012:function:f:live")
            .expect("qualified ARN");
        assert_eq!(arn.region(), "eu-west-1");
        assert_eq!(arn.account().as_str(), "123456789012");
        assert_eq!((arn.partition(), arn.name()), ("aws", "f"));
        assert!(FunctionArn::parse("").is_err());
        assert!(FunctionArn::parse("arn:aws:lambda:us-east-1:12:function:f").is_err());
        assert!(FunctionArn::parse("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn role_and_filter_names() {
        assert!(RoleArn::parse("arn:aws:iam::111111111111:role/CWLtoKinesis").is_ok());
        assert!(RoleArn::parse("arn:aws:iam::111111111111:user/bob").is_err());
        assert!(FilterName::parse("central-logging").is_ok());
        assert!(FilterName::parse("a:b").is_err());
        assert!(FilterName::parse("").is_err());
    }
}
