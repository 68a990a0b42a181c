//! The stack's custom resource: CloudFormation invokes the function on Create, Update and Delete
//! and waits for an answer PUT to a pre-signed URL. Create and Update (a change of destination,
//! filter or selection) start a sweep; Delete takes this stack's filters off every group. Every
//! request is answered, failures included, so a stack never hangs for an hour.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{Value, json};

use crate::apply::Tally;

/// The physical ID of the one sweep resource a stack has.
pub const PHYSICAL_ID: &str = "auto-subscribe-sweep";

/// CloudFormation waits at most an hour for a custom resource's answer (its default `ServiceTimeout`).
pub const MAX_SERVICE_TIMEOUT_SECS: u64 = 3600;

/// What CloudFormation asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// A custom resource request, with what its answer must echo.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub properties: Value,
    /// The request as CloudFormation sent it, to carry through a removal's continuations.
    pub raw: Value,
}

impl CustomResourceRequest {
    /// `Some` for an event with the fields every custom resource request has.
    pub fn read(event: &Value) -> Option<Self> {
        let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
        let request_type = match text("RequestType")?.as_str() {
            "Create" => RequestType::Create,
            "Update" => RequestType::Update,
            "Delete" => RequestType::Delete,
            _ => return None,
        };
        Some(Self {
            request_type,
            response_url: text("ResponseURL")?,
            stack_id: text("StackId")?,
            request_id: text("RequestId")?,
            logical_resource_id: text("LogicalResourceId")?,
            physical_resource_id: text("PhysicalResourceId"),
            properties: event
                .get("ResourceProperties")
                .cloned()
                .unwrap_or(Value::Null),
            raw: event.clone(),
        })
    }

    /// Whether the stack asked for its filters to be removed on delete (`RemoveOnDelete`).
    pub fn remove_on_delete(&self) -> bool {
        self.properties
            .get("RemoveOnDelete")
            .and_then(Value::as_str)
            != Some("false")
    }

    /// How long CloudFormation waits for the answer: the resource's `ServiceTimeout` (seconds,
    /// 1 to 3600), or its default and maximum, an hour.
    pub fn service_timeout(&self) -> Duration {
        let seconds = match self.properties.get("ServiceTimeout") {
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
}

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

/// PUTs the answer to the pre-signed URL. The content type stays empty: the URL's signature
/// covers none, as CloudFormation's own cfn-response module does.
pub async fn send(url: &str, response: &CustomResourceResponse) -> Result<(), String> {
    let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("loading the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let request = hyper::Request::put(url)
        .header("content-type", "")
        .header("content-length", body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("building the response to {url}: {e}"))?;
    let answer = client
        .request(request)
        .await
        .map_err(|e| format!("sending the response: {e}"))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the response URL answered HTTP {}",
            answer.status()
        ))
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
        assert!(CustomResourceRequest::read(&request("Destroy")).is_none());
        assert!(CustomResourceRequest::read(&json!({"RequestType": "Create"})).is_none());
        assert!(CustomResourceRequest::read(&Value::Null).is_none());
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
}
