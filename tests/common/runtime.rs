//! A Lambda Runtime API emulator, enough to run the real function binary: it hands out queued
//! invocations on `GET /2018-06-01/runtime/invocation/next` (with the request ID, deadline and
//! invoked function ARN headers) and collects what the function posts back.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tiny_http::{Header, Method, Response, Server};

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
}

/// Timings the emulator saw, for the benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// From handing out the event to receiving the answer.
    pub handling: Duration,
}

pub struct RuntimeApi {
    pub address: String,
    pub function_arn: String,
    invocations: Sender<Invocation>,
    answers: Receiver<(String, Answer, Duration)>,
    /// When the first `/next` poll arrived (cold start ends there).
    pub first_poll: Arc<Mutex<Option<Instant>>>,
    next_id: u64,
}

impl RuntimeApi {
    pub fn start(account: &str) -> Self {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind the Runtime API emulator"));
        let address = server
            .server_addr()
            .to_ip()
            .expect("an IP address")
            .to_string();
        let function_arn = format!(
            "arn:aws:lambda:{}:{account}:function:auto-subscribe",
            super::REGION
        );
        let (invocations, queue) = channel::<Invocation>();
        let queue = Arc::new(Mutex::new(queue));
        let (answer_tx, answers) = channel();
        let handed_out: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let first_poll: Arc<Mutex<Option<Instant>>> = Arc::default();
        let arn = function_arn.clone();
        let polled = first_poll.clone();
        thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let url = request.url().to_owned();
                if request.method() == &Method::Get && url.ends_with("/runtime/invocation/next") {
                    polled
                        .lock()
                        .expect("not poisoned")
                        .get_or_insert_with(Instant::now);
                    // Long poll: answer from a thread of its own once an invocation is queued.
                    let (queue, arn, handed_out) = (queue.clone(), arn.clone(), handed_out.clone());
                    thread::spawn(move || {
                        let next = queue.lock().expect("not poisoned").recv();
                        let Ok(invocation) = next else { return };
                        let deadline = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap_or_default()
                            + Duration::from_secs(60);
                        let response = Response::from_string(invocation.body)
                            .with_header(header("Content-Type", "application/json"))
                            .with_header(header("Lambda-Runtime-Aws-Request-Id", &invocation.id))
                            .with_header(header(
                                "Lambda-Runtime-Deadline-Ms",
                                &deadline.as_millis().to_string(),
                            ))
                            .with_header(header("Lambda-Runtime-Invoked-Function-Arn", &arn));
                        handed_out
                            .lock()
                            .expect("not poisoned")
                            .push((invocation.id, Instant::now()));
                        let _ = request.respond(response);
                    });
                    continue;
                }
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                let parts: Vec<&str> = url.trim_start_matches('/').split('/').collect();
                let answer = match parts.as_slice() {
                    [_, "runtime", "invocation", id, "response"] => {
                        Some(((*id).to_owned(), Answer::Ok(value)))
                    }
                    [_, "runtime", "invocation", id, "error"] => {
                        Some(((*id).to_owned(), Answer::Error(value)))
                    }
                    [_, "runtime", "init", "error"] => {
                        Some((String::new(), Answer::InitError(value)))
                    }
                    _ => None,
                };
                let status = if answer.is_some() { 202 } else { 404 };
                if let Some((id, answer)) = answer {
                    let started = handed_out
                        .lock()
                        .expect("not poisoned")
                        .iter()
                        .find(|(i, _)| *i == id)
                        .map(|(_, at)| at.elapsed())
                        .unwrap_or_default();
                    let _ = answer_tx.send((id, answer, started));
                }
                let _ = request.respond(Response::from_string("{}").with_status_code(status));
            }
        });
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
        self.next_id += 1;
        let id = format!("req-{}", self.next_id);
        self.invocations
            .send(Invocation {
                id: id.clone(),
                body: event.to_string(),
            })
            .expect("emulator running");
        self.wait_for(&id)
    }

    /// The next answer that is not for an earlier invocation (or an init error).
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

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

/// The real `auto-subscribe` binary, pointed at a Runtime API emulator and the local AWS.
pub struct FunctionProcess {
    pub runtime: RuntimeApi,
    child: Option<Child>,
    pub started: Instant,
    log_path: std::path::PathBuf,
}

impl FunctionProcess {
    /// Starts the function as `account` with extra environment (settings) on top of what Lambda sets.
    pub fn start(account: &super::Account, settings: &[(&str, &str)]) -> Self {
        let runtime = RuntimeApi::start(&account.id);
        let mut command = Command::new(function_binary());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "auto-subscribe")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/auto-subscribe")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
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
