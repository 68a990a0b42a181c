//! The function as a process: its settings read from the environment at cold start, an unusable
//! configuration reported to the Runtime API, and each invocation's metrics line.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::warn;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use super::{Answer, Function, FunctionError};
use crate::aws::sdk::SdkAws;
use crate::outcome::OutcomeLabel;
use crate::settings::{ConfigError, RawSettings, Setting, Settings, env_var};

use super::metrics::Counts;

/// The function's own log group, set by Lambda.
pub const OWN_LOG_GROUP: &str = "AWS_LAMBDA_LOG_GROUP_NAME";

/// The level the function logs at, when the stack sets it (`LogLevel`). Lambda's own log-level
/// filter is left open so that it never drops the metrics line, which has no level of its own.
pub const LOG_LEVEL: &str = "LOG_LEVEL";

/// Starts logging as Lambda's advanced logging controls ask: JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT` is JSON, at the level of [`LOG_LEVEL`], else `AWS_LAMBDA_LOG_LEVEL`,
/// else `RUST_LOG` (a level, or `target=level` pairs), else INFO.
pub fn init_logging() {
    let filter = [LOG_LEVEL, "AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(env_var)
        .and_then(|level| log_filter(&level))
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let json = env_var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(lines.json()).init();
    } else {
        registry.with(lines).init();
    }
}

/// A log filter from a level (Lambda's `FATAL` is tracing's `error`) or `target=level` pairs.
fn log_filter(text: &str) -> Option<Targets> {
    let text = text.trim();
    let text = if text.eq_ignore_ascii_case("fatal") {
        "error"
    } else {
        text
    };
    text.parse().ok()
}

/// Reads the settings from the environment, adding the function's own log group to the exclusions
/// (subscribing it would ship our own logs, and a filter on it is nobody's intent).
pub fn settings_from_env() -> Result<Settings, ConfigError> {
    let mut settings = RawSettings::from_env(|k| std::env::var(k).ok()).parse()?;
    if let Ok(own) = std::env::var(OWN_LOG_GROUP) {
        settings.selection =
            settings
                .selection
                .also_exclude_exactly(&own)
                .map_err(|e| ConfigError {
                    setting: Setting::Exclude,
                    message: e.to_string(),
                })?;
    }
    Ok(settings)
}

impl Function<SdkAws> {
    /// Handles one invocation, then prints its outcome as an EMF metrics line (see
    /// [`super::metrics`]): counted by CloudWatch Logs, at no API cost.
    pub async fn invoke(
        &self,
        payload: &Value,
        invoked_function_arn: &str,
        deadline_ms: u64,
    ) -> Result<Answer, FunctionError> {
        let throttled = || self.aws.stats().throttled.load(Ordering::Relaxed);
        let before = throttled();
        let result = self
            .handle(payload, invoked_function_arn, deadline_ms)
            .await;
        let mut counts = match &result {
            Ok(answer) => answer.counts(),
            Err(_) => {
                let mut counts = Counts::default();
                counts.outcomes.add(OutcomeLabel::Failed);
                counts
            }
        };
        counts.throttled_retries = throttled().saturating_sub(before);
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        println!("{}", counts.emf(&function_name, now.as_millis()));
        if let Some(named) = counts.repairs_stopped_emf(&function_name, now.as_millis()) {
            println!("{named}");
        }
        result
    }
}

/// The stack the function belongs to (`STACK_ID`) and its role's name (`FUNCTION_ROLE_NAME`), as
/// the stack sets them.
pub fn deployment_from_env() -> (Option<String>, Option<String>) {
    (env_var("STACK_ID"), env_var("FUNCTION_ROLE_NAME"))
}

/// Tells the Runtime API that initialisation failed (`/runtime/init/error`), so the invocation fails
/// with this message instead of a bare "Runtime exited". Used when the settings are unusable.
pub async fn report_init_error(error: &(dyn std::error::Error + Send + Sync)) {
    use lambda_runtime_api_client::{PooledClient, body::Body, build_request};
    let body = serde_json::json!({ "errorType": "Runtime.ConfigurationError", "errorMessage": error.to_string() });
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header(
            "lambda-runtime-function-error-type",
            "Runtime.ConfigurationError",
        )
        .body(Body::from(body.to_string()));
    match request {
        Ok(request) => {
            if let Err(e) = PooledClient::builder().build().call(request).await {
                warn!(error = %e, "could not report the init error to the Runtime API");
            }
        }
        Err(e) => warn!(error = %e, "could not build the init error report"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn log_levels_as_lambda_names_them() {
        for (text, enabled, disabled) in [
            ("INFO", Level::INFO, Level::DEBUG),
            ("debug", Level::DEBUG, Level::TRACE),
            ("WARN", Level::WARN, Level::INFO),
            ("FATAL", Level::ERROR, Level::WARN),
            ("auto_subscribe=trace", Level::TRACE, Level::TRACE),
        ] {
            let filter = log_filter(text).expect(text);
            assert!(filter.would_enable("auto_subscribe", &enabled), "{text}");
            if disabled != enabled {
                assert!(!filter.would_enable("auto_subscribe", &disabled), "{text}");
            }
        }
        assert!(log_filter("=not a level=").is_none());
    }
}
