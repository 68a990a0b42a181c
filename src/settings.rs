//! The settings both binaries share, under one set of names (see `docs/configuration.md`):
//! read as raw strings from the environment (the function) or from flags that fall back to the same
//! variables (`backfill`), then checked once into [`Settings`]. A bad value is an error naming the
//! variable and the flag.

use thiserror::Error;

use crate::filter::{FilterSpec, SYSTEM_FIELDS};
use crate::names::{DestinationArn, FilterName, RoleArn};
use crate::plan::ExistingFilters;
use crate::selection::{Selection, TagRules, split_globs};

pub const DEFAULT_PARAMETER: &str = "/central-logging/destination-arn";
pub const DEFAULT_FILTER_NAME: &str = "central-logging";

/// Where the destination ARN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationSource {
    /// An SSM parameter (`DESTINATION_ARN_PARAMETER`), read at run time and cached.
    Parameter(String),
    /// Given directly (`backfill --destination-arn`).
    Arn(DestinationArn),
}

/// A setting, by its environment variable and its `backfill` flag: the one place either name is
/// written down. The function reads the variables; `backfill`'s flags fall back to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    DestinationArnParameter,
    DestinationArn,
    FilterName,
    FilterPattern,
    RoleArn,
    Distribution,
    ExistingFilters,
    Include,
    Exclude,
    IncludeTags,
    ExcludeTags,
    EmitSystemFields,
}

impl Setting {
    /// The environment variable; `--destination-arn` has none.
    pub const fn env(self) -> Option<&'static str> {
        Some(match self {
            Self::DestinationArnParameter => "DESTINATION_ARN_PARAMETER",
            Self::DestinationArn => return None,
            Self::FilterName => "FILTER_NAME",
            Self::FilterPattern => "FILTER_PATTERN",
            Self::RoleArn => "ROLE_ARN",
            Self::Distribution => "DISTRIBUTION",
            Self::ExistingFilters => "EXISTING_FILTERS",
            Self::Include => "INCLUDE",
            Self::Exclude => "EXCLUDE",
            Self::IncludeTags => "INCLUDE_TAGS",
            Self::ExcludeTags => "EXCLUDE_TAGS",
            Self::EmitSystemFields => "EMIT_SYSTEM_FIELDS",
        })
    }

    /// The `backfill` flag, without its leading `--`.
    pub const fn long(self) -> &'static str {
        match self {
            Self::DestinationArnParameter => "destination-arn-parameter",
            Self::DestinationArn => "destination-arn",
            Self::FilterName => "filter-name",
            Self::FilterPattern => "filter-pattern",
            Self::RoleArn => "role-arn",
            Self::Distribution => "distribution",
            Self::ExistingFilters => "existing-filters",
            Self::Include => "include",
            Self::Exclude => "exclude",
            Self::IncludeTags => "include-tag",
            Self::ExcludeTags => "exclude-tag",
            Self::EmitSystemFields => "emit-system-fields",
        }
    }

    /// How an error names the setting: `EXISTING_FILTERS (--existing-filters)`.
    pub fn name(self) -> String {
        match self.env() {
            Some(var) => format!("{var} (--{})", self.long()),
            None => format!("--{}", self.long()),
        }
    }
}

/// A setting whose value cannot be used, and why.
#[derive(Debug, Error)]
#[error("{}: {message}", .setting.name())]
pub struct ConfigError {
    pub setting: Setting,
    pub message: String,
}

impl ConfigError {
    fn new(setting: Setting, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}

/// Settings as strings, before they are checked: what the environment or the command line gave.
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    pub destination_arn_parameter: Option<String>,
    pub destination_arn: Option<String>,
    pub filter_name: Option<String>,
    pub filter_pattern: Option<String>,
    pub role_arn: Option<String>,
    pub distribution: Option<String>,
    pub existing_filters: Option<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Tag rules, one per item (`key=value` or `key`).
    pub include_tags: Vec<String>,
    pub exclude_tags: Vec<String>,
    /// System fields our filter adds to what it sends, one per item.
    pub emit_system_fields: Vec<String>,
}

impl RawSettings {
    /// Reads the variables of `docs/configuration.md` through `lookup` (normally `std::env::var`).
    /// Blank values count as unset, as CloudFormation passes empty parameters through as "".
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let read = |s: Setting| s.env().and_then(&lookup);
        let get = |s: Setting| read(s).filter(|v| !v.trim().is_empty());
        Self {
            destination_arn_parameter: get(Setting::DestinationArnParameter),
            destination_arn: None,
            filter_name: get(Setting::FilterName),
            // A pattern may legitimately be blank (every event), so it is not filtered.
            filter_pattern: read(Setting::FilterPattern),
            role_arn: get(Setting::RoleArn),
            distribution: get(Setting::Distribution),
            existing_filters: get(Setting::ExistingFilters),
            include: get(Setting::Include)
                .map(|v| split_globs(&v))
                .unwrap_or_default(),
            exclude: get(Setting::Exclude)
                .map(|v| split_globs(&v))
                .unwrap_or_default(),
            include_tags: get(Setting::IncludeTags)
                .map(|v| split_globs(&v))
                .unwrap_or_default(),
            exclude_tags: get(Setting::ExcludeTags)
                .map(|v| split_globs(&v))
                .unwrap_or_default(),
            emit_system_fields: get(Setting::EmitSystemFields)
                .map(|v| split_globs(&v))
                .unwrap_or_default(),
        }
    }

    pub fn parse(self) -> Result<Settings, ConfigError> {
        let destination = match (self.destination_arn, self.destination_arn_parameter) {
            (Some(arn), _) => DestinationSource::Arn(
                DestinationArn::parse(&arn)
                    .map_err(|e| ConfigError::new(Setting::DestinationArn, e.to_string()))?,
            ),
            (None, Some(name)) => DestinationSource::Parameter(parameter_name(&name)?),
            (None, None) => DestinationSource::Parameter(DEFAULT_PARAMETER.into()),
        };
        let filter_name =
            FilterName::parse(self.filter_name.as_deref().unwrap_or(DEFAULT_FILTER_NAME))
                .map_err(|e| ConfigError::new(Setting::FilterName, e.to_string()))?;
        let filter_pattern = self.filter_pattern.unwrap_or_default();
        if filter_pattern.len() > 1024 {
            return Err(ConfigError::new(
                Setting::FilterPattern,
                "a filter pattern is at most 1024 characters",
            ));
        }
        let role_arn = self
            .role_arn
            .map(|r| RoleArn::parse(&r))
            .transpose()
            .map_err(|e| ConfigError::new(Setting::RoleArn, e.to_string()))?;
        let distribution = self
            .distribution
            .map(|d| d.parse())
            .transpose()
            .map_err(|e| ConfigError::new(Setting::Distribution, e))?;
        let existing_filters = self
            .existing_filters
            .map(|m| m.parse())
            .transpose()
            .map_err(|e| ConfigError::new(Setting::ExistingFilters, e))?
            .unwrap_or_default();
        // Include is compiled alone first so that an error is blamed on the right variable.
        Selection::new(&self.include, &[])
            .map_err(|e| ConfigError::new(Setting::Include, e.to_string()))?;
        TagRules::new(&self.include_tags, &[])
            .map_err(|e| ConfigError::new(Setting::IncludeTags, e.to_string()))?;
        let tags = TagRules::new(&self.include_tags, &self.exclude_tags)
            .map_err(|e| ConfigError::new(Setting::ExcludeTags, e.to_string()))?;
        let selection = Selection::new(&self.include, &self.exclude)
            .map_err(|e| ConfigError::new(Setting::Exclude, e.to_string()))?
            .with_tags(tags);
        Ok(Settings {
            destination,
            filter: FilterSpec {
                name: filter_name,
                pattern: filter_pattern,
                role: role_arn,
                distribution,
                emit_system_fields: system_fields(&self.emit_system_fields)?,
            },
            existing_filters,
            selection,
        })
    }
}

fn parameter_name(name: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    let legal = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    if name.starts_with("arn:") || name.chars().all(legal) {
        Ok(name.to_owned())
    } else {
        Err(ConfigError::new(
            Setting::DestinationArnParameter,
            format!("{name:?} is not an SSM parameter name (letters, digits and _ . - /)"),
        ))
    }
}

/// The checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub destination: DestinationSource,
    /// Our filter, but for its destination.
    pub filter: FilterSpec,
    pub existing_filters: ExistingFilters,
    pub selection: Selection,
}

/// `EMIT_SYSTEM_FIELDS`: system fields CloudWatch Logs knows, each once, in the order given.
fn system_fields(items: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut fields: Vec<String> = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        if !SYSTEM_FIELDS.contains(&item) {
            return Err(ConfigError::new(
                Setting::EmitSystemFields,
                format!(
                    "{item:?} is not a system field a subscription filter can emit ({})",
                    SYSTEM_FIELDS.join(", ")
                ),
            ));
        }
        if !fields.iter().any(|f| f == item) {
            fields.push(item.to_owned());
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Distribution;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RawSettings::from_env(|k| map.get(k).cloned()).parse()
    }

    #[test]
    fn defaults() {
        let s = from(&[]).expect("defaults are valid");
        assert_eq!(
            s.destination,
            DestinationSource::Parameter(DEFAULT_PARAMETER.into())
        );
        assert_eq!(s.filter.name.as_str(), "central-logging");
        assert_eq!(s.filter.pattern, "");
        assert_eq!(s.existing_filters, ExistingFilters::Replace);
        assert_eq!(s.filter.distribution, None);
        assert_eq!(s.filter.role, None);
    }

    #[test]
    fn every_setting_read() {
        let s = from(&[
            ("DESTINATION_ARN_PARAMETER", "/x/y"),
            ("FILTER_NAME", "ours"),
            ("FILTER_PATTERN", "ERROR"),
            ("ROLE_ARN", "arn:aws:iam::111111111111:role/r"),
            ("DISTRIBUTION", "Random"),
            ("EXISTING_FILTERS", "make-room"),
            ("INCLUDE", "/aws/*"),
            ("EXCLUDE", "/aws/noisy*"),
            ("INCLUDE_TAGS", "team=platform, audit"),
            ("EXCLUDE_TAGS", "noisy"),
            (
                "EMIT_SYSTEM_FIELDS",
                "@aws.account, @aws.region, @aws.account",
            ),
        ])
        .expect("valid");
        assert_eq!(s.filter.emit_system_fields, ["@aws.account", "@aws.region"]);
        assert!(s.selection.has_tag_rules());
        let tags = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(s.selection.check_tags(&tags(&[("audit", "")])).is_ok());
        assert!(
            s.selection
                .check_tags(&tags(&[("audit", ""), ("noisy", "1")]))
                .is_err()
        );
        assert!(!from(&[]).expect("defaults").selection.has_tag_rules());
        assert_eq!(s.destination, DestinationSource::Parameter("/x/y".into()));
        assert_eq!(s.filter.name.as_str(), "ours");
        assert_eq!(s.filter.pattern, "ERROR");
        assert_eq!(s.filter.distribution, Some(Distribution::Random));
        assert_eq!(s.existing_filters, ExistingFilters::MakeRoom);
        assert_eq!(s.selection.literal_prefix(), Some("/aws/".into()));
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            (
                ("EXISTING_FILTERS", "delete-all"),
                "EXISTING_FILTERS (--existing-filters)",
            ),
            (("DISTRIBUTION", "random"), "DISTRIBUTION"),
            (("INCLUDE", "/a/[x"), "INCLUDE"),
            (("EXCLUDE", "{a"), "EXCLUDE"),
            (("INCLUDE_TAGS", "=x"), "INCLUDE_TAGS (--include-tag)"),
            (("EXCLUDE_TAGS", "team=[x"), "EXCLUDE_TAGS (--exclude-tag)"),
            (("ROLE_ARN", "my-role"), "ROLE_ARN"),
            (
                ("EMIT_SYSTEM_FIELDS", "@aws.account,@aws.partition"),
                "EMIT_SYSTEM_FIELDS (--emit-system-fields): \"@aws.partition\" is not a system field",
            ),
            (("FILTER_NAME", "a*b"), "FILTER_NAME"),
            (
                ("DESTINATION_ARN_PARAMETER", "has space"),
                "DESTINATION_ARN_PARAMETER",
            ),
        ];
        for ((k, v), expected) in cases {
            let err = from(&[(k, v)]).expect_err(k).to_string();
            assert!(err.starts_with(expected), "{k}={v}: {err}");
        }
    }

    #[test]
    fn blank_values_are_defaults() {
        let s =
            from(&[("EXISTING_FILTERS", ""), ("ROLE_ARN", " "), ("INCLUDE", "")]).expect("valid");
        assert_eq!(s.existing_filters, ExistingFilters::Replace);
        assert_eq!(s.filter.role, None);
    }
}
