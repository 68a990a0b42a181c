//! Subscription filters: one as CloudWatch Logs describes it ([`SubscriptionFilter`]), the filter
//! this tool wants on every selected group ([`DesiredFilter`]), and what the settings say of it
//! before the destination is known ([`FilterSpec`]).

use std::str::FromStr;

use crate::names::{DestinationArn, FilterName, RoleArn};

/// A subscription filter as DescribeSubscriptionFilters reports it, or as we put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub name: String,
    pub destination_arn: String,
    pub filter_pattern: String,
    pub role_arn: Option<String>,
    pub distribution: Option<String>,
    /// Milliseconds since the epoch; orders "oldest first" when room must be made.
    pub creation_time: Option<i64>,
}

/// How CloudWatch Logs spreads events over a Kinesis destination's shards (`DISTRIBUTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    ByLogStream,
    Random,
}

impl Distribution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ByLogStream => "ByLogStream",
            Self::Random => "Random",
        }
    }
}

impl FromStr for Distribution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "ByLogStream" => Ok(Self::ByLogStream),
            "Random" => Ok(Self::Random),
            other => Err(format!("{other:?} is not ByLogStream or Random")),
        }
    }
}

/// Our filter as the settings describe it: everything but the destination, which is read at run
/// time (an SSM parameter) and checked against the Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub name: FilterName,
    pub pattern: String,
    pub role: Option<RoleArn>,
    pub distribution: Option<Distribution>,
}

impl FilterSpec {
    /// The filter we want, once the destination is known.
    pub fn to(&self, destination: DestinationArn) -> DesiredFilter {
        DesiredFilter {
            name: self.name.clone(),
            destination,
            pattern: self.pattern.clone(),
            role: self.role.clone(),
            distribution: self.distribution,
        }
    }
}

/// The filter this tool wants on every selected group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFilter {
    pub name: FilterName,
    pub destination: DestinationArn,
    pub pattern: String,
    pub role: Option<RoleArn>,
    pub distribution: Option<Distribution>,
}

impl DesiredFilter {
    /// True when `existing` already is this filter: same destination, pattern, role and distribution.
    /// An unset distribution is AWS's default, `ByLogStream`.
    pub fn matches(&self, existing: &SubscriptionFilter) -> bool {
        let wanted_distribution = self
            .distribution
            .unwrap_or(Distribution::ByLogStream)
            .as_str();
        existing.name == self.name.as_str()
            && existing.destination_arn == self.destination.as_str()
            && existing.filter_pattern == self.pattern
            && existing.role_arn.as_deref().filter(|r| !r.is_empty())
                == self.role.as_ref().map(RoleArn::as_str)
            && existing.distribution.as_deref().unwrap_or("ByLogStream") == wanted_distribution
    }

    /// Whether `existing` is this tool's filter: our name *and* our destination. A filter with our
    /// name to another destination, or our destination under another name, is somebody else's.
    pub fn is_ours(&self, existing: &SubscriptionFilter) -> bool {
        existing.name == self.name.as_str() && existing.destination_arn == self.destination.as_str()
    }

    /// The filter as PutSubscriptionFilter takes it.
    pub fn to_filter(&self) -> SubscriptionFilter {
        SubscriptionFilter {
            name: self.name.as_str().to_owned(),
            destination_arn: self.destination.as_str().to_owned(),
            filter_pattern: self.pattern.clone(),
            role_arn: self.role.as_ref().map(|r| r.as_str().to_owned()),
            distribution: self.distribution.map(|d| d.as_str().to_owned()),
            creation_time: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::desired;

    #[test]
    fn desired_settings_are_what_is_put() {
        let d = DesiredFilter {
            pattern: "{ $.level = \"ERROR\" }".into(),
            role: Some(RoleArn::parse("arn:aws:iam::111111111111:role/cwl").expect("valid")),
            distribution: Some(Distribution::Random),
            ..desired()
        };
        let f = d.to_filter();
        assert_eq!(f.filter_pattern, "{ $.level = \"ERROR\" }");
        assert_eq!(
            f.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/cwl")
        );
        assert_eq!(f.distribution.as_deref(), Some("Random"));
        assert!(d.matches(&f), "a filter put from the settings matches them");
        assert!(!desired().matches(&f));
    }

    #[test]
    fn unset_distribution_means_by_log_stream() {
        let mut f = desired().to_filter();
        f.distribution = None;
        assert!(desired().matches(&f));
        let random = DesiredFilter {
            distribution: Some(Distribution::Random),
            ..desired()
        };
        assert!(!random.matches(&f));
    }

    #[test]
    fn ours_is_our_name_and_our_destination() {
        let ours = desired().to_filter();
        assert!(desired().is_ours(&ours));
        let same_name_elsewhere = SubscriptionFilter {
            destination_arn: "arn:aws:lambda:us-east-1:111111111111:function:shipper".into(),
            ..ours.clone()
        };
        assert!(!desired().is_ours(&same_name_elsewhere));
        let duplicate = SubscriptionFilter {
            name: "Destination".into(),
            ..ours
        };
        assert!(!desired().is_ours(&duplicate));
    }
}
