//! The SDK adapter against mocked SDK clients (aws-smithy-mocks): one test per row of the error
//! table in `docs/errors.md`, checking both how the error is mapped and how many requests it cost.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_cloudwatchlogs::operation::describe_subscription_filters::DescribeSubscriptionFiltersOutput;
use aws_sdk_cloudwatchlogs::operation::put_subscription_filter::{
    PutSubscriptionFilterError, PutSubscriptionFilterOutput,
};
use aws_sdk_cloudwatchlogs::types::SubscriptionFilter as SdkFilter;
use aws_sdk_cloudwatchlogs::types::error::{LimitExceededException, ResourceNotFoundException};
use aws_sdk_ssm::Client as Ssm;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::types::error::ParameterNotFound;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use std::sync::atomic::Ordering;

use auto_subscribe::aws::retry::RetryPolicy;
use auto_subscribe::aws::sdk::SdkAws;
use auto_subscribe::aws::{ApiError, Aws};
use auto_subscribe::filter::SubscriptionFilter;
use auto_subscribe::names::LogGroupName;

const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base: Duration::from_millis(1),
    cap: Duration::from_millis(2),
};

fn adapter(logs_rules: &[&Rule], ssm_rules: &[&Rule]) -> SdkAws {
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, logs_rules);
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::Sequential, ssm_rules);
    // Never called here: the Lambda client only carries a sweep's continuation, CloudFormation
    // only confirms a stack's deletion.
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .build(),
    );
    let cloudformation = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::Config::builder()
            .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudformation::config::Region::new("us-east-1"))
            .build(),
    );
    let cloudtrail = aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::Config::builder()
            .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudtrail::config::Region::new("us-east-1"))
            .build(),
    );
    SdkAws::from_clients(logs, ssm, lambda, cloudformation, cloudtrail, FAST)
}

fn group() -> LogGroupName {
    LogGroupName::parse("/aws/lambda/orders").expect("valid")
}

fn ours() -> SubscriptionFilter {
    SubscriptionFilter {
        name: "central-logging".into(),
        destination_arn: "arn:aws:logs:us-east-1:999999999999:destination:central".into(),
        filter_pattern: String::new(),
        ..SubscriptionFilter::default()
    }
}

/// Error metadata as the SDK's deserializer sets it on a real response (it always carries the code).
fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"{code}","message":"{message}"}}"#))
}

/// A put answered `status`/`code` `times` times, then accepted.
fn put_failing_then_ok(status: u16, code: &str, times: usize) -> Rule {
    mock!(Logs::put_subscription_filter)
        .sequence()
        .http_status(status, error_body(code, "transient"))
        .times(times)
        .output(|| PutSubscriptionFilterOutput::builder().build())
        .build()
}

#[tokio::test]
async fn transient_errors_are_retried_until_success() {
    for (status, code) in [
        (400, "ThrottlingException"),
        (503, "ServiceUnavailableException"),
        (400, "OperationAbortedException"),
        (500, "InternalFailure"),
        (502, "SomethingUnmodeled"),
    ] {
        let rule = put_failing_then_ok(status, code, 2);
        let aws = adapter(&[&rule], &[]);
        aws.put_subscription_filter(&group(), &ours())
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(rule.num_calls(), 3, "{code}: two failures, then success");
        assert_eq!(aws.stats().retries.load(Ordering::Relaxed), 2, "{code}");
        let throttled = aws.stats().throttled.load(Ordering::Relaxed);
        assert_eq!(
            throttled,
            if code == "ThrottlingException" { 2 } else { 0 },
            "{code}"
        );
    }
}

#[tokio::test]
async fn retries_run_out() {
    let rule = put_failing_then_ok(400, "ThrottlingException", 10);
    let aws = adapter(&[&rule], &[]);
    let err = aws
        .put_subscription_filter(&group(), &ours())
        .await
        .expect_err("gives up");
    assert!(
        matches!(&err, ApiError::RetriesExhausted { attempts: 4, last } if last.contains("ThrottlingException")),
        "{err:?}"
    );
    assert_eq!(rule.num_calls(), 4, "exactly max_attempts requests");
}

#[tokio::test]
async fn limit_exceeded_on_put_is_final_at_once() {
    let rule = mock!(Logs::put_subscription_filter).then_error(|| {
        PutSubscriptionFilterError::LimitExceededException(
            LimitExceededException::builder()
                .message("Resource limit exceeded.")
                .meta(meta("LimitExceededException", "Resource limit exceeded."))
                .build(),
        )
    });
    let aws = adapter(&[&rule], &[]);
    let err = aws
        .put_subscription_filter(&group(), &ours())
        .await
        .expect_err("full");
    assert_eq!(
        err,
        ApiError::LimitExceeded("Resource limit exceeded.".into())
    );
    assert_eq!(rule.num_calls(), 1, "not retried as throttling");
}

#[tokio::test]
async fn final_errors_map_to_our_table() {
    type IsExpected = fn(&ApiError) -> bool;
    let cases: [(u16, &str, IsExpected); 4] = [
        (400, "ResourceNotFoundException", |e| {
            matches!(e, ApiError::NotFound(_))
        }),
        (
            400,
            "AccessDeniedException",
            |e| matches!(e, ApiError::AccessDenied(m) if m.contains("not authorized")),
        ),
        (400, "InvalidParameterException", |e| {
            matches!(e, ApiError::InvalidParameter(_))
        }),
        (
            400,
            "SomeNewException",
            |e| matches!(e, ApiError::Other(m) if m.starts_with("SomeNewException")),
        ),
    ];
    for (status, code, check) in cases {
        let rule = mock!(Logs::put_subscription_filter)
            .sequence()
            .http_status(status, error_body(code, "User is not authorized"))
            .build();
        let aws = adapter(&[&rule], &[]);
        let err = aws
            .put_subscription_filter(&group(), &ours())
            .await
            .expect_err(code);
        assert!(check(&err), "{code}: {err:?}");
        assert_eq!(rule.num_calls(), 1, "{code} is not retried");
    }
}

#[tokio::test]
async fn modeled_not_found_on_describe() {
    let rule = mock!(Logs::describe_subscription_filters).then_error(|| {
        aws_sdk_cloudwatchlogs::operation::describe_subscription_filters::DescribeSubscriptionFiltersError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("The specified log group does not exist.")
                .meta(meta("ResourceNotFoundException", "The specified log group does not exist."))
                .build(),
        )
    });
    let aws = adapter(&[&rule], &[]);
    let err = aws
        .describe_subscription_filters(&group())
        .await
        .expect_err("gone");
    assert_eq!(
        err,
        ApiError::NotFound("The specified log group does not exist.".into())
    );
}

#[tokio::test]
async fn describe_follows_next_token_and_maps_fields() {
    let filter = |name: &str| {
        SdkFilter::builder()
            .filter_name(name)
            .destination_arn("arn:aws:lambda:us-east-1:111111111111:function:f")
            .filter_pattern("ERROR")
            .role_arn("arn:aws:iam::111111111111:role/r")
            .distribution(aws_sdk_cloudwatchlogs::types::Distribution::Random)
            .apply_on_transformed_logs(true)
            .field_selection_criteria("@aws.region = \"nowhere-1\"")
            .emit_system_fields("@aws.account")
            .creation_time(42)
            .build()
    };
    let rule = mock!(Logs::describe_subscription_filters)
        .sequence()
        .output(move || {
            DescribeSubscriptionFiltersOutput::builder()
                .subscription_filters(filter("a"))
                .next_token("t")
                .build()
        })
        .output(move || {
            DescribeSubscriptionFiltersOutput::builder()
                .subscription_filters(filter("b"))
                .build()
        })
        .build();
    let aws = adapter(&[&rule], &[]);
    let filters = aws
        .describe_subscription_filters(&group())
        .await
        .expect("two pages");
    assert_eq!(
        filters.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(filters[0].distribution.as_deref(), Some("Random"));
    assert_eq!(
        filters[0].role_arn.as_deref(),
        Some("arn:aws:iam::111111111111:role/r")
    );
    assert_eq!(filters[0].creation_time, Some(42));
    assert!(filters[0].apply_on_transformed_logs);
    assert_eq!(
        filters[0].field_selection_criteria.as_deref(),
        Some("@aws.region = \"nowhere-1\"")
    );
    assert_eq!(filters[0].emit_system_fields, ["@aws.account"]);
    assert_eq!(rule.num_calls(), 2);
}

/// AWS keeps what a put leaves out, so every put says every attribute: applied to the events as
/// ingested, the system fields wanted (none, explicitly), and criteria cleared when asked.
#[tokio::test]
async fn a_put_says_every_attribute() {
    let cleared = SubscriptionFilter {
        field_selection_criteria: Some(String::new()),
        emit_system_fields: vec!["@aws.account".into(), "@aws.region".into()],
        ..ours()
    };
    let rule = mock!(Logs::put_subscription_filter)
        .match_requests(|input| {
            input.apply_on_transformed_logs() == Some(false)
                && input.field_selection_criteria() == Some("")
                && input.emit_system_fields() == ["@aws.account", "@aws.region"]
        })
        .then_output(|| PutSubscriptionFilterOutput::builder().build());
    let aws = adapter(&[&rule], &[]);
    aws.put_subscription_filter(&group(), &cleared)
        .await
        .expect("every attribute said");
    assert_eq!(rule.num_calls(), 1);
    // Nothing to clear: the criteria are left out, the system fields said as none.
    let plain = mock!(Logs::put_subscription_filter)
        .match_requests(|input| {
            input.field_selection_criteria().is_none()
                && input.emit_system_fields().is_empty()
                && input.apply_on_transformed_logs() == Some(false)
        })
        .then_output(|| PutSubscriptionFilterOutput::builder().build());
    let aws = adapter(&[&plain], &[]);
    aws.put_subscription_filter(&group(), &ours())
        .await
        .expect("every attribute said");
    assert_eq!(plain.num_calls(), 1);
}

#[tokio::test]
async fn missing_parameter() {
    let rule = mock!(Ssm::get_parameter).then_error(|| {
        GetParameterError::ParameterNotFound(
            ParameterNotFound::builder()
                .meta(meta("ParameterNotFound", ""))
                .build(),
        )
    });
    let aws = adapter(&[], &[&rule]);
    let err = aws
        .get_parameter("/central-logging/destination-arn")
        .await
        .expect_err("missing");
    assert!(matches!(err, ApiError::ParameterNotFound(_)), "{err:?}");
}

#[tokio::test]
async fn list_tags_maps_the_tags_and_retries_throttling() {
    use aws_sdk_cloudwatchlogs::operation::list_tags_for_resource::ListTagsForResourceOutput;
    const ARN: &str = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/orders";
    let rule = mock!(Logs::list_tags_for_resource)
        .match_requests(|input| input.resource_arn() == Some(ARN))
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .output(|| {
            ListTagsForResourceOutput::builder()
                .tags("team", "platform")
                .tags("data-class", "audit")
                .build()
        })
        .build();
    let aws = adapter(&[&rule], &[]);
    let tags = aws.list_tags(ARN).await.expect("tags after one retry");
    assert_eq!(
        tags.into_iter().collect::<Vec<_>>(),
        [
            ("data-class".to_owned(), "audit".to_owned()),
            ("team".to_owned(), "platform".to_owned())
        ]
    );
    assert_eq!(rule.num_calls(), 2);

    let untagged = mock!(Logs::list_tags_for_resource)
        .then_output(|| ListTagsForResourceOutput::builder().build());
    let aws = adapter(&[&untagged], &[]);
    assert!(aws.list_tags(ARN).await.expect("no tags").is_empty());

    let gone = mock!(Logs::list_tags_for_resource).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).expect("valid status"),
            aws_smithy_types::body::SdkBody::from(
                error_body(
                    "ResourceNotFoundException",
                    "The specified log group does not exist.",
                )
                .unwrap_or_default(),
            ),
        )
    });
    let aws = adapter(&[&gone], &[]);
    assert!(matches!(
        aws.list_tags(ARN).await,
        Err(ApiError::NotFound(_))
    ));
}

/// Every page of the account's subscription filter policies, read into our type; a policy whose
/// criteria are not `LogGroupName NOT IN [...]` left out (its reach is not known).
#[tokio::test]
async fn subscription_policies_read_every_page() {
    use aws_sdk_cloudwatchlogs::operation::describe_account_policies::DescribeAccountPoliciesOutput;
    use aws_sdk_cloudwatchlogs::types::{AccountPolicy, PolicyType};
    let policy = |name: &str, criteria: Option<&str>| {
        AccountPolicy::builder()
            .policy_name(name)
            .policy_type(PolicyType::SubscriptionFilterPolicy)
            .policy_document(
                r#"{"DestinationArn":"arn:aws:logs:us-east-1:999999999999:destination:central"}"#,
            )
            .set_selection_criteria(criteria.map(str::to_owned))
            .build()
    };
    let first = mock!(Logs::describe_account_policies)
        .match_requests(|r| {
            r.policy_type() == Some(&PolicyType::SubscriptionFilterPolicy)
                && r.next_token().is_none()
        })
        .then_output(move || {
            DescribeAccountPoliciesOutput::builder()
                .account_policies(policy("org-wide", Some(r#"LogGroupName NOT IN ["/a"]"#)))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Logs::describe_account_policies)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            DescribeAccountPoliciesOutput::builder()
                .account_policies(policy("odd", Some("LogGroupNamePrefix IN [\"/x\"]")))
                .build()
        });
    let aws = adapter(&[&first, &second], &[]);
    let policies = aws.subscription_policies().await.expect("read");
    let names: Vec<_> = policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["org-wide"]);
    assert_eq!(policies[0].excluded, ["/a"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

/// Every page of a group's metric filters, for their patterns (the regular-expression count).
#[tokio::test]
async fn metric_filter_patterns_read_every_page() {
    use aws_sdk_cloudwatchlogs::operation::describe_metric_filters::DescribeMetricFiltersOutput;
    use aws_sdk_cloudwatchlogs::types::MetricFilter;
    let filter = |pattern: &str| MetricFilter::builder().filter_pattern(pattern).build();
    let first = mock!(Logs::describe_metric_filters)
        .match_requests(|r| {
            r.log_group_name() == Some("/aws/lambda/orders") && r.next_token().is_none()
        })
        .then_output(move || {
            DescribeMetricFiltersOutput::builder()
                .metric_filters(filter("%ERROR%"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Logs::describe_metric_filters)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            DescribeMetricFiltersOutput::builder()
                .metric_filters(filter("{ $.level = \"warn\" }"))
                .build()
        });
    let aws = adapter(&[&first, &second], &[]);
    let patterns = aws.metric_filter_patterns(&group()).await.expect("read");
    assert_eq!(patterns, ["%ERROR%", "{ $.level = \"warn\" }"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}
