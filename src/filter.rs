//! Subscription filters: one as CloudWatch Logs describes it ([`SubscriptionFilter`]), the filter
//! this tool wants on every selected group ([`DesiredFilter`]), and what the settings say of it
//! before the destination is known ([`FilterSpec`]).

use std::str::FromStr;

use crate::names::{DestinationArn, FilterName, RoleArn};

/// A subscription filter as DescribeSubscriptionFilters reports it, or as we put it: every
/// attribute the service model gives one, so a filter put back after a failed make-room has every
/// attribute it had, and a filter of ours narrowed by hand is seen as not ours to keep.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscriptionFilter {
    pub name: String,
    pub destination_arn: String,
    pub filter_pattern: String,
    pub role_arn: Option<String>,
    pub distribution: Option<String>,
    /// Applied to the transformed events (a log transformer's output) instead of those ingested.
    pub apply_on_transformed_logs: bool,
    /// Which events it processes, by system fields (`@aws.region NOT IN [...]`). On a put, `None`
    /// leaves what AWS has unchanged (AWS keeps what a put leaves out) and `Some("")` clears it.
    pub field_selection_criteria: Option<String>,
    /// The system fields added to what it sends (`@aws.account`, `@aws.region`, `@source.log`).
    pub emit_system_fields: Vec<String>,
    /// Milliseconds since the epoch; orders "oldest first" when room must be made.
    pub creation_time: Option<i64>,
}

impl SubscriptionFilter {
    /// Its field selection criteria, when it has any: a filter with them ships only the events
    /// they select (they can select none).
    pub fn selection_criteria(&self) -> Option<&str> {
        self.field_selection_criteria
            .as_deref()
            .filter(|c| !c.trim().is_empty())
    }
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

/// The system fields a subscription filter can add to what it sends (`EMIT_SYSTEM_FIELDS`).
pub const SYSTEM_FIELDS: [&str; 3] = ["@aws.account", "@aws.region", "@source.log"];

/// Our filter as the settings describe it: everything but the destination, which is read at run
/// time (an SSM parameter) and checked against the Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub name: FilterName,
    pub pattern: String,
    pub role: Option<RoleArn>,
    pub distribution: Option<Distribution>,
    /// System fields to add (`EMIT_SYSTEM_FIELDS`), in order, without repeats.
    pub emit_system_fields: Vec<String>,
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
            emit_system_fields: self.emit_system_fields.clone(),
        }
    }
}

/// The filter this tool wants on every selected group: ours ships every event its pattern
/// matches, of the events as ingested, with the system fields the settings name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFilter {
    pub name: FilterName,
    pub destination: DestinationArn,
    pub pattern: String,
    pub role: Option<RoleArn>,
    pub distribution: Option<Distribution>,
    pub emit_system_fields: Vec<String>,
}

impl DesiredFilter {
    /// True when `existing` already is this filter in every attribute the service model gives a
    /// filter: destination, pattern, role, distribution, no field selection criteria, applied to
    /// the events as ingested, and the same system fields. An unset distribution is AWS's default,
    /// `ByLogStream`. A filter of ours narrowed by hand (criteria that select nothing, say) does
    /// not match, and is put right like a deleted one.
    pub fn matches(&self, existing: &SubscriptionFilter) -> bool {
        let wanted_distribution = self
            .distribution
            .unwrap_or(Distribution::ByLogStream)
            .as_str();
        let mut fields = existing.emit_system_fields.clone();
        fields.sort();
        let mut wanted = self.emit_system_fields.clone();
        wanted.sort();
        existing.name == self.name.as_str()
            && existing.destination_arn == self.destination.as_str()
            && existing.filter_pattern == self.pattern
            && existing.role_arn.as_deref().filter(|r| !r.is_empty())
                == self.role.as_ref().map(RoleArn::as_str)
            && existing.distribution.as_deref().unwrap_or("ByLogStream") == wanted_distribution
            && existing.selection_criteria().is_none()
            && !existing.apply_on_transformed_logs
            && fields == wanted
    }

    /// Whether `existing` is this tool's filter: our name *and* our destination. A filter with our
    /// name to another destination, or our destination under another name, is somebody else's.
    pub fn is_ours(&self, existing: &SubscriptionFilter) -> bool {
        existing.name == self.name.as_str() && existing.destination_arn == self.destination.as_str()
    }

    /// The filter as PutSubscriptionFilter takes it, over a filter of ours that has `existing`'s
    /// attributes: every attribute said, and criteria someone added cleared (AWS keeps what a put
    /// leaves out).
    pub fn to_filter_over(&self, existing: Option<&SubscriptionFilter>) -> SubscriptionFilter {
        let clear = existing.is_some_and(|f| f.selection_criteria().is_some());
        SubscriptionFilter {
            field_selection_criteria: clear.then(String::new),
            ..self.to_filter()
        }
    }

    /// The filter as PutSubscriptionFilter takes it, and as AWS then describes it.
    pub fn to_filter(&self) -> SubscriptionFilter {
        SubscriptionFilter {
            name: self.name.as_str().to_owned(),
            destination_arn: self.destination.as_str().to_owned(),
            filter_pattern: self.pattern.clone(),
            role_arn: self.role.as_ref().map(|r| r.as_str().to_owned()),
            distribution: self.distribution.map(|d| d.as_str().to_owned()),
            apply_on_transformed_logs: false,
            field_selection_criteria: None,
            emit_system_fields: self.emit_system_fields.clone(),
            creation_time: None,
        }
    }
}

/// CloudWatch Logs' quota of regular expressions in the filter patterns of one log group, over its
/// metric and subscription filters.
pub const REGEX_QUOTA: usize = 5;

/// How many regular expressions a filter pattern holds: each is enclosed in `%` (`%ERROR|WARN%`),
/// outside a quoted term. CloudWatch Logs allows five per log group, counted over its metric and
/// subscription filters, and two per pattern.
pub fn regex_terms(pattern: &str) -> usize {
    let (mut quoted, mut open, mut terms) = (false, false, 0);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' if !open => quoted = !quoted,
            '%' if !quoted => {
                if open {
                    terms += 1;
                }
                open = !open;
            }
            _ => {}
        }
    }
    terms
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
    fn ours_matches_in_every_attribute_and_a_muted_one_does_not() {
        let ours = desired().to_filter();
        assert!(desired().matches(&ours));
        let muted = [
            SubscriptionFilter {
                field_selection_criteria: Some("@aws.region = \"nowhere-1\"".into()),
                ..ours.clone()
            },
            SubscriptionFilter {
                apply_on_transformed_logs: true,
                ..ours.clone()
            },
            SubscriptionFilter {
                emit_system_fields: vec!["@aws.account".into()],
                ..ours.clone()
            },
        ];
        for filter in &muted {
            assert!(!desired().matches(filter), "{filter:?}");
            assert!(desired().is_ours(filter), "still ours to put right");
        }
        // Blank criteria select everything, as none do.
        let blank = SubscriptionFilter {
            field_selection_criteria: Some(String::new()),
            ..ours.clone()
        };
        assert!(desired().matches(&blank));
        // The system fields the settings name, in any order.
        let with_fields = DesiredFilter {
            emit_system_fields: vec!["@aws.region".into(), "@aws.account".into()],
            ..desired()
        };
        let described = SubscriptionFilter {
            emit_system_fields: vec!["@aws.account".into(), "@aws.region".into()],
            ..ours.clone()
        };
        assert!(with_fields.matches(&described));
        assert!(!with_fields.matches(&ours));
        // A put over a narrowed filter clears its criteria; over anything else it leaves them be.
        let over_muted = desired().to_filter_over(Some(&muted[0]));
        assert_eq!(over_muted.field_selection_criteria.as_deref(), Some(""));
        assert_eq!(desired().to_filter_over(Some(&muted[1])), ours);
        assert_eq!(desired().to_filter_over(None), ours);
        assert!(!over_muted.apply_on_transformed_logs);
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

    #[test]
    fn counts_the_regular_expressions_of_a_pattern() {
        let rows = [
            ("", 0),
            ("ERROR", 0),
            ("%ERROR|WARN%", 1),
            ("%ERROR% %timeout[0-9]+%", 2),
            ("{ $.level = %ERROR|WARN% }", 1),
            // A percent sign inside a quoted term is text.
            ("\"100% done\"", 0),
            ("\"50%\" %x%", 1),
            // An unclosed one is not a regular expression.
            ("%ERROR", 0),
        ];
        for (pattern, expected) in rows {
            assert_eq!(regex_terms(pattern), expected, "{pattern}");
        }
    }
}
