//! The smallest Lambda function the runtime crate makes: the cold-start baseline `make bench`
//! measures the function beside (process start to its first Runtime API poll).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
