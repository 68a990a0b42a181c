//! The Lambda function: builds its clients once per cold start and hands each invocation to
//! [`auto_subscribe::function::Function`].
// The runtime's future nests the handler's (a sweep's included) deeper than the default limit of
// the compiler's layout queries; this is a compile-time limit only.
#![recursion_limit = "256"]

use auto_subscribe::aws::lambda_env::config_from_env;
use auto_subscribe::aws::pacing::{FILTER_API_QUOTA, Pacing};
use auto_subscribe::aws::retry::RetryPolicy;
use auto_subscribe::aws::sdk::SdkAws;
use auto_subscribe::function::Function;
use auto_subscribe::function::runtime::{
    deployment_from_env, init_logging, report_init_error, settings_from_env,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let settings = match settings_from_env() {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "configuration is not usable");
            report_init_error(&e).await;
            return Err(e.into());
        }
    };
    let config = match config_from_env(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "the Lambda environment is not usable");
            report_init_error(&e).await;
            return Err(e.into());
        }
    };
    // The stack reserves one concurrent execution, so these buckets pace the function account-wide:
    // a burst of new log groups queues up instead of tripping CloudWatch Logs' 5 requests/s quotas.
    let aws =
        SdkAws::new(&config, RetryPolicy::FUNCTION).with_pacing(Pacing::new(FILTER_API_QUOTA));
    let (stack_id, role_name) = deployment_from_env();
    let function = Function::new(aws, settings).deployed(stack_id, role_name);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function
            .invoke(
                &event.payload,
                &event.context.invoked_function_arn,
                event.context.deadline,
            )
            .await
    }))
    .await
}
