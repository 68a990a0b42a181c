//! The function as a process, at init: its logging, settings and deployment read from the
//! environment once (through the lookup `main.rs` passes, so tests give their own), and an unusable
//! configuration reported to the Runtime API.

use tracing::warn;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use super::Function;
use crate::aws::lambda_env::{config_from_env, trust_anchors};
use crate::aws::pacing::{FILTER_API_QUOTA, FUNCTION_API_RATE, Pacing};
use crate::aws::retry::RetryPolicy;
use crate::aws::sdk::SdkAws;
use crate::settings::{ConfigError, RawSettings, Setting, Settings};
use crate::stack::response_url::Endpoints;

/// What the function's environment says of its deployment, read once at init.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The stack the function belongs to (`STACK_ID`): the only one whose requests it acts on.
    pub stack_id: Option<String>,
    /// The function's role name (`FUNCTION_ROLE_NAME`), to know its own calls in CloudTrail.
    pub role_name: Option<String>,
    /// The SDK's configured endpoints, whose origin a response URL may use (a local AWS).
    pub endpoints: Endpoints,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`), the metrics' dimension.
    pub function_name: String,
}

impl Environment {
    /// Reads the variables the stack and Lambda set, through `lookup` (blank counts as unset).
    pub fn read(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            stack_id: get("STACK_ID"),
            role_name: get("FUNCTION_ROLE_NAME"),
            endpoints: Endpoints {
                s3: get("AWS_ENDPOINT_URL_S3"),
                all: get("AWS_ENDPOINT_URL"),
            },
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        }
    }
}

/// The function's own log group, set by Lambda.
pub const OWN_LOG_GROUP: &str = "AWS_LAMBDA_LOG_GROUP_NAME";

/// The level the function logs at, when the stack sets it (`LogLevel`). Lambda's own log-level
/// filter is left open so that it never drops the metrics line, which has no level of its own.
pub const LOG_LEVEL: &str = "LOG_LEVEL";

/// Starts logging as Lambda's advanced logging controls ask: JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT` is JSON, at the level of [`LOG_LEVEL`], else `AWS_LAMBDA_LOG_LEVEL`,
/// else `RUST_LOG` (a level, or `target=level` pairs), else INFO.
pub fn init_logging(lookup: impl Fn(&str) -> Option<String>) {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let filter = [LOG_LEVEL, "AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(get)
        .and_then(|level| log_filter(&level))
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let json = get("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
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

/// The Lambda runtime crate's modules: at TRACE they log each raw event, a custom resource
/// request's pre-signed `ResponseURL` included.
const RUNTIME_CRATE: &str = "lambda_runtime";

/// A log filter from a level (Lambda's `FATAL` is tracing's `error`) or `target=level` pairs. The
/// runtime crate never logs below DEBUG, whatever the level: no secret reaches a log line.
fn log_filter(text: &str) -> Option<Targets> {
    let text = text.trim();
    let text = if text.eq_ignore_ascii_case("fatal") {
        "error"
    } else {
        text
    };
    let filter: Targets = text.parse().ok()?;
    Some(
        if filter.would_enable(RUNTIME_CRATE, &tracing::Level::TRACE) {
            filter.with_target(RUNTIME_CRATE, LevelFilter::DEBUG)
        } else {
            filter
        },
    )
}

/// Reads the settings from the environment, adding the function's own log group to the exclusions
/// (subscribing it would ship our own logs, and a filter on it is nobody's intent).
pub fn settings_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let mut settings = RawSettings::from_env(&lookup).parse()?;
    if let Some(own) = lookup(OWN_LOG_GROUP) {
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

/// Builds the function at cold start from what `lookup` reads of the environment: its settings,
/// its SDK configuration and clients, and what the stack set. An unusable one is logged and
/// reported to the Runtime API, so the invocation fails with a message that says what to fix.
pub async fn start(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Function<SdkAws>, lambda_runtime::Error> {
    let settings = match settings_from_env(&lookup) {
        Ok(settings) => settings,
        Err(e) => return Err(init_failed("configuration", e.into()).await),
    };
    let config = match config_from_env(&lookup) {
        Ok(config) => config,
        Err(e) => return Err(init_failed("the Lambda environment", e.into()).await),
    };
    // With one execution environment (the stack reserves one where it can), these buckets pace the
    // function account-wide: a burst of new log groups queues up, under CloudWatch Logs' 5
    // requests/s quotas with room left for the account's other tools.
    let rate = match api_rate(&lookup) {
        Ok(rate) => rate,
        Err(e) => return Err(init_failed("configuration", e.into()).await),
    };
    let anchors = trust_anchors(&lookup).unwrap_or_default();
    let aws = SdkAws::new(&config, RetryPolicy::FUNCTION)
        .with_pacing(Pacing::new(rate))
        .trusting(anchors);
    Ok(Function::new(aws, settings).deployed(Environment::read(lookup)))
}

/// The function's pace per subscription filter API (`API_RATE`, requests per second): above 0 and
/// at most AWS's quota; [`FUNCTION_API_RATE`] when unset.
fn api_rate(lookup: impl Fn(&str) -> Option<String>) -> Result<f64, String> {
    let Some(text) = lookup("API_RATE").filter(|v| !v.trim().is_empty()) else {
        return Ok(FUNCTION_API_RATE);
    };
    match text.trim().parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= FILTER_API_QUOTA => Ok(rate),
        _ => Err(format!(
            "API_RATE: {text:?} is not a number of requests per second above 0 and at most \
             {FILTER_API_QUOTA} (CloudWatch Logs' quota for each subscription filter API)"
        )),
    }
}

/// Logs and reports to the Runtime API why the function cannot start.
async fn init_failed(what: &str, error: lambda_runtime::Error) -> lambda_runtime::Error {
    tracing::error!(error = %error, "{what} is not usable");
    report_init_error(error.as_ref()).await;
    error
}

/// Tells the Runtime API that initialisation failed (`/runtime/init/error`), so the invocation fails
/// with this message instead of a bare "Runtime exited". Used when the settings are unusable.
async fn report_init_error(error: &(dyn std::error::Error + Send + Sync)) {
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
    fn the_functions_pace_leaves_room_for_other_tools_and_is_bounded_by_the_quota() {
        let env =
            |value: &'static str| move |name: &str| (name == "API_RATE").then(|| value.to_owned());
        assert_eq!(api_rate(|_| None), Ok(FUNCTION_API_RATE));
        const { assert!(FUNCTION_API_RATE < FILTER_API_QUOTA) };
        assert_eq!(api_rate(env("4.5")), Ok(4.5));
        for bad in ["0", "6", "fast", "-1"] {
            let error = api_rate(env(bad)).expect_err(bad);
            assert!(error.starts_with("API_RATE"), "{error}");
        }
    }

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
        // The runtime crate's raw-event lines stay off at every level, and it is never raised.
        for text in [
            "TRACE",
            "trace",
            "lambda_runtime=trace",
            "info,lambda_runtime=trace",
        ] {
            let filter = log_filter(text).expect(text);
            let raw_event_target = "lambda_runtime::layers::api_response";
            assert!(
                !filter.would_enable(raw_event_target, &Level::TRACE),
                "{text}"
            );
        }
        assert!(
            log_filter("TRACE")
                .expect("valid")
                .would_enable("lambda_runtime", &Level::DEBUG)
        );
        assert!(
            !log_filter("INFO")
                .expect("valid")
                .would_enable("lambda_runtime", &Level::DEBUG)
        );
        assert!(
            log_filter("TRACE")
                .expect("valid")
                .would_enable("auto_subscribe", &Level::TRACE)
        );
    }
}
