//! CloudFormation's side of the custom resource, as it is on the wire: the request it sends
//! ([`CustomResourceRequest`]), the answer it waits for ([`CustomResourceResponse`]), and what
//! they carry. No policy: [`crate::stack`] decides what to answer.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::names::Arn;
use crate::outcome::Tally;

/// The physical ID of the one sweep resource a stack has.
pub(crate) const PHYSICAL_ID: &str = "auto-subscribe-sweep";

/// The resource property (and stack parameter) that says whether Delete takes the filters off.
pub(crate) const REMOVE_FILTERS_ON_DELETE: &str = "RemoveFiltersOnDelete";

/// CloudFormation waits at most an hour for a custom resource's answer (its default `ServiceTimeout`).
pub(crate) const MAX_SERVICE_TIMEOUT_SECS: u64 = 3600;

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

impl CustomResourceRequest {
    /// `Ok` for a payload with the fields every custom resource request has.
    pub fn read(payload: &Value) -> Result<Self, String> {
        Self::deserialize(payload).map_err(|e| format!("malformed custom resource request: {e}"))
    }

    /// Whether the stack asked for its filters to be removed on delete: the resource's
    /// `RemoveFiltersOnDelete` property, as the stack parameter of the same name sets it (or
    /// `RemoveOnDelete`, the name stacks deployed before it carry).
    pub fn remove_on_delete(&self) -> bool {
        let properties = &self.resource_properties;
        properties
            .get(REMOVE_FILTERS_ON_DELETE)
            .or_else(|| properties.get("RemoveOnDelete"))
            .and_then(Value::as_str)
            != Some("false")
    }

    /// Whether the stack asks for one execution environment reserved where the account can afford
    /// it (its `ReservedConcurrency` parameter is `auto`, the default).
    pub fn reserve_where_affordable(&self) -> bool {
        self.resource_properties
            .get("ReservedConcurrency")
            .and_then(Value::as_str)
            == Some("auto")
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

    /// The partition of the stack the request comes from, from its `StackId`.
    pub fn partition(&self) -> Result<String, String> {
        Arn::parse(&self.stack_id)
            .map(|arn| arn.partition)
            .map_err(|e| format!("the request's StackId: {e}"))
    }
}

/// The data a removal reports back to the stack: its counts, and whether it covered every group.
pub(crate) fn counts_data(tally: &Tally, complete: bool) -> Value {
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
            "ResourceProperties": {"ServiceToken": "x", "RemoveFiltersOnDelete": "false"},
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
        // Stacks deployed before the property took the parameter's name still say it their way.
        let mut older = request("Delete");
        older["ResourceProperties"] = json!({"RemoveOnDelete": "false"});
        assert!(
            !CustomResourceRequest::read(&older)
                .expect("a request")
                .remove_on_delete()
        );
        older["ResourceProperties"] = json!({});
        assert!(
            CustomResourceRequest::read(&older)
                .expect("a request")
                .remove_on_delete()
        );
        assert!(CustomResourceRequest::read(&json!({"RequestType": "Create"})).is_err());
        assert!(CustomResourceRequest::read(&Value::Null).is_err());
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
