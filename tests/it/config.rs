//! What the function does with its configuration, through the real binary: broken settings and
//! destinations answered with errors that say what to fix (the group untouched), bad settings
//! and a missing Lambda environment failing init, the SDK's endpoint variables honoured.

use serde_json::json;

use crate::common::runtime_api::{Answer, FunctionProcess};
use crate::common::{
    Account, Central, create_log_group_event, json_lines, local_aws, sender_and_central,
};

const PARAMETER: &str = "/central-logging/destination-arn";

/// Broken configuration: an error answer whose message says what to fix, and the group untouched.
#[tokio::test]
async fn broken_configuration_is_an_error_and_leaves_the_group_alone() {
    let sender = Account::new().await;
    let stranger = Account::new().await;
    let central = Central::new(&[&stranger.id]).await; // does not allow `sender`
    let vendor = Central::new(&[&sender.id]).await;
    let foreign = vendor.other_destination_arn.clone();
    let group = "/aws/lambda/orders-api";
    sender.create_group(group).await;
    sender.put_filter(group, "shipper", &foreign).await;

    let other_region = central.destination_arn.replace("us-east-1", "eu-west-1");
    let itself = format!(
        "arn:aws:lambda:us-east-1:{}:function:auto-subscribe",
        sender.id
    );
    let cases: Vec<(&str, Option<&str>, Vec<&str>)> = vec![
        (
            "parameter missing",
            None,
            vec![
                "SSM parameter /central-logging/destination-arn does not exist",
                "put-parameter",
            ],
        ),
        (
            "not an ARN",
            Some("central-logging"),
            vec!["holds \"central-logging\"", "not usable"],
        ),
        (
            "log group ARN",
            Some("arn:aws:logs:us-east-1:999999999999:log-group:x"),
            vec!["not the ARN of a CloudWatch Logs destination"],
        ),
        (
            "the function itself",
            Some(itself.as_str()),
            vec!["is this function itself"],
        ),
        (
            "other region",
            Some(other_region.as_str()),
            vec!["is in Region eu-west-1", "its own Region (us-east-1)"],
        ),
        (
            "policy refuses",
            Some(central.destination_arn.as_str()),
            vec![
                "access policy must allow account",
                sender.id.as_str(),
                "not authorized",
            ],
        ),
    ];
    for (case, value, expected) in cases {
        match value {
            Some(v) => sender.put_parameter(PARAMETER, v).await,
            None => {
                let _ = sender.ssm.delete_parameter().name(PARAMETER).send().await;
            }
        }
        let mut function = FunctionProcess::start(&sender, &[]);
        let answer = function
            .runtime
            .invoke(&create_log_group_event(&sender.id, group));
        let Answer::Error(error) = &answer else {
            panic!("{case}: expected an error, got {answer:?}")
        };
        let message = answer.error_message();
        for part in expected {
            assert!(
                message.contains(part),
                "{case}: {message:?} should contain {part:?} ({error})"
            );
        }
        assert_eq!(
            sender.filters(group).await,
            vec![("shipper".to_owned(), foreign.clone())],
            "{case}"
        );
        let logs = function.stop();
        let failed = json_lines(&logs)
            .into_iter()
            .find(|l| l.get("_aws").is_some())
            .map(|m| m["Failed"].clone());
        assert_eq!(
            failed,
            Some(json!(1)),
            "{case}: an EMF line counts the failure:\n{logs}"
        );
    }
}

#[tokio::test]
async fn bad_settings_fail_init_naming_the_variable() {
    let sender = Account::new().await;
    for (var, value) in [
        ("EXCLUDE", "/a/[x"),
        ("EXISTING_FILTERS", "delete-everything"),
        ("DISTRIBUTION", "random"),
    ] {
        let function = FunctionProcess::start(&sender, &[(var, value)]);
        let answer = function.runtime.init_error();
        assert!(matches!(answer, Answer::InitError(_)), "{var}: {answer:?}");
        let message = answer.error_message();
        assert!(message.starts_with(var), "{var}: {message}");
        assert!(
            message.contains(value.trim_start_matches('/')),
            "{var}: {message}"
        );
    }
}

/// The function reads its Region and credentials from the Lambda environment alone (no default
/// credential chain): without them it fails init naming the variable, before any AWS call.
#[tokio::test]
async fn missing_lambda_credentials_fail_init_naming_the_variable() {
    let sender = Account::new().await;
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        let mut blank = vec![(var, "")];
        if var == "AWS_REGION" {
            blank.push(("AWS_DEFAULT_REGION", ""));
        }
        let function = FunctionProcess::start(&sender, &blank);
        let answer = function.runtime.init_error();
        assert!(matches!(answer, Answer::InitError(_)), "{var}: {answer:?}");
        let message = answer.error_message();
        assert!(message.starts_with(var), "{var}: {message}");
    }
    for action in ["GetParameter", "DescribeSubscriptionFilters"] {
        assert_eq!(sender.count(action), 0, "{action}");
    }
}

/// `AWS_ENDPOINT_URL_<SERVICE>` wins over `AWS_ENDPOINT_URL` in the function's own SDK
/// configuration, as in the SDK's: with the global endpoint dead, a new group is still subscribed
/// through the per-service endpoints of SSM and CloudWatch Logs.
#[tokio::test]
async fn service_endpoint_variables_reach_the_clients() {
    let (sender, central) = sender_and_central().await;
    sender.create_group("/aws/lambda/orders-api").await;
    let local = local_aws().endpoint.clone();
    let mut function = FunctionProcess::start(
        &sender,
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_SSM", &local),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &local),
        ],
    );
    let answer = function.runtime.invoke(&create_log_group_event(
        &sender.id,
        "/aws/lambda/orders-api",
    ));
    assert_eq!(answer.ok()["outcome"], "subscribed", "{answer:?}");
    assert_eq!(
        sender.filters("/aws/lambda/orders-api").await,
        vec![(
            "central-logging".to_owned(),
            central.destination_arn.clone()
        )]
    );
    function.stop();
}
