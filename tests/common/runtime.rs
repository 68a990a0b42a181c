//! A Lambda Runtime API emulator, enough to run the real function binary: it hands out queued
//! invocations on `GET /2018-06-01/runtime/invocation/next` (with the request ID, deadline and
//! invoked function ARN headers) and collects what the function posts back.

use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Ok(Value),
    /// `{"errorType", "errorMessage"}` posted to `/invocation/{id}/error`.
    Error(Value),
    /// Posted to `/runtime/init/error` before any invocation.
    InitError(Value),
}

impl Answer {
    pub fn ok(&self) -> &Value {
        match self {
            Answer::Ok(v) => v,
            other => panic!("expected a successful answer, got {other:?}"),
        }
    }

    pub fn error_message(&self) -> String {
        match self {
            Answer::Error(v) | Answer::InitError(v) => {
                v["errorMessage"].as_str().unwrap_or_default().to_owned()
            }
            Answer::Ok(v) => panic!("expected an error, got {v}"),
        }
    }
}

struct Invocation {
    id: String,
    body: String,
    /// How long the function has, as the `Lambda-Runtime-Deadline-Ms` header tells it.
    time_limit: Duration,
}

/// Timings the emulator saw, for the benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// From handing out the event to receiving the answer.
    pub handling: Duration,
}

/// The emulator's state, shared by its connections.
struct State {
    function_arn: String,
    queue: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Invocation>>,
    answers: Sender<(String, Answer, Duration)>,
    handed_out: Mutex<Vec<(String, Instant)>>,
    first_poll: Arc<Mutex<Option<Instant>>>,
}

pub struct RuntimeApi {
    pub address: String,
    pub function_arn: String,
    invocations: tokio::sync::mpsc::UnboundedSender<Invocation>,
    answers: Receiver<(String, Answer, Duration)>,
    /// When the first `/next` poll arrived (cold start ends there).
    pub first_poll: Arc<Mutex<Option<Instant>>>,
    next_id: u64,
}

impl RuntimeApi {
    /// Serves the Runtime API on a free loopback port (see [`serve_on_thread`]).
    pub fn start(account: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the emulator");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("local address").to_string();
        let function_arn = format!(
            "arn:aws:lambda:{}:{account}:function:auto-subscribe",
            super::REGION
        );
        let (invocations, queue) = tokio::sync::mpsc::unbounded_channel();
        let (answer_tx, answers) = channel();
        let first_poll: Arc<Mutex<Option<Instant>>> = Arc::default();
        let state = Arc::new(State {
            function_arn: function_arn.clone(),
            queue: tokio::sync::Mutex::new(queue),
            answers: answer_tx,
            handed_out: Mutex::default(),
            first_poll: first_poll.clone(),
        });
        serve_on_thread(listener, move |request| handle(state.clone(), request));
        Self {
            address,
            function_arn,
            invocations,
            answers,
            first_poll,
            next_id: 0,
        }
    }

    /// Queues one event and waits for the function's answer.
    pub fn invoke(&mut self, event: &Value) -> Answer {
        self.invoke_timed(event).0
    }

    pub fn invoke_timed(&mut self, event: &Value) -> (Answer, Timing) {
        self.invoke_within(event, Duration::from_secs(60))
    }

    /// Invokes with a deadline `time_limit` from now.
    pub fn invoke_within(&mut self, event: &Value, time_limit: Duration) -> (Answer, Timing) {
        self.next_id += 1;
        let id = format!("req-{}", self.next_id);
        let invocation = Invocation {
            id: id.clone(),
            body: event.to_string(),
            time_limit,
        };
        self.invocations.send(invocation).expect("emulator running");
        self.wait_for(&id)
    }

    /// The answer to `id` (or an init error), skipping answers to earlier invocations.
    fn wait_for(&self, id: &str) -> (Answer, Timing) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.answers.recv_timeout(left) {
                Ok((got, answer, handling))
                    if got == id || matches!(answer, Answer::InitError(_)) =>
                {
                    return (answer, Timing { handling });
                }
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => panic!("no answer to {id} within 60 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("emulator stopped"),
            }
        }
    }

    /// Waits for an init error (the function failing before its first poll).
    pub fn init_error(&self) -> Answer {
        self.wait_for("").0
    }
}

/// Serves HTTP/1 on `listener` from a thread of its own (so tests can wait synchronously), with
/// TCP_NODELAY on every socket: without it, Nagle's algorithm and delayed ACKs add ~40 ms to each
/// exchange and a benchmark would measure them.
fn serve_on_thread<H, F>(listener: std::net::TcpListener, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = service_fn(handler);
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if request.method() == Method::GET && path.ends_with("/runtime/invocation/next") {
        state
            .first_poll
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(Instant::now);
        let Some(invocation) = state.queue.lock().await.recv().await else {
            return Ok(reply(410, String::new()));
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            + invocation.time_limit;
        state
            .handed_out
            .lock()
            .expect("not poisoned")
            .push((invocation.id.clone(), Instant::now()));
        let mut response = reply(200, invocation.body);
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        };
        set("content-type", "application/json");
        set("lambda-runtime-aws-request-id", &invocation.id);
        set(
            "lambda-runtime-deadline-ms",
            &deadline.as_millis().to_string(),
        );
        set("lambda-runtime-invoked-function-arn", &state.function_arn);
        return Ok(response);
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let answer = match parts.as_slice() {
        [_, "runtime", "invocation", id, "response"] => ((*id).to_owned(), Answer::Ok(value)),
        [_, "runtime", "invocation", id, "error"] => ((*id).to_owned(), Answer::Error(value)),
        [_, "runtime", "init", "error"] => (String::new(), Answer::InitError(value)),
        _ => return Ok(reply(404, String::new())),
    };
    let handling = state
        .handed_out
        .lock()
        .expect("not poisoned")
        .iter()
        .find(|(id, _)| *id == answer.0)
        .map(|(_, at)| at.elapsed())
        .unwrap_or_default();
    let _ = state.answers.send((answer.0, answer.1, handling));
    Ok(reply(202, "{}".into()))
}

fn reply(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    response
}

/// The function binary: `AUTO_SUBSCRIBE_BIN` when set (the benchmark runs the release build), else
/// the one cargo built for these tests, else the one beside the running example.
pub fn function_binary() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("AUTO_SUBSCRIBE_BIN") {
        return path.into();
    }
    if let Some(path) = option_env!("CARGO_BIN_EXE_auto-subscribe") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("own path");
    // target/debug/examples/demo -> target/debug/auto-subscribe
    exe.parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("auto-subscribe"))
        .expect("target dir")
}

/// The real `auto-subscribe` binary, pointed at a Runtime API emulator and the local AWS.
/// The role the tests' function runs as: CloudTrail shows its calls as
/// `arn:aws:sts::ACCOUNT:assumed-role/auto-subscribe-role/auto-subscribe`.
pub const FUNCTION_ROLE_NAME: &str = "auto-subscribe-role";

pub struct FunctionProcess {
    pub runtime: RuntimeApi,
    child: Option<Child>,
    pub started: Instant,
    log_path: std::path::PathBuf,
}

impl FunctionProcess {
    /// Starts the function as `account` with extra environment (settings) on top of what Lambda sets.
    pub fn start(account: &super::Account, settings: &[(&str, &str)]) -> Self {
        Self::start_binary(&function_binary(), account, settings)
    }

    /// [`Self::start`] with another build of the function (the benchmark's baseline).
    pub fn start_binary(
        binary: &std::path::Path,
        account: &super::Account,
        settings: &[(&str, &str)],
    ) -> Self {
        let runtime = RuntimeApi::start(&account.id);
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "auto-subscribe")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/auto-subscribe")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("STACK_ID", account.stack_id())
            .env("FUNCTION_ROLE_NAME", FUNCTION_ROLE_NAME)
            .envs(account.env())
            .envs(settings.iter().copied())
            .stdin(Stdio::null());
        // Logs go to a file, not a pipe: nobody reads a pipe while the test runs, and a full one
        // would block the function.
        let log_path = std::env::temp_dir().join(format!(
            "auto-subscribe-{}-{}.log",
            account.id,
            fastrand::u32(..)
        ));
        let log = std::fs::File::create(&log_path).expect("create the function's log file");
        command
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        let started = Instant::now();
        let child = command.spawn().expect("start the auto-subscribe binary");
        Self {
            runtime,
            child: Some(child),
            started,
            log_path,
        }
    }

    /// The process id, to read its peak memory.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the function and returns what it logged (stdout, then stderr).
    pub fn stop(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let logs = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log_path);
        logs
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// A local stand-in for CloudFormation's pre-signed response URL: it records every request.
pub struct ResponseUrl {
    pub url: String,
    /// `http://127.0.0.1:PORT`: the function may PUT there only when it is its S3 endpoint.
    pub origin: String,
    received: Receiver<Received>,
}

/// A response URL that accepts the connection and never answers.
pub struct DeadUrl {
    pub url: String,
    pub origin: String,
    _listener: std::net::TcpListener,
}

impl DeadUrl {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the dead URL");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        Self {
            url: format!("{origin}/cloudformation-response?signature=local"),
            origin,
            _listener: listener,
        }
    }

    pub fn endpoint(&self) -> (&'static str, &str) {
        ("AWS_ENDPOINT_URL_S3", &self.origin)
    }
}

/// One request the response URL received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub content_type: Option<String>,
    pub body: Value,
}

impl ResponseUrl {
    pub fn start() -> Self {
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
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
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
    pub fn endpoint(&self) -> (&'static str, &str) {
        ("AWS_ENDPOINT_URL_S3", &self.origin)
    }

    /// The next request received, within 30 s.
    pub fn next(&self) -> Received {
        self.received
            .recv_timeout(Duration::from_secs(30))
            .expect("CloudFormation's response URL was called")
    }

    /// Whether nothing more arrives within `wait`.
    pub fn silent_for(&self, wait: Duration) -> bool {
        self.received.recv_timeout(wait).is_err()
    }
}
