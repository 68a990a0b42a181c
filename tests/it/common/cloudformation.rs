//! Local stand-ins for CloudFormation's side of the custom resource: the pre-signed response URL
//! that records what the function PUTs (and one that never answers), and the requests
//! CloudFormation sends, from `events/stack/`.

use std::convert::Infallible;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use serde_json::Value;

use super::http::{body_of, reply, serve_on_thread};
use super::{Account, fixture};

/// CloudFormation's `kind` request (`Create`, `Update`, `Delete`) for `account`'s stack, from the
/// fixtures, answering to `response_url`, with `RemoveFiltersOnDelete` as given.
pub(crate) fn stack_request(
    kind: &str,
    account: &Account,
    response_url: &str,
    remove: &str,
) -> Value {
    let mut request = fixture(&format!(
        "stack/custom-resource-{}.json",
        kind.to_lowercase()
    ));
    request["ServiceToken"] = format!(
        "arn:aws:lambda:us-east-1:{}:function:auto-subscribe",
        account.id
    )
    .into();
    request["ResponseURL"] = response_url.into();
    request["StackId"] = account.stack_id().into();
    request["ResourceProperties"]["RemoveFiltersOnDelete"] = remove.into();
    request
}

/// A local stand-in for CloudFormation's pre-signed response URL: it records every request.
pub(crate) struct ResponseUrl {
    pub url: String,
    /// `http://127.0.0.1:PORT`: the function may PUT there only when it is its S3 endpoint.
    pub origin: String,
    received: Receiver<Received>,
}

/// A response URL that accepts the connection and never answers.
pub(crate) struct DeadUrl {
    pub url: String,
    pub origin: String,
    _listener: std::net::TcpListener,
}

impl DeadUrl {
    pub(crate) fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the dead URL");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        Self {
            url: format!("{origin}/cloudformation-response?signature=local"),
            origin,
            _listener: listener,
        }
    }

    pub(crate) fn endpoint(&self) -> (&'static str, &str) {
        ("AWS_ENDPOINT_URL_S3", &self.origin)
    }
}

/// One request the response URL received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub method: String,
    pub content_type: Option<String>,
    pub body: Value,
}

impl ResponseUrl {
    pub(crate) fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the response URL");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        let url = format!("{origin}/cloudformation-response?signature=local");
        let (sender, received) = channel::<Received>();
        serve_on_thread(listener, move |request: Request<Incoming>| {
            let sender = sender.clone();
            async move {
                let method = request.method().to_string();
                let content_type = request
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = body_of(request).await;
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let _ = sender.send(Received {
                    method,
                    content_type,
                    body,
                });
                Ok::<_, Infallible>(reply(200, String::new()))
            }
        });
        Self {
            url,
            origin,
            received,
        }
    }

    /// The setting that makes this stand-in the function's S3 endpoint, so it may answer here.
    pub(crate) fn endpoint(&self) -> (&'static str, &str) {
        ("AWS_ENDPOINT_URL_S3", &self.origin)
    }

    /// The next request received, within 30 s.
    pub(crate) fn next(&self) -> Received {
        self.received
            .recv_timeout(Duration::from_secs(30))
            .expect("CloudFormation's response URL was called")
    }

    /// Whether nothing more arrives within `wait`.
    pub(crate) fn silent_for(&self, wait: Duration) -> bool {
        self.received.recv_timeout(wait).is_err()
    }
}
