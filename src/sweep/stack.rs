//! The stack's lifecycle: CloudFormation invokes the function for the custom resource on Create,
//! Update and Delete, and waits for an answer PUT to a pre-signed URL. Create and Update (a change
//! of destination, filter or selection) check the destination and start a sweep; Delete takes this
//! stack's filters off every group, one [slice](super::lambda::Sweeper::slice) per invocation,
//! and answers when the removal ends or before CloudFormation stops waiting. Every request is
//! answered, failures included, so a stack never hangs for an hour.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;
use tracing::{info, warn};

use super::lambda::{
    SWEEP_RESERVE, SWEEP_SLICE, SweepResponse, Sweeper, log_sweep_done, now_ms, stop_reason,
};
use super::request::SweepRequest;
use super::response_url::{Endpoints, ResponseUrl};
use crate::aws::Aws;
use crate::decision::Goal;
use crate::filter::DesiredFilter;
use crate::names::Arn;
use crate::outcome::Tally;

/// The physical ID of the one sweep resource a stack has.
pub const PHYSICAL_ID: &str = "auto-subscribe-sweep";

/// CloudFormation waits at most an hour for a custom resource's answer (its default `ServiceTimeout`).
pub const MAX_SERVICE_TIMEOUT_SECS: u64 = 3600;

/// What CloudFormation asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// A custom resource request, with what its answer must echo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
}

/// CloudFormation's answer status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// CloudFormation's response object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    pub data: Value,
}

/// What the function did for a stack request.
#[derive(Debug, Clone, PartialEq)]
pub enum StackAnswer {
    /// CloudFormation was answered with this.
    Answered(CustomResourceResponse),
    /// A slice of the removal ran (and CloudFormation was answered if it ended).
    Swept(SweepResponse),
    /// Nothing done and nothing sent, for this reason (a removal's continuation while the stack
    /// is not being deleted).
    Refused(String),
}

/// CloudFormation could not be answered: Lambda retries the invocation (and the answer) rather
/// than leave the stack waiting.
#[derive(Debug, Error)]
#[error("answering CloudFormation: {0}")]
pub struct StackError(String);

impl CustomResourceRequest {
    /// `Ok` for a payload with the fields every custom resource request has.
    pub fn read(payload: &Value) -> Result<Self, String> {
        Self::deserialize(payload).map_err(|e| format!("malformed custom resource request: {e}"))
    }

    /// Whether the stack asked for its filters to be removed on delete (`RemoveOnDelete`).
    pub fn remove_on_delete(&self) -> bool {
        self.resource_properties
            .get("RemoveOnDelete")
            .and_then(Value::as_str)
            != Some("false")
    }

    /// How long CloudFormation waits for the answer: the resource's `ServiceTimeout` (seconds,
    /// 1 to 3600), or its default and maximum, an hour.
    pub fn service_timeout(&self) -> Duration {
        let seconds = match self.resource_properties.get("ServiceTimeout") {
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        Duration::from_secs(
            seconds
                .unwrap_or(MAX_SERVICE_TIMEOUT_SECS)
                .clamp(1, MAX_SERVICE_TIMEOUT_SECS),
        )
    }

    /// The answer to PUT to the response URL.
    pub fn answer(&self, status: Status, reason: &str, data: Value) -> CustomResourceResponse {
        CustomResourceResponse {
            status,
            // CloudFormation shows the reason; it is cut to stay well under the 4 KB response limit.
            reason: reason.chars().take(1000).collect(),
            physical_resource_id: self
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| PHYSICAL_ID.into()),
            stack_id: self.stack_id.clone(),
            request_id: self.request_id.clone(),
            logical_resource_id: self.logical_resource_id.clone(),
            no_echo: false,
            data,
        }
    }

    /// The sweep that removes this stack's filters, carrying this request to answer when it ends.
    fn removal(&self) -> SweepRequest {
        SweepRequest {
            custom_resource: serde_json::to_value(self).ok(),
            ..SweepRequest::default()
        }
    }

    /// The response URL, if the function may PUT to it (see [`ResponseUrl::check`]): checked
    /// against the partition of the stack the request comes from.
    pub fn response_url(&self, endpoints: &Endpoints) -> Result<ResponseUrl, String> {
        let partition = Arn::parse(&self.stack_id)
            .map(|arn| arn.partition)
            .map_err(|e| format!("the request's StackId: {e}"))?;
        ResponseUrl::check(&self.response_url, &partition, endpoints)
    }
}

/// Handles CloudFormation's request (its `StackId` and `ResponseURL` already checked by the
/// function): Create and Update check the destination and start a sweep; Delete takes this
/// stack's filters off every group, once CloudFormation confirms the stack is being deleted,
/// unless the stack says to leave them.
pub async fn handle<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    stack: CustomResourceRequest,
) -> Result<StackAnswer, StackError> {
    match stack.request_type {
        RequestType::Create | RequestType::Update => {
            sweeper.destination.forget();
            let started = async {
                let destination = sweeper.destination().await?;
                sweeper.start().await?;
                Ok::<_, super::lambda::SweepError>(destination)
            }
            .await;
            let answer = match started {
                Ok(destination) => {
                    let data = json!({ "DestinationArn": destination.as_str() });
                    answer(sweeper, &stack, Status::Success, "sweep started", data).await?
                }
                Err(e) => {
                    answer(sweeper, &stack, Status::Failed, &e.to_string(), json!({})).await?
                }
            };
            Ok(StackAnswer::Answered(answer))
        }
        RequestType::Delete if !stack.remove_on_delete() => {
            let reason = "filters left in place (RemoveFiltersOnDelete is false)";
            let answer = answer(sweeper, &stack, Status::Success, reason, json!({})).await?;
            Ok(StackAnswer::Answered(answer))
        }
        RequestType::Delete => {
            let request = stack.removal();
            removal(sweeper, &request, &stack).await
        }
    }
}

/// The stack statuses in which CloudFormation deletes the custom resource with its stack: the
/// stack's deletion, and the rollback of a failed create.
pub const DELETING: [&str; 2] = ["DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"];

/// Whether CloudFormation itself says the stack is being deleted: `Err` with the reason when it
/// does not, or cannot be asked.
async fn confirm_deletion<A: Aws>(aws: &A, stack: &CustomResourceRequest) -> Result<(), String> {
    match aws.stack_status(&stack.stack_id).await {
        Ok(status) if DELETING.contains(&status.as_str()) => Ok(()),
        Ok(status) => Err(format!(
            "CloudFormation reports the stack as {status}, not being deleted"
        )),
        Err(e) => Err(format!(
            "could not confirm with CloudFormation that the stack is being deleted: {e}"
        )),
    }
}

/// One slice of the stack's removal (its first, or a continuation carrying `stack`): hands on
/// while the account is not covered and CloudFormation will still be waiting, and answers when
/// the removal ends or must stop. Every slice first asks CloudFormation whether the stack is being
/// deleted: no payload alone can remove a filter.
pub async fn removal<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    request: &SweepRequest,
    stack: &CustomResourceRequest,
) -> Result<StackAnswer, StackError> {
    if let Err(why) = confirm_deletion(sweeper.aws.as_ref(), stack).await {
        if request.is_continuation() {
            // A real removal's chain ends with the stack's deletion; a continuation arriving
            // while the stack is not being deleted was not sent by it. Nothing is removed or sent.
            let reason = format!("removal refused: {why}");
            warn!(stack = %stack.stack_id, "{reason}");
            return Ok(StackAnswer::Refused(reason));
        }
        return removal_failed(sweeper, stack, &why).await;
    }
    // Only a chain of the stack's real deletion gets this far: stopped, it still answers, so the
    // stack deletes.
    if let Some(reason) = stop_reason(request) {
        let answer = answer(sweeper, stack, Status::Success, &reason, json!({})).await?;
        return Ok(StackAnswer::Answered(answer));
    }
    let slice = match sweeper.slice(request, Goal::Remove).await {
        Ok(slice) => slice,
        Err(e) => return removal_failed(sweeper, stack, &e).await,
    };
    let whole = slice.whole;
    match &slice.next {
        Some(_) if out_of_time(stack, slice.started_at_ms, now_ms()) => {
            let reason = cut_short(stack, &whole, &slice.desired, sweeper.function.region());
            warn!(
                checked = whole.total,
                unsubscribed = whole.unsubscribed,
                "{reason}"
            );
            let data = counts_data(&whole, false);
            answer(sweeper, stack, Status::Success, &reason, data).await?;
        }
        Some(next) => {
            if let Err(e) = sweeper.hand_on(next).await {
                return removal_failed(sweeper, stack, &e).await;
            }
        }
        None => {
            log_sweep_done(slice.kind, &whole);
            let reason = format!(
                "{} log groups checked, this stack's filter taken off {}, {} failed",
                whole.total, whole.unsubscribed, whole.failed
            );
            let data = counts_data(&whole, true);
            answer(sweeper, stack, Status::Success, &reason, data).await?;
        }
    }
    Ok(StackAnswer::Swept(slice.response()))
}

/// A removal that could not run answers CloudFormation anyway, with SUCCESS, so that deleting
/// the stack is never blocked by it; the reason says what was left in place.
async fn removal_failed<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    stack: &CustomResourceRequest,
    error: &dyn std::fmt::Display,
) -> Result<StackAnswer, StackError> {
    let reason = format!("filters left in place: {error}");
    warn!(error = %error, "removal could not run");
    let answer = answer(sweeper, stack, Status::Success, &reason, json!({})).await?;
    Ok(StackAnswer::Answered(answer))
}

/// The longest an answer to CloudFormation may take; less when the invocation ends sooner.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// PUTs the answer to CloudFormation's response URL, within [`ANSWER_TIMEOUT`] and the
/// invocation's own time.
async fn answer<A: Aws + 'static>(
    sweeper: &Sweeper<'_, A>,
    stack: &CustomResourceRequest,
    status: Status,
    reason: &str,
    data: Value,
) -> Result<CustomResourceResponse, StackError> {
    let answer = stack.answer(status, reason, data);
    let url = stack
        .response_url(&Endpoints::from_env())
        .map_err(StackError)?;
    info!(request = ?stack.request_type, status = ?status, reason, host = url.host(), "answering CloudFormation");
    let left = sweeper
        .answer_by
        .saturating_duration_since(std::time::Instant::now());
    let timeout = ANSWER_TIMEOUT.min(left).max(Duration::from_secs(1));
    send(&url, &answer, timeout).await.map_err(StackError)?;
    Ok(answer)
}

/// The longest the next invocation of a sweep can take to start and finish: the wait behind events
/// queued for the one execution environment, listing, then finishing what was listed.
const NEXT_SLICE_AT_MOST: Duration =
    Duration::from_secs(120 + SWEEP_SLICE.as_secs() + SWEEP_RESERVE.as_secs());

/// Whether a removal must answer CloudFormation now, because one more invocation might end after
/// CloudFormation stops waiting (its `ServiceTimeout`, at most an hour, from the Delete request).
fn out_of_time(stack: &CustomResourceRequest, started_at_ms: u64, now_ms: u64) -> bool {
    let elapsed = Duration::from_millis(now_ms.saturating_sub(started_at_ms));
    elapsed + NEXT_SLICE_AT_MOST >= stack.service_timeout()
}

/// What a removal cut short by CloudFormation's wait says: what it did, what is left, and the
/// command that finishes it.
fn cut_short(
    stack: &CustomResourceRequest,
    whole: &Tally,
    desired: &DesiredFilter,
    region: &str,
) -> String {
    let (name, destination) = (desired.name.as_str(), desired.destination.as_str());
    // Quoted for a POSIX shell: a filter name may hold spaces and quotes.
    let quoted = format!("'{}'", name.replace('\'', r"'\''"));
    format!(
        "removal stopped within CloudFormation's {}s wait: this stack's filter was taken off {} of the {} log groups \
         checked, and the account has more. Groups not yet checked still hold filter {name:?} to {destination}; \
         to remove it, run in this account: backfill --remove --region {region} --filter-name {quoted} \
         --destination-arn {destination}",
        stack.service_timeout().as_secs(),
        whole.unsubscribed,
        whole.total,
    )
}

/// PUTs the answer to the pre-signed URL, giving up after `timeout`. The content type stays
/// empty: the URL's signature covers none, as CloudFormation's own cfn-response module does.
/// Errors name the URL's host only: the rest is a secret.
pub async fn send(
    url: &ResponseUrl,
    response: &CustomResourceResponse,
    timeout: Duration,
) -> Result<(), String> {
    let host = url.host().to_owned();
    let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("loading the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let request = hyper::Request::put(url.uri().clone())
        .header("content-type", "")
        .header("content-length", body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| format!("building the response to host {host}"))?;
    let answer = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| {
            format!(
                "the response URL (host {host}) did not answer within {}s",
                timeout.as_secs()
            )
        })?
        .map_err(|e| format!("sending the response to host {host}: {}", redacted(&e)))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the response URL (host {host}) answered HTTP {}",
            answer.status()
        ))
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

/// The data a removal reports back to the stack: its counts, and whether it covered every group.
pub fn counts_data(tally: &Tally, complete: bool) -> Value {
    json!({
        "Checked": tally.total,
        "Unsubscribed": tally.unsubscribed,
        "Failed": tally.failed,
        "Complete": complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::spec;
    use crate::names::{DestinationArn, FilterName};

    const DEST: &str = "arn:aws:logs:us-east-1:999999999999:destination:central";

    fn request(kind: &str) -> Value {
        json!({
            "RequestType": kind,
            "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:auto-subscribe",
            "ResponseURL": "https://cloudformation-custom-resource-response.example/put?sig=x",
            "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/s/1",
            "RequestId": "req-1",
            "ResourceType": "Custom::AutoSubscribeSweep",
            "LogicalResourceId": "Sweep",
            "ResourceProperties": {"ServiceToken": "x", "RemoveOnDelete": "false"},
        })
    }

    #[test]
    fn reads_every_request_type_and_nothing_else() {
        for (kind, expected) in [
            ("Create", RequestType::Create),
            ("Update", RequestType::Update),
            ("Delete", RequestType::Delete),
        ] {
            let read = CustomResourceRequest::read(&request(kind)).expect("a request");
            assert_eq!(read.request_type, expected);
            assert!(!read.remove_on_delete());
        }
        assert!(CustomResourceRequest::read(&request("Destroy")).is_err());
        assert!(CustomResourceRequest::read(&json!({"RequestType": "Create"})).is_err());
        assert!(CustomResourceRequest::read(&Value::Null).is_err());
    }

    #[test]
    fn a_removal_carries_its_request_through_continuations() {
        let stack = CustomResourceRequest::read(&request("Delete")).expect("a request");
        let removal = stack.removal();
        let carried = removal.custom_resource.expect("carried");
        assert_eq!(
            CustomResourceRequest::read(&carried).expect("reads back"),
            stack
        );
    }

    #[test]
    fn the_service_timeout_is_read_from_the_properties_within_cloudformations_bounds() {
        let with = |timeout: Value| {
            let mut r = request("Delete");
            r["ResourceProperties"]["ServiceTimeout"] = timeout;
            CustomResourceRequest::read(&r)
                .expect("a request")
                .service_timeout()
        };
        // CloudFormation passes every property as a string.
        assert_eq!(with(json!("900")), Duration::from_secs(900));
        assert_eq!(with(json!(120)), Duration::from_secs(120));
        assert_eq!(with(json!("99999")), Duration::from_secs(3600));
        assert_eq!(with(json!("soon")), Duration::from_secs(3600));
        let read = CustomResourceRequest::read(&request("Delete")).expect("a request");
        assert_eq!(read.service_timeout(), Duration::from_secs(3600), "default");
    }

    #[test]
    fn the_answer_echoes_the_request() {
        let read = CustomResourceRequest::read(&request("Create")).expect("a request");
        let answer =
            serde_json::to_value(read.answer(Status::Failed, &"x".repeat(5000), json!({})))
                .expect("serializes");
        assert_eq!(answer["Status"], "FAILED");
        assert_eq!(answer["RequestId"], "req-1");
        assert_eq!(answer["LogicalResourceId"], "Sweep");
        assert_eq!(answer["PhysicalResourceId"], PHYSICAL_ID);
        assert_eq!(answer["Reason"].as_str().map(str::len), Some(1000));
    }

    #[test]
    fn the_command_that_finishes_a_removal_quotes_the_filter_name_for_a_shell() {
        let stack = CustomResourceRequest::read(&json!({
            "RequestType": "Delete", "ResponseURL": "https://example", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "Sweep",
        }))
        .expect("a request");
        let mut filter = spec();
        filter.name = FilterName::parse("it's ours").expect("valid");
        let desired = filter.to(DestinationArn::parse(DEST).expect("valid"));
        let reason = cut_short(&stack, &Tally::default(), &desired, "us-east-1");
        assert!(
            reason.ends_with(&format!(
                "backfill --remove --region us-east-1 --filter-name 'it'\\''s ours' --destination-arn {DEST}"
            )),
            "{reason}"
        );
    }

    #[test]
    fn a_removal_answers_before_cloudformation_stops_waiting() {
        let mut request = json!({
            "RequestType": "Delete", "ResponseURL": "https://example", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "Sweep",
            "ResourceProperties": {"ServiceTimeout": "3600"},
        });
        let stack = CustomResourceRequest::read(&request).expect("a request");
        let start = 1_700_000_000_000;
        let minutes = |m: u64| start + m * 60_000;
        assert!(!out_of_time(&stack, start, minutes(0)));
        assert!(!out_of_time(&stack, start, minutes(50)));
        // One more slice (up to 5 minutes with its wait to start) would end past the hour.
        assert!(out_of_time(&stack, start, minutes(56)));
        request["ResourceProperties"]["ServiceTimeout"] = "600".into();
        let stack = CustomResourceRequest::read(&request).expect("a request");
        assert!(out_of_time(&stack, start, minutes(6)));
    }
}
