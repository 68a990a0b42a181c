//! The Lambda function's process: builds the function once at cold start from the environment,
//! then hands each invocation to [`auto_subscribe::function::Function::handle_json`] with the
//! clock read once, and prints the invocation's metrics lines.
// The runtime's future nests the handler's (a sweep's included) deeper than the default limit of
// the compiler's layout queries; this is a compile-time limit only.
#![recursion_limit = "256"]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use auto_subscribe::aws::Aws;
use auto_subscribe::function::metrics::InvocationMetrics;
use auto_subscribe::function::runtime::{init_logging, start};
use auto_subscribe::sweep::slices::Budget;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let env = |name: &str| std::env::var(name).ok();
    init_logging(env);
    let function = &start(env).await?;
    let function_name = function.function_name();
    // The payload as text: JSON the function cannot hold as a value is answered, not a runtime error.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
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
            let result = function
                .handle_json(event.payload.get(), arn, &budget)
                .await;
            let throttled = function.aws().throttled().saturating_sub(throttled);
            for line in InvocationMetrics::of(&result, throttled).lines(function_name, now_ms()) {
                println!("{line}");
            }
            result
        },
    ))
    .await
}
