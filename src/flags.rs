//! The settings as command-line flags, each falling back to the function's environment variable
//! (both named once in [`Setting`]), and the check of `--rate`: what `backfill` and `audit` share.

use clap::Args;

use crate::settings::{DEFAULT_PARAMETER, RawSettings, Setting};

/// The filter and the selection, as flags.
#[derive(Debug, Clone, Args)]
pub struct SettingsFlags {
    /// SSM parameter holding the destination ARN.
    #[arg(
        long = Setting::DestinationArnParameter.long(),
        env = Setting::DestinationArnParameter.env(),
        default_value = DEFAULT_PARAMETER
    )]
    pub destination_arn_parameter: String,
    /// The name of the filter this tool owns [default: central-logging].
    #[arg(long = Setting::FilterName.long(), env = Setting::FilterName.env())]
    pub filter_name: Option<String>,
    /// CloudWatch Logs filter pattern [default: empty, every event].
    #[arg(
        long = Setting::FilterPattern.long(),
        env = Setting::FilterPattern.env(),
        allow_hyphen_values = true
    )]
    pub filter_pattern: Option<String>,
    /// Role passed to PutSubscriptionFilter.
    #[arg(long = Setting::RoleArn.long(), env = Setting::RoleArn.env())]
    pub role_arn: Option<String>,
    /// ByLogStream or Random [default: AWS's, ByLogStream].
    #[arg(long = Setting::Distribution.long(), env = Setting::Distribution.env())]
    pub distribution: Option<String>,
    /// What to do with other filters: replace, make-room or keep [default: replace].
    #[arg(long = Setting::ExistingFilters.long(), env = Setting::ExistingFilters.env())]
    pub existing_filters: Option<String>,
    /// Glob over the whole log group name (repeatable or comma-separated) [default: *].
    #[arg(long = Setting::Include.long(), env = Setting::Include.env(), value_delimiter = ',')]
    pub include: Vec<String>,
    /// Glob of names to leave alone (repeatable or comma-separated).
    #[arg(long = Setting::Exclude.long(), env = Setting::Exclude.env(), value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Tag a group must carry to be selected, `key=value` (the value a glob) or `key` for any
    /// value (repeatable or comma-separated; one of them is enough). Costs one
    /// ListTagsForResource per group whose name is selected.
    #[arg(long = Setting::IncludeTags.long(), env = Setting::IncludeTags.env(), value_delimiter = ',', value_name = "KEY[=VALUE]")]
    pub include_tag: Vec<String>,
    /// Tag that leaves a group alone, `key=value` or `key` (repeatable or comma-separated).
    #[arg(long = Setting::ExcludeTags.long(), env = Setting::ExcludeTags.env(), value_delimiter = ',', value_name = "KEY[=VALUE]")]
    pub exclude_tag: Vec<String>,
    /// System fields our filter adds to the events it sends (repeatable or comma-separated):
    /// @aws.account, @aws.region, @source.log [default: none].
    #[arg(long = Setting::EmitSystemFields.long(), env = Setting::EmitSystemFields.env(), value_delimiter = ',', value_name = "FIELD")]
    pub emit_system_fields: Vec<String>,
}

impl SettingsFlags {
    /// The raw settings these flags say, with `destination_arn` given directly or not.
    pub fn raw(&self, destination_arn: Option<String>) -> RawSettings {
        let blank_is_none = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let globs = |v: &[String]| {
            v.iter()
                .map(|g| g.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect()
        };
        RawSettings {
            destination_arn_parameter: Some(self.destination_arn_parameter.clone()),
            destination_arn: blank_is_none(&destination_arn),
            filter_name: blank_is_none(&self.filter_name),
            filter_pattern: self.filter_pattern.clone(),
            role_arn: blank_is_none(&self.role_arn),
            distribution: blank_is_none(&self.distribution),
            existing_filters: blank_is_none(&self.existing_filters),
            include: globs(&self.include),
            exclude: globs(&self.exclude),
            include_tags: globs(&self.include_tag),
            exclude_tags: globs(&self.exclude_tag),
            emit_system_fields: globs(&self.emit_system_fields),
        }
    }
}

/// `--rate`, the requests per second both commands pace each API at: `Err` with the message when
/// it is not a positive number.
pub fn checked_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(format!(
            "--rate must be a positive number of requests per second, got {rate}"
        ))
    }
}
