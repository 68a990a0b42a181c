//! The function's SDK configuration, from the variables Lambda sets in its environment.
//!
//! Lambda hands a function its Region and its role's credentials as environment variables, so the
//! function does not need `aws-config`'s default chain (profiles, SSO, web identity, the container
//! and instance metadata providers, and the STS client they share): leaving it out makes the
//! bootstrap smaller, and a smaller bootstrap starts faster (docs/benchmarks.md, "Size"). `backfill`, which runs
//! wherever people run it, keeps the default chain (`sdk::load_config`).
//!
//! Read here, with the meaning the SDK documents for them:
//! - `AWS_REGION`, else `AWS_DEFAULT_REGION`: required;
//! - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`: required; `AWS_SESSION_TOKEN` when set;
//! - `AWS_ENDPOINT_URL_<SERVICE>` (`CLOUDWATCH_LOGS`, `SSM`, `LAMBDA`, `CLOUDFORMATION`), else
//!   `AWS_ENDPOINT_URL`, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true;
//! - `AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT`;
//! - and the function's own `TRUST_STORE`: `amazon` (the default: the roots of Amazon Trust
//!   Services, compiled in, so no certificate is read from the system at cold start) or `system`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use thiserror::Error;

/// A variable the function needs is missing, or unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LambdaEnvError {
    #[error(
        "{0} is not set: the function takes its Region and credentials from the Lambda environment \
         (to run it elsewhere, export AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and \
         AWS_SESSION_TOKEN, for example with `aws configure export-credentials --format env`)"
    )]
    Missing(&'static str),
    #[error("{name} must be true or false, not {value:?}")]
    NotABool { name: &'static str, value: String },
    #[error("TRUST_STORE: {0}")]
    TrustStore(String),
}

/// The roots the function's HTTPS clients trust (`TRUST_STORE`).
pub fn trust_anchors(
    var: impl Fn(&str) -> Option<String>,
) -> Result<super::sdk::TrustAnchors, LambdaEnvError> {
    var("TRUST_STORE")
        .filter(|v| !v.trim().is_empty())
        .map_or(Ok(super::sdk::TrustAnchors::Amazon), |v| {
            v.parse().map_err(LambdaEnvError::TrustStore)
        })
}

/// The connect timeout `aws-config`'s defaults set; requests have no overall timeout, as there.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// Builds the SDK configuration from `var` (the process environment in the function; a map in
/// tests). Blank values count as unset, as in the SDK.
pub fn config_from_env(var: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, LambdaEnvError> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or(LambdaEnvError::Missing("AWS_REGION"))?;
    let key = var("AWS_ACCESS_KEY_ID").ok_or(LambdaEnvError::Missing("AWS_ACCESS_KEY_ID"))?;
    let secret =
        var("AWS_SECRET_ACCESS_KEY").ok_or(LambdaEnvError::Missing("AWS_SECRET_ACCESS_KEY"))?;
    let credentials = Credentials::new(
        key,
        secret,
        var("AWS_SESSION_TOKEN"),
        None,
        "LambdaEnvironment",
    );
    let flag = |name: &'static str| -> Result<Option<bool>, LambdaEnvError> {
        match var(name) {
            None => Ok(None),
            Some(v) if v.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(value) => Err(LambdaEnvError::NotABool { name, value }),
        }
    };
    let endpoints = if flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")? == Some(true) {
        EndpointUrls::default()
    } else {
        EndpointUrls::read(&var)
    };
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(super::sdk::https_client_trusting(trust_anchors(var)?))
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .service_config(endpoints);
    builder.set_use_fips(flag("AWS_USE_FIPS_ENDPOINT")?);
    builder.set_use_dual_stack(flag("AWS_USE_DUALSTACK_ENDPOINT")?);
    Ok(builder.build())
}

/// The endpoint URLs set in the environment, served to each client as the SDK's own environment
/// loader would: the service's variable first, then the global one.
#[derive(Debug, Default)]
struct EndpointUrls(BTreeMap<String, String>);

/// The endpoint variables: the global one and the four services the function calls (the service
/// ID upper-cased, spaces as underscores).
const ENDPOINT_VARIABLES: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_LAMBDA",
    "AWS_ENDPOINT_URL_CLOUDFORMATION",
];

impl EndpointUrls {
    fn read(var: &impl Fn(&str) -> Option<String>) -> Self {
        Self(
            ENDPOINT_VARIABLES
                .iter()
                .filter_map(|name| var(name).map(|url| ((*name).to_owned(), url)))
                .collect(),
        )
    }
}

impl LoadServiceConfig for EndpointUrls {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_uppercase().replace(' ', "_");
        self.0
            .get(&format!("{}_{service}", key.env()))
            .or_else(|| self.0.get(key.env()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    fn key<'a>(service: &'a str) -> ServiceConfigKey<'a> {
        ServiceConfigKey::builder()
            .service_id(service)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .expect("a complete key")
    }

    #[tokio::test]
    async fn lambda_environment_gives_region_and_session_credentials() {
        let config = config_from_env(env(&LAMBDA)).expect("usable");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let credentials = config
            .credentials_provider()
            .expect("credentials")
            .provide_credentials()
            .await
            .expect("static credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
        assert_eq!(config.use_fips(), None);
        assert!(config.behavior_version().is_some());
        assert!(config.sleep_impl().is_some());
        let service = config.service_config().expect("endpoint loader");
        assert_eq!(service.load_config(key("CloudWatch Logs")), None);
    }

    #[test]
    fn missing_region_or_keys_name_the_variable() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let pairs: Vec<_> = LAMBDA
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .chain([(missing, "  ")])
                .collect();
            let error = config_from_env(env(&pairs)).expect_err(missing);
            assert_eq!(error, LambdaEnvError::Missing(missing));
            assert!(error.to_string().starts_with(missing), "{error}");
        }
        let mut pairs = LAMBDA.to_vec();
        pairs.retain(|(k, _)| *k != "AWS_REGION");
        pairs.push(("AWS_DEFAULT_REGION", "us-east-2"));
        let config = config_from_env(env(&pairs)).expect("AWS_DEFAULT_REGION is enough");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-2"));
    }

    #[test]
    fn the_trust_store_is_amazons_unless_the_system_one_is_asked_for() {
        use crate::aws::sdk::TrustAnchors;
        assert_eq!(trust_anchors(env(&LAMBDA)), Ok(TrustAnchors::Amazon));
        assert_eq!(
            trust_anchors(env(&[("TRUST_STORE", "system")])),
            Ok(TrustAnchors::System)
        );
        assert_eq!(
            trust_anchors(env(&[("TRUST_STORE", " ")])),
            Ok(TrustAnchors::Amazon)
        );
        let mut pairs = LAMBDA.to_vec();
        pairs.push(("TRUST_STORE", "mozilla"));
        let error = config_from_env(env(&pairs)).expect_err("not a trust store");
        assert!(
            error.to_string().starts_with("TRUST_STORE: \"mozilla\""),
            "{error}"
        );
    }

    #[test]
    fn service_endpoint_wins_over_the_global_one() {
        let mut pairs = LAMBDA.to_vec();
        pairs.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"));
        pairs.push(("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:6000"));
        let config = config_from_env(env(&pairs)).expect("usable");
        let service = config.service_config().expect("endpoint loader");
        assert_eq!(
            service.load_config(key("CloudWatch Logs")).as_deref(),
            Some("http://127.0.0.1:6000")
        );
        assert_eq!(
            service.load_config(key("SSM")).as_deref(),
            Some("http://127.0.0.1:5000")
        );
        pairs.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        let config = config_from_env(env(&pairs)).expect("usable");
        let service = config.service_config().expect("endpoint loader");
        assert_eq!(service.load_config(key("SSM")), None);
    }

    #[test]
    fn fips_and_dual_stack_flags() {
        let mut pairs = LAMBDA.to_vec();
        pairs.push(("AWS_USE_FIPS_ENDPOINT", "TRUE"));
        pairs.push(("AWS_USE_DUALSTACK_ENDPOINT", "false"));
        let config = config_from_env(env(&pairs)).expect("usable");
        assert_eq!(config.use_fips(), Some(true));
        assert_eq!(config.use_dual_stack(), Some(false));
        pairs.push(("AWS_USE_FIPS_ENDPOINT", "yes"));
        pairs.retain(|(k, v)| !(*k == "AWS_USE_FIPS_ENDPOINT" && *v == "TRUE"));
        let error = config_from_env(env(&pairs)).expect_err("not a bool");
        assert!(
            error.to_string().contains("AWS_USE_FIPS_ENDPOINT"),
            "{error}"
        );
    }
}
