//! The Lambda function's process: reads the environment once at cold start, builds its clients,
//! and hands each invocation to [`auto_subscribe::function::Function::handle`] with the clock read
//! once, then prints the invocation's metrics lines.
// The runtime's future nests the handler's (a sweep's included) deeper than the default limit of
// the compiler's layout queries; this is a compile-time limit only.
#![recursion_limit = "256"]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use auto_subscribe::aws::Aws;
use auto_subscribe::aws::lambda_env::config_from_env;
use auto_subscribe::aws::pacing::{FILTER_API_QUOTA, Pacing};
use auto_subscribe::aws::retry::RetryPolicy;
use auto_subscribe::aws::sdk::SdkAws;
use auto_subscribe::function::Function;
use auto_subscribe::function::metrics::InvocationMetrics;
use auto_subscribe::function::runtime::{
    Environment, init_logging, report_init_error, settings_from_env,
};
use auto_subscribe::sweep::slices::Budget;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let env = |name: &str| std::env::var(name).ok();
    init_logging(env);
    let settings = match settings_from_env(env) {
        Ok(settings) => settings,
        Err(e) => return init_failed("configuration", e.into()).await,
    };
    let config = match config_from_env(env) {
        Ok(config) => config,
        Err(e) => return init_failed("the Lambda environment", e.into()).await,
    };
    // The stack reserves one concurrent execution, so these buckets pace the function account-wide:
    // a burst of new log groups queues up instead of tripping CloudWatch Logs' 5 requests/s quotas.
    let aws =
        SdkAws::new(&config, RetryPolicy::FUNCTION).with_pacing(Pacing::new(FILTER_API_QUOTA));
    let env = Environment::read(env);
    let function_name = env.function_name.clone();
    let function = &Function::new(aws, settings).deployed(env);
    let function_name = function_name.as_str();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now_ms = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
        };
        let started_ms = u64::try_from(now_ms()).unwrap_or(u64::MAX);
        let budget = Budget::new(event.context.deadline, Instant::now(), started_ms);
        let throttled = function.aws().throttled();
        let arn = &event.context.invoked_function_arn;
        let result = function.handle(&event.payload, arn, &budget).await;
        let throttled = function.aws().throttled().saturating_sub(throttled);
        let metrics = InvocationMetrics::of(&result, throttled);
        for line in metrics.lines(function_name, now_ms()) {
            println!("{line}");
        }
        result
    }))
    .await
}

/// Logs and reports to the Runtime API why the function cannot start, then ends the process.
async fn init_failed(what: &str, error: Error) -> Result<(), Error> {
    tracing::error!(error = %error, "{what} is not usable");
    report_init_error(error.as_ref()).await;
    Err(error)
}
