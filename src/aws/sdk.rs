//! [`Aws`] over the AWS SDK (CloudWatch Logs, SSM, Lambda for a sweep's continuation,
//! CloudFormation for the stack's status, CloudTrail's event history for a catch-up) and one HTTPS client for CloudFormation's answers: the
//! only module that sees SDK types and SDK errors.
//!
//! The SDK's own retries are turned off and this adapter retries instead, because the SDK's default
//! classifier treats `LimitExceededException` as throttling (a put on a full group would cost seconds
//! of pointless retries) and does not retry `OperationAbortedException` (a concurrent change to the
//! same group, which is worth retrying). See the error table in `docs/errors.md`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::types::{Distribution, PolicyType};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::retry::RetryConfig;
use aws_types::SdkConfig;
use http_body_util::Full;
use hyper::Uri;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::pacing::{Api, Pacing};
use super::retry::RetryPolicy;
use super::{ApiError, Aws, CanaryGroups, LogGroupPage, TrailEvent, TrailPage};
use crate::account_policy::AccountPolicy;
use crate::filter::SubscriptionFilter;
use crate::group::{ListedGroup, Tags};
use crate::names::LogGroupName;

/// Counters of what the adapter did, for logs, metrics and benchmarks.
#[derive(Debug, Default)]
pub struct CallStats {
    /// Answers that were throttling (`ThrottlingException`).
    pub throttled: AtomicU64,
    /// Retries of any transient error.
    pub retries: AtomicU64,
}

/// CloudWatch Logs through the AWS SDK, with our retries; SSM (the destination parameter, read
/// once per five minutes), Lambda (a sweep's hand-on), CloudFormation (the stack's status) and
/// CloudTrail (a catch-up's lookups) built at their first use, since most invocations need none
/// of them and a client costs its share of the cold start.
#[derive(Debug, Clone)]
pub struct SdkAws {
    logs: aws_sdk_cloudwatchlogs::Client,
    ssm: Arc<Later<aws_sdk_ssm::Client>>,
    lambda: Arc<Later<aws_sdk_lambda::Client>>,
    cloudformation: Arc<Later<aws_sdk_cloudformation::Client>>,
    cloudtrail: Arc<Later<aws_sdk_cloudtrail::Client>>,
    retry: RetryPolicy,
    stats: Arc<CallStats>,
    pacing: Option<Arc<Pacing>>,
    answers: Arc<AnswerClient>,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client built from its configuration at its first use, or given ready (tests' mocks).
#[derive(Debug)]
enum Later<C> {
    Ready(C),
    From(Box<SdkConfig>, OnceLock<C>),
}

impl<C> Later<C> {
    fn ready(client: C) -> Self {
        Self::Ready(client)
    }

    fn from(config: &SdkConfig) -> Self {
        Self::From(Box::new(config.clone()), OnceLock::new())
    }

    fn get(&self, build: impl FnOnce(&SdkConfig) -> C) -> &C {
        match self {
            Self::Ready(client) => client,
            Self::From(config, client) => client.get_or_init(|| build(config)),
        }
    }
}

/// The HTTPS client CloudFormation's answers go out on: built at the first answer (most
/// invocations never send one), then kept, trusting the same roots as the SDK's clients.
#[derive(Default)]
struct AnswerClient {
    anchors: TrustAnchors,
    client: OnceLock<Result<HttpsClient, String>>,
}

impl std::fmt::Debug for AnswerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnswerClient")
    }
}

impl AnswerClient {
    fn get(&self) -> Result<&HttpsClient, ApiError> {
        self.client
            .get_or_init(|| {
                let builder = hyper_rustls::HttpsConnectorBuilder::new();
                let builder = match self.anchors {
                    TrustAnchors::System => builder
                        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
                        .map_err(|e| format!("loading the system's root certificates: {e}"))?,
                    TrustAnchors::Amazon => builder.with_tls_config(amazon_tls_config()?),
                };
                let connector = builder.https_or_http().enable_http1().build();
                Ok(Client::builder(TokioExecutor::new()).build(connector))
            })
            .as_ref()
            .map_err(|e| ApiError::Other(e.clone()))
    }
}

/// A TLS client configuration on ring trusting only [`AMAZON_ROOTS`].
fn amazon_tls_config() -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(AMAZON_ROOTS) {
        let cert = cert.map_err(|e| format!("the compiled-in Amazon roots: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("the compiled-in Amazon roots: {e}"))?;
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())
    .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
}

/// Loads the SDK configuration the standard way (region, credentials, `AWS_ENDPOINT_URL`,
/// profiles), with a Region or a profile given on the command line taking precedence.
#[cfg(feature = "cli")]
pub async fn load_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// The roots of Amazon Trust Services (Amazon Root CA 1 to 4, Starfield Services Root G2), which
/// every AWS endpoint's certificate chains to, S3's pre-signed response URLs included.
const AMAZON_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// Which root certificates the HTTPS clients trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustAnchors {
    /// The five roots AWS endpoints chain to, compiled in: nothing read or parsed from the system
    /// at cold start (the function's default).
    #[default]
    Amazon,
    /// The system's root store (`/etc/ssl/certs`), read at start: for a TLS-inspecting proxy with
    /// a root of its own, say (`backfill`'s, and the function's with `TRUST_STORE=system`).
    System,
}

impl std::str::FromStr for TrustAnchors {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "amazon" => Ok(Self::Amazon),
            "system" => Ok(Self::System),
            other => Err(format!("{other:?} is not amazon or system")),
        }
    }
}

/// The SDK's HTTPS client, with rustls on ring, trusting the system's root store.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    https_client_trusting(TrustAnchors::System)
}

/// The SDK's HTTPS client, with rustls on ring, trusting `anchors`.
pub fn https_client_trusting(
    anchors: TrustAnchors,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match anchors {
        TrustAnchors::System => builder.build_https(),
        TrustAnchors::Amazon => {
            let roots = tls::TrustStore::empty().with_pem_certificate(AMAZON_ROOTS);
            match tls::TlsContext::builder().with_trust_store(roots).build() {
                Ok(context) => builder.tls_context(context).build_https(),
                // Building a context from a trust store cannot fail today; if it did, the
                // system's store still lets the function work.
                Err(_) => https_client_trusting(TrustAnchors::System),
            }
        }
    }
}

impl SdkAws {
    /// The clients of `config`, each built once with the SDK's retries off (ours retry instead).
    pub fn new(config: &SdkConfig, retry: RetryPolicy) -> Self {
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(config)
            .retry_config(RetryConfig::disabled())
            .build();
        Self::assembled(
            aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            Later::from(config),
            Later::from(config),
            Later::from(config),
            Later::from(config),
            retry,
        )
    }

    /// Wraps existing clients (tests pass mocked ones), turning their SDK-level retries off.
    pub fn from_clients(
        logs: aws_sdk_cloudwatchlogs::Client,
        ssm: aws_sdk_ssm::Client,
        lambda: aws_sdk_lambda::Client,
        cloudformation: aws_sdk_cloudformation::Client,
        cloudtrail: aws_sdk_cloudtrail::Client,
        retry: RetryPolicy,
    ) -> Self {
        let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            logs.config()
                .to_builder()
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        let ssm = aws_sdk_ssm::Client::from_conf(
            ssm.config()
                .to_builder()
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        let lambda = aws_sdk_lambda::Client::from_conf(
            lambda
                .config()
                .to_builder()
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        let cloudformation = aws_sdk_cloudformation::Client::from_conf(
            cloudformation
                .config()
                .to_builder()
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        let cloudtrail = aws_sdk_cloudtrail::Client::from_conf(
            cloudtrail
                .config()
                .to_builder()
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        Self::assembled(
            logs,
            Later::ready(ssm),
            Later::ready(lambda),
            Later::ready(cloudformation),
            Later::ready(cloudtrail),
            retry,
        )
    }

    fn assembled(
        logs: aws_sdk_cloudwatchlogs::Client,
        ssm: Later<aws_sdk_ssm::Client>,
        lambda: Later<aws_sdk_lambda::Client>,
        cloudformation: Later<aws_sdk_cloudformation::Client>,
        cloudtrail: Later<aws_sdk_cloudtrail::Client>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            logs,
            ssm: Arc::new(ssm),
            lambda: Arc::new(lambda),
            cloudformation: Arc::new(cloudformation),
            cloudtrail: Arc::new(cloudtrail),
            retry,
            stats: Arc::default(),
            pacing: None,
            answers: Arc::new(AnswerClient {
                anchors: TrustAnchors::System,
                client: OnceLock::new(),
            }),
        }
    }

    /// CloudFormation's answers trust `anchors` (the SDK's clients trust what their configuration's
    /// HTTP client does).
    pub fn trusting(mut self, anchors: TrustAnchors) -> Self {
        self.answers = Arc::new(AnswerClient {
            anchors,
            client: OnceLock::new(),
        });
        self
    }

    /// Paces every request (retries included) with per-API token buckets.
    pub fn with_pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = Some(Arc::new(pacing));
        self
    }

    fn ssm(&self) -> &aws_sdk_ssm::Client {
        self.ssm.get(|config| {
            aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(config)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            )
        })
    }

    fn lambda(&self) -> &aws_sdk_lambda::Client {
        self.lambda.get(|config| {
            aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            )
        })
    }

    fn cloudformation(&self) -> &aws_sdk_cloudformation::Client {
        self.cloudformation.get(|config| {
            aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(config)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            )
        })
    }

    fn cloudtrail(&self) -> &aws_sdk_cloudtrail::Client {
        self.cloudtrail.get(|config| {
            aws_sdk_cloudtrail::Client::from_conf(
                aws_sdk_cloudtrail::config::Builder::from(config)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            )
        })
    }

    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// Runs `call` until it succeeds, fails for good, or runs out of attempts; each attempt first
    /// waits for `api`'s token when the adapter is paced.
    async fn retrying<T, E, F, Fut>(&self, api: Option<Api>, call: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let pacing = self.pacing.as_deref().zip(api);
        retried(self.retry, pacing, Some(&self.stats), call).await
    }
}

/// Runs `call` under `retry`, unpaced, its errors sorted into our table: for the few calls made
/// outside an [`SdkAws`] (the organization's, for `audit`).
pub async fn classified<T, E, F, Fut>(retry: RetryPolicy, call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    retried(retry, None, None, call).await
}

/// Every page of a listing: `page` fetches the page after a token (`None` first), retries
/// included; `items` takes a page's items and the token of the next one (absent or empty on the
/// last).
pub(super) async fn every_page<T, Page, Fut>(
    mut page: impl FnMut(Option<String>) -> Fut,
    mut items: impl FnMut(&Page) -> (Vec<T>, Option<String>),
) -> Result<Vec<T>, ApiError>
where
    Fut: Future<Output = Result<Page, ApiError>>,
{
    let mut all = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let (found, token) = items(&page(next_token.take()).await?);
        all.extend(found);
        match token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => return Ok(all),
        }
    }
}

/// The retry loop: each attempt waits for its token when paced, transient errors are retried with
/// `retry`'s backoff and counted in `stats`, anything else is final.
async fn retried<T, E, F, Fut>(
    retry: RetryPolicy,
    pacing: Option<(&Pacing, Api)>,
    stats: Option<&CallStats>,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut attempt = 1;
    loop {
        if let Some((pacing, api)) = pacing {
            pacing.wait(api).await;
        }
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        match classify(&error) {
            Class::Final(api_error) => return Err(api_error),
            Class::Transient { throttled, detail } => {
                if let (true, Some(stats)) = (throttled, stats) {
                    stats.throttled.fetch_add(1, Ordering::Relaxed);
                }
                if attempt >= retry.max_attempts {
                    return Err(ApiError::RetriesExhausted {
                        attempts: attempt,
                        last: detail,
                    });
                }
                if let Some(stats) = stats {
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(retry.delay(attempt)).await;
                attempt += 1;
            }
        }
    }
}

impl Aws for SdkAws {
    fn throttled(&self) -> u64 {
        self.stats.throttled.load(Ordering::Relaxed)
    }

    /// The content type stays empty: the URL's signature covers none, as CloudFormation's own
    /// cfn-response module does. Errors name the URL's host only: the rest is a secret.
    async fn answer_cloudformation(
        &self,
        url: &Uri,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<(), ApiError> {
        let host = url.host().unwrap_or_default().to_owned();
        let client = self.answers.get()?;
        let body = serde_json::to_vec(body).map_err(|e| ApiError::Other(e.to_string()))?;
        let request = hyper::Request::put(url.clone())
            .header("content-type", "")
            .header("content-length", body.len())
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| ApiError::Other(format!("building the response to host {host}")))?;
        let answer = tokio::time::timeout(timeout, client.request(request))
            .await
            .map_err(|_| {
                ApiError::Other(format!(
                    "the response URL (host {host}) did not answer within {}s",
                    timeout.as_secs()
                ))
            })?
            .map_err(|e| {
                ApiError::Other(format!(
                    "sending the response to host {host}: {}",
                    redacted(&e)
                ))
            })?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(ApiError::Other(format!(
                "the response URL (host {host}) answered HTTP {}",
                answer.status()
            )))
        }
    }

    async fn describe_subscription_filters(
        &self,
        group: &LogGroupName,
    ) -> Result<Vec<SubscriptionFilter>, ApiError> {
        let mut filters = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .retrying(Some(Api::DescribeSubscriptionFilters), || {
                    self.logs
                        .describe_subscription_filters()
                        .log_group_name(group.as_str())
                        .set_next_token(next_token.clone())
                        .send()
                })
                .await?;
            filters.extend(output.subscription_filters().iter().map(|f| {
                SubscriptionFilter {
                    name: f.filter_name().unwrap_or_default().to_owned(),
                    destination_arn: f.destination_arn().unwrap_or_default().to_owned(),
                    filter_pattern: f.filter_pattern().unwrap_or_default().to_owned(),
                    role_arn: f.role_arn().filter(|r| !r.is_empty()).map(str::to_owned),
                    distribution: f.distribution().map(|d| d.as_str().to_owned()),
                    apply_on_transformed_logs: f.apply_on_transformed_logs(),
                    field_selection_criteria: f
                        .field_selection_criteria()
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                    emit_system_fields: f.emit_system_fields().to_vec(),
                    creation_time: f.creation_time(),
                }
            }));
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return Ok(filters),
            }
        }
    }

    async fn put_subscription_filter(
        &self,
        group: &LogGroupName,
        filter: &SubscriptionFilter,
    ) -> Result<(), ApiError> {
        self.retrying(Some(Api::PutSubscriptionFilter), || {
            self.logs
                .put_subscription_filter()
                .log_group_name(group.as_str())
                .filter_name(&filter.name)
                .filter_pattern(&filter.filter_pattern)
                .destination_arn(&filter.destination_arn)
                .set_role_arn(filter.role_arn.clone())
                .set_distribution(filter.distribution.as_deref().map(Distribution::from))
                // Every attribute said: AWS keeps what a put leaves out. `Some("")` clears the
                // criteria; `None` leaves them as they are (a filter new to the group has none).
                .apply_on_transformed_logs(filter.apply_on_transformed_logs)
                .set_field_selection_criteria(filter.field_selection_criteria.clone())
                .set_emit_system_fields(Some(filter.emit_system_fields.clone()))
                .send()
        })
        .await
        .map(|_| ())
    }

    async fn delete_subscription_filter(
        &self,
        group: &LogGroupName,
        filter_name: &str,
    ) -> Result<(), ApiError> {
        self.retrying(Some(Api::DeleteSubscriptionFilter), || {
            self.logs
                .delete_subscription_filter()
                .log_group_name(group.as_str())
                .filter_name(filter_name)
                .send()
        })
        .await
        .map(|_| ())
    }

    async fn get_parameter(&self, name: &str) -> Result<String, ApiError> {
        let output = self
            .retrying(None, || {
                self.ssm()
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
            })
            .await?;
        output
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::ParameterNotFound(format!("{name} has no value")))
    }

    async fn list_tags(&self, group_arn: &str) -> Result<Tags, ApiError> {
        let output = self
            .retrying(Some(Api::ListTagsForResource), || {
                self.logs
                    .list_tags_for_resource()
                    .resource_arn(group_arn)
                    .send()
            })
            .await?;
        Ok(output
            .tags()
            .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    async fn subscription_policies(&self) -> Result<Vec<AccountPolicy>, ApiError> {
        every_page(
            |token| {
                self.retrying(Some(Api::DescribeAccountPolicies), move || {
                    self.logs
                        .describe_account_policies()
                        .policy_type(PolicyType::SubscriptionFilterPolicy)
                        .set_next_token(token.clone())
                        .send()
                })
            },
            |output| {
                let policies = output
                    .account_policies()
                    .iter()
                    .filter_map(|policy| {
                        let name = policy.policy_name().unwrap_or_default();
                        AccountPolicy::parse(
                            name,
                            policy.policy_document().unwrap_or_default(),
                            policy.selection_criteria(),
                        )
                        .map_err(|why| {
                            tracing::warn!(policy = name, error = %why, "account policy not read");
                        })
                        .ok()
                    })
                    .collect();
                (policies, output.next_token().map(str::to_owned))
            },
        )
        .await
    }

    async fn metric_filter_patterns(&self, group: &LogGroupName) -> Result<Vec<String>, ApiError> {
        every_page(
            |token| {
                self.retrying(Some(Api::DescribeMetricFilters), move || {
                    self.logs
                        .describe_metric_filters()
                        .log_group_name(group.as_str())
                        .set_next_token(token.clone())
                        .send()
                })
            },
            |output| {
                let patterns = output
                    .metric_filters()
                    .iter()
                    .map(|f| f.filter_pattern().unwrap_or_default().to_owned())
                    .collect();
                (patterns, output.next_token().map(str::to_owned))
            },
        )
        .await
    }

    async fn lookup_events(
        &self,
        event_name: &str,
        start_ms: u64,
        end_ms: u64,
        next_token: Option<String>,
    ) -> Result<TrailPage, ApiError> {
        use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
        use aws_smithy_types::DateTime;
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(event_name)
            .build()
            .map_err(|e| ApiError::Other(e.to_string()))?;
        let millis = |ms: u64| DateTime::from_millis(i64::try_from(ms).unwrap_or(i64::MAX));
        let output = self
            .retrying(Some(Api::LookupEvents), || {
                self.cloudtrail()
                    .lookup_events()
                    .lookup_attributes(attribute.clone())
                    .start_time(millis(start_ms))
                    .end_time(millis(end_ms))
                    .max_results(50)
                    .set_next_token(next_token.clone())
                    .send()
            })
            .await?;
        let events = output
            .events()
            .iter()
            .filter_map(|e| {
                Some(TrailEvent {
                    time_ms: e
                        .event_time()
                        .and_then(|t| t.to_millis().ok())
                        .and_then(|t| u64::try_from(t).ok())?,
                    record: e.cloud_trail_event()?.to_owned(),
                })
            })
            .collect();
        Ok(TrailPage {
            events,
            next_token: output
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        })
    }

    async fn describe_log_groups(
        &self,
        prefix: Option<&str>,
        next_token: Option<String>,
    ) -> Result<LogGroupPage, ApiError> {
        let output = self
            .retrying(Some(Api::DescribeLogGroups), || {
                self.logs
                    .describe_log_groups()
                    .set_log_group_name_prefix(prefix.map(str::to_owned))
                    .set_next_token(next_token.clone())
                    .send()
            })
            .await?;
        let groups = output
            .log_groups()
            .iter()
            .filter_map(|g| {
                Some(ListedGroup {
                    name: g.log_group_name()?.to_owned(),
                    class: g.log_group_class().map(|c| c.as_str().to_owned()),
                    arn: g.arn().map(str::to_owned),
                    created_ms: g.creation_time().and_then(|t| u64::try_from(t).ok()),
                })
            })
            .collect();
        Ok(LogGroupPage {
            groups,
            next_token: output.next_token().map(str::to_owned),
        })
    }

    async fn invoke_async(
        &self,
        function_arn: &str,
        payload: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let payload = aws_smithy_types::Blob::new(payload.to_string());
        self.retrying(None, || {
            self.lambda()
                .invoke()
                .function_name(function_arn)
                .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
                .payload(payload.clone())
                .send()
        })
        .await
        .map(|_| ())
    }

    async fn reserve_concurrency(
        &self,
        function_arn: &str,
        executions: i32,
    ) -> Result<(), ApiError> {
        self.retrying(None, || {
            self.lambda()
                .put_function_concurrency()
                .function_name(function_arn)
                .reserved_concurrent_executions(executions)
                .send()
        })
        .await
        .map(|_| ())
    }

    async fn stack_status(&self, stack_id: &str) -> Result<String, ApiError> {
        let answer = self
            .retrying(None, || {
                self.cloudformation()
                    .describe_stacks()
                    .stack_name(stack_id)
                    .send()
            })
            .await?;
        answer
            .stacks()
            .first()
            .and_then(|stack| stack.stack_status())
            .map(|status| status.as_str().to_owned())
            .ok_or_else(|| ApiError::NotFound(format!("stack {stack_id} has no status")))
    }

    async fn put_parameter(&self, name: &str, value: &str) -> Result<(), ApiError> {
        self.retrying(None, || {
            self.ssm()
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
        })
        .await
        .map(|_| ())
    }
}

impl CanaryGroups for SdkAws {
    /// Creates a log group (`audit --canary`'s, the only write `audit` makes).
    async fn create_log_group(&self, group: &LogGroupName) -> Result<(), ApiError> {
        self.retrying(None, || {
            self.logs
                .create_log_group()
                .log_group_name(group.as_str())
                .send()
        })
        .await
        .map(|_| ())
    }

    /// Deletes a log group (the canary, once it has answered).
    async fn delete_log_group(&self, group: &LogGroupName) -> Result<(), ApiError> {
        self.retrying(None, || {
            self.logs
                .delete_log_group()
                .log_group_name(group.as_str())
                .send()
        })
        .await
        .map(|_| ())
    }
}

/// A client error's kind, without its source chain (which may quote the request).
fn redacted(error: &hyper_util::client::legacy::Error) -> &'static str {
    if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    }
}

enum Class {
    Transient { throttled: bool, detail: String },
    Final(ApiError),
}

/// Sorts an SDK error into our error table.
fn classify<E>(error: &SdkError<E, HttpResponse>) -> Class
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(error).to_string();
    let status = error.raw_response().map(|r| r.status().as_u16());
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return Class::Transient {
                throttled: false,
                detail,
            };
        }
        SdkError::ConstructionFailure(_) => return Class::Final(ApiError::Other(detail)),
        _ => {}
    }
    let code = error.code().unwrap_or_default();
    let message = error
        .message()
        .map_or_else(|| code.to_owned(), str::to_owned);
    match code {
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "TooManyRequestsException" => Class::Transient {
            throttled: true,
            detail: format!("{code}: {message}"),
        },
        "ServiceUnavailableException"
        | "OperationAbortedException"
        | "InternalFailure"
        | "InternalServerError" => Class::Transient {
            throttled: false,
            detail: format!("{code}: {message}"),
        },
        "LimitExceededException" => Class::Final(ApiError::LimitExceeded(message)),
        "ResourceNotFoundException" => Class::Final(ApiError::NotFound(message)),
        "AccessDeniedException" | "AccessDenied" => Class::Final(ApiError::AccessDenied(message)),
        "InvalidParameterException"
        | "InvalidTimeRangeException"
        | "InvalidLookupAttributesException"
        | "InvalidNextTokenException"
        | "InvalidParameterValueException"
        | "ValidationException"
        | "InvalidOperationException" => Class::Final(ApiError::InvalidParameter(message)),
        "ParameterNotFound" => Class::Final(ApiError::ParameterNotFound(message)),
        _ if status.is_some_and(|s| s >= 500) => Class::Transient {
            throttled: false,
            detail: format!("HTTP {}: {detail}", status.unwrap_or_default()),
        },
        _ if code.is_empty() => Class::Final(ApiError::Other(detail)),
        _ => Class::Final(ApiError::Other(format!("{code}: {message}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_amazon_trust_services_five() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let roots: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_ROOTS)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(roots.len(), 5);
        assert!(
            amazon_tls_config().is_ok(),
            "a TLS configuration trusting them"
        );
        let text = String::from_utf8_lossy(AMAZON_ROOTS);
        for name in [
            "Amazon_Root_CA_1",
            "Amazon_Root_CA_4",
            "Starfield_Services_Root",
        ] {
            assert!(text.contains(name), "{name}");
        }
    }
}
