//! The Lambda function's handler: one event in, one decision out. `main.rs` only wires it to the
//! runtime; everything it decides is here, over [`Aws`], so tests call it with a fake too.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use tracing::{info, warn};

use crate::apply::{Outcome, OutcomeLabel, Subscriber};
use crate::aws::Aws;
use crate::destination::{CACHE_TTL, Destination, DestinationError};
use crate::event::{FunctionIdentity, read_create_log_group};
use crate::metrics::Counts;
use crate::plan::DesiredFilter;
use crate::sdk::SdkAws;
use crate::settings::{ConfigError, RawSettings, Settings};

/// What the function answers for an event it handled (skips included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The group the event named; `null` when the event named none.
    pub log_group_name: Option<String>,
    pub outcome: OutcomeLabel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed_filters: Vec<String>,
}

/// The function could not do what it should: Lambda retries the event, then keeps it on the stack's
/// failure destination. Each message says what to fix.
#[derive(Debug, Error)]
pub enum FunctionError {
    #[error("cannot tell this function's account and Region: {0}")]
    Identity(String),
    #[error("{0}")]
    Destination(#[from] DestinationError),
    #[error("log group {group}: {message}")]
    Failed { group: String, message: String },
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        let error_type = match &error {
            FunctionError::Identity(_) => "InvalidInvocation",
            FunctionError::Destination(_) => "DestinationUnusable",
            FunctionError::Failed { .. } => "SubscribeFailed",
        };
        Self {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// Reads the settings from the environment, adding the function's own log group to the exclusions
/// (subscribing it would ship our own logs, and a filter on it is nobody's intent).
pub fn settings_from_env() -> Result<Settings, ConfigError> {
    let mut settings = RawSettings::from_env(|k| std::env::var(k).ok()).parse()?;
    if let Ok(own) = std::env::var("AWS_LAMBDA_LOG_GROUP_NAME") {
        settings.selection =
            settings
                .selection
                .also_exclude_exactly(&own)
                .map_err(|e| ConfigError {
                    setting: crate::settings::Setting::Exclude,
                    message: e.to_string(),
                })?;
    }
    Ok(settings)
}

/// The handler with what it keeps between invocations: clients, settings, the cached destination.
#[derive(Debug)]
pub struct Function<A> {
    aws: A,
    settings: Settings,
    destination: Destination,
}

impl<A: Aws> Function<A> {
    pub fn new(aws: A, settings: Settings) -> Self {
        let destination = Destination::new(settings.destination.clone(), CACHE_TTL);
        Self {
            aws,
            settings,
            destination,
        }
    }

    pub fn aws(&self) -> &A {
        &self.aws
    }

    /// Handles one invocation. `Ok` for everything handled, skips included; `Err` only when the
    /// function cannot do what it should (broken configuration, AWS refusing, retries exhausted).
    pub async fn handle(
        &self,
        event: &Value,
        invoked_function_arn: &str,
    ) -> Result<Response, FunctionError> {
        let identity = FunctionIdentity::from_function_arn(invoked_function_arn)
            .map_err(FunctionError::Identity)?;
        let group = match read_create_log_group(event, &identity) {
            Ok(created) => created.name,
            Err(reason) => {
                let group = event
                    .pointer("/detail/requestParameters/logGroupName")
                    .and_then(Value::as_str);
                info!(log_group = group, outcome = "skipped", reason = %reason, "event skipped");
                return Ok(Response {
                    log_group_name: group.map(str::to_owned),
                    outcome: OutcomeLabel::Skipped,
                    reason: Some(reason),
                    removed_filters: Vec::new(),
                });
            }
        };
        let outcome = match self.settings.selection.check(&group) {
            Err(reason) => Outcome::Skipped { reason },
            Ok(()) => {
                let destination = match self.destination.get(&self.aws, &identity.region).await {
                    Ok(d) => d,
                    Err(e) => {
                        warn!(log_group = %group, outcome = "failed", error = %e, "destination unusable");
                        return Err(e.into());
                    }
                };
                let desired = DesiredFilter::new(&self.settings, destination);
                let subscriber = Subscriber {
                    desired: &desired,
                    mode: self.settings.existing_filters,
                    account: Some(&identity.account),
                    dry_run: false,
                };
                subscriber.subscribe(&self.aws, &group).await
            }
        };
        let label = outcome.label();
        let removed = outcome.removed().to_vec();
        match outcome {
            Outcome::Failed { error, .. } => {
                warn!(log_group = %group, outcome = %label, error = %error, "could not subscribe");
                Err(FunctionError::Failed {
                    group: group.to_string(),
                    message: error,
                })
            }
            outcome => {
                let reason = outcome.reason().map(str::to_owned);
                info!(log_group = %group, outcome = %label, reason, removed_filters = ?removed, "log group handled");
                Ok(Response {
                    log_group_name: Some(group.to_string()),
                    outcome: label,
                    reason,
                    removed_filters: removed,
                })
            }
        }
    }
}

impl Function<SdkAws> {
    /// Handles one invocation, then prints its outcome as an EMF metrics line (see
    /// [`crate::metrics`]): counted by CloudWatch Logs, at no API cost.
    pub async fn invoke(
        &self,
        event: &Value,
        invoked_function_arn: &str,
    ) -> Result<Response, FunctionError> {
        let throttled = || self.aws.stats().throttled.load(Ordering::Relaxed);
        let before = throttled();
        let result = self.handle(event, invoked_function_arn).await;
        let mut counts = Counts {
            throttled_retries: throttled().saturating_sub(before),
            ..Counts::default()
        };
        counts.add(result.as_ref().map_or(OutcomeLabel::Failed, |r| r.outcome));
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        println!("{}", counts.emf(&function_name, now.as_millis()));
        result
    }
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
    use crate::fake::FakeAws;

    const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe";
    const PARAMETER: &str = "/central-logging/destination-arn";
    const DEST: &str = "arn:aws:logs:us-east-1:999999999999:destination:central";

    fn function(aws: FakeAws) -> Function<FakeAws> {
        Function::new(
            aws,
            RawSettings::default().parse().expect("defaults are valid"),
        )
    }

    fn event(group: &str) -> Value {
        let mut e: Value = serde_json::from_str(include_str!("../events/create-log-group.json"))
            .expect("fixture is JSON");
        e["detail"]["requestParameters"]["logGroupName"] = group.into();
        e
    }

    #[tokio::test]
    async fn skips_cost_no_aws_call() {
        let f = function(FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST));
        let response = f
            .handle(&Value::Null, ARN)
            .await
            .expect("a skip is a success");
        assert_eq!(response.outcome, OutcomeLabel::Skipped);
        assert!(f.aws().calls().is_empty(), "{:?}", f.aws().calls());
    }

    #[tokio::test]
    async fn the_parameter_is_read_once_and_cached() {
        let aws = FakeAws::with_group("/a", vec![], 2).with_parameter(PARAMETER, DEST);
        let f = function(aws);
        assert_eq!(
            f.handle(&event("/a"), ARN).await.expect("ok").outcome,
            OutcomeLabel::Subscribed
        );
        assert_eq!(
            f.handle(&event("/a"), ARN).await.expect("ok").outcome,
            OutcomeLabel::Unchanged
        );
        let reads = f
            .aws()
            .calls()
            .iter()
            .filter(|c| c.starts_with("get "))
            .count();
        assert_eq!(reads, 1);
    }

    #[tokio::test]
    async fn unusable_destinations_are_errors_before_any_log_call() {
        let cases = [
            (None, "does not exist"),
            (Some("not-an-arn"), "not usable"),
            (
                Some("arn:aws:logs:eu-west-1:999999999999:destination:central"),
                "own Region (us-east-1)",
            ),
        ];
        for (value, expected) in cases {
            let aws = FakeAws::with_group("/a", vec![], 2);
            let aws = match value {
                Some(v) => aws.with_parameter(PARAMETER, v),
                None => aws,
            };
            let f = function(aws);
            let error = f
                .handle(&event("/a"), ARN)
                .await
                .expect_err("unusable")
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert_eq!(
                f.aws().calls(),
                vec![format!("get {PARAMETER}")],
                "no describe, no write"
            );
        }
    }

    #[tokio::test]
    async fn a_bad_invoked_arn_is_an_error() {
        let f = function(FakeAws::default());
        assert!(matches!(
            f.handle(&event("/a"), "nonsense").await,
            Err(FunctionError::Identity(_))
        ));
    }
}
