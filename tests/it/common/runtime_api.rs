//! A Lambda Runtime API emulator, enough to run the real function binary: it hands out queued
//! invocations on `GET /2018-06-01/runtime/invocation/next` (with the request ID, deadline and
//! invoked function ARN headers) and collects what the function posts back.

use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use serde_json::Value;

use super::Account;
use super::http::{body_of, reply, serve_on_thread};

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Ok(Value),
    /// `{"errorType", "errorMessage"}` posted to `/invocation/{id}/error`.
    Error(Value),
    /// Posted to `/runtime/init/error` before any invocation.
    InitError(Value),
}

impl Answer {
    pub(crate) fn ok(&self) -> &Value {
        match self {
            Answer::Ok(v) => v,
            other => panic!("expected a successful answer, got {other:?}"),
        }
    }

    pub(crate) fn error_message(&self) -> String {
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
pub(crate) struct Timing {
    /// From handing out the event to receiving the answer.
    #[allow(dead_code)] // read by the benchmark, examples/bench.rs
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

pub(crate) struct RuntimeApi {
    pub address: String,
    pub function_arn: String,
    invocations: tokio::sync::mpsc::UnboundedSender<Invocation>,
    answers: Receiver<(String, Answer, Duration)>,
    /// When the first `/next` poll arrived (cold start ends there).
    #[allow(dead_code)] // read by the benchmark, examples/bench.rs
    pub first_poll: Arc<Mutex<Option<Instant>>>,
    next_id: u64,
}

impl RuntimeApi {
    /// Serves the Runtime API on a free loopback port (see [`serve_on_thread`]).
    pub(crate) fn start(account: &str) -> Self {
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
    pub(crate) fn invoke(&mut self, event: &Value) -> Answer {
        self.invoke_timed(event).0
    }

    pub(crate) fn invoke_timed(&mut self, event: &Value) -> (Answer, Timing) {
        self.invoke_within(event, Duration::from_secs(60))
    }

    /// Invokes with a deadline `time_limit` from now.
    pub(crate) fn invoke_within(
        &mut self,
        event: &Value,
        time_limit: Duration,
    ) -> (Answer, Timing) {
        self.invoke_text(&event.to_string(), time_limit)
    }

    /// Invokes with `body` as the payload's text, exactly (JSON a `Value` cannot hold included).
    pub(crate) fn invoke_text(&mut self, body: &str, time_limit: Duration) -> (Answer, Timing) {
        self.next_id += 1;
        let id = format!("req-{}", self.next_id);
        let invocation = Invocation {
            id: id.clone(),
            body: body.to_owned(),
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
    pub(crate) fn init_error(&self) -> Answer {
        self.wait_for("").0
    }
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
    let body = body_of(request).await;
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

/// The function binary: `AUTO_SUBSCRIBE_BIN` when set (the benchmark runs the release build), else
/// the one cargo built for these tests, else the one beside the running example.
pub(crate) fn function_binary() -> std::path::PathBuf {
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

/// Just over the function's 60 s reserve: an invocation given this long lists about one page (50
/// groups), finishes it, and hands on.
pub(crate) const ABOUT_ONE_PAGE: Duration = Duration::from_millis(61_500);

/// What a chain of invocations answered, and the payloads it handed on, in order.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    pub answers: Vec<Answer>,
    pub handed_on: Vec<Value>,
}

impl Chain {
    /// The sum of `key` over the answers' `sweep` counts.
    pub(crate) fn swept(&self, key: &str) -> u64 {
        self.answers
            .iter()
            .filter_map(|a| match a {
                Answer::Ok(body) => body["sweep"][key].as_u64(),
                _ => None,
            })
            .sum()
    }
}

/// The role the tests' function runs as: CloudTrail shows its calls as
/// `arn:aws:sts::ACCOUNT:assumed-role/auto-subscribe-role/auto-subscribe`.
pub(crate) const FUNCTION_ROLE_NAME: &str = "auto-subscribe-role";

/// The real `auto-subscribe` binary, pointed at a Runtime API emulator and the local AWS.
pub(crate) struct FunctionProcess {
    pub runtime: RuntimeApi,
    child: Option<Child>,
    #[allow(dead_code)] // read by the benchmark, examples/bench.rs
    pub started: Instant,
    log_path: std::path::PathBuf,
}

impl FunctionProcess {
    /// Starts the function as `account` with extra environment (settings) on top of what Lambda sets.
    pub(crate) fn start(account: &Account, settings: &[(&str, &str)]) -> Self {
        Self::start_binary(&function_binary(), account, settings)
    }

    /// [`Self::start`] with another build of the function (the benchmark's baseline).
    pub(crate) fn start_binary(
        binary: &std::path::Path,
        account: &Account,
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
            // As in Lambda, the function's credentials are its role's session; the local AWS
            // records its calls as that session's (`session:ROLE/SESSION`).
            .env(
                "AWS_SESSION_TOKEN",
                format!("session:{FUNCTION_ROLE_NAME}/auto-subscribe"),
            )
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

    /// Runs a chain of invocations the way Lambda would: `first`, then every payload the function
    /// handed on to itself (the local AWS keeps asynchronous invocations instead of running
    /// them), each with `time_limit` before its deadline, until none is left. Each hand-on must
    /// invoke the function itself; a chain of 20 invocations is a chain that does not end.
    pub(crate) fn run_chain(
        &mut self,
        account: &Account,
        first: &Value,
        time_limit: Duration,
    ) -> Chain {
        let mut chain = Chain::default();
        let mut next = vec![first.clone()];
        while let Some(event) = next.pop() {
            let (answer, _) = self.runtime.invoke_within(&event, time_limit);
            chain.answers.push(answer);
            for invocation in account.take_invocations() {
                assert_eq!(
                    invocation["function"], self.runtime.function_arn,
                    "a chain invokes the function itself"
                );
                chain.handed_on.push(invocation["payload"].clone());
                next.push(invocation["payload"].clone());
            }
            assert!(chain.answers.len() < 20, "the chain must end");
        }
        chain
    }

    /// The process id, to read its peak memory.
    #[allow(dead_code)] // used by the benchmark, examples/bench.rs
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the function and returns what it logged (stdout, then stderr).
    pub(crate) fn stop(mut self) -> String {
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
