//! What the integration tests share: the local AWS (moto's server with our fixture's additions,
//! `tests/local_aws/local_aws.py`), one fresh account per test, the event fixtures, the
//! `backfill` runner; the Runtime API emulator that runs the real function binary
//! ([`runtime_api`]); CloudFormation's side ([`cloudformation`]). The demo and the benchmark
//! build on it too.

pub(crate) mod cloudformation;
mod http;
pub(crate) mod runtime_api;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_ssm::Client as Ssm;
use serde_json::Value;

pub(crate) const REGION: &str = "us-east-1";

/// moto's server with the fixture's additions, one for the whole test binary, on a free loopback
/// port.
pub(crate) struct LocalAws {
    pub endpoint: String,
    _child: Child,
}

/// Starts the local AWS once for this test process. It exits when this process does (its stdin
/// closes), so no server outlives the tests.
pub(crate) fn local_aws() -> &'static LocalAws {
    static AWS: OnceLock<LocalAws> = OnceLock::new();
    AWS.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/local_aws/local_aws.py");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(python)
            .args([script, "--port", "0", "--exit-with-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the local AWS (python3 with moto[server]; `make test` installs it)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the local AWS's first line");
        let endpoint = line
            .trim()
            .strip_prefix("Running on ")
            .unwrap_or_else(|| panic!("local AWS did not start: {line:?}"))
            .to_owned();
        let aws = LocalAws {
            endpoint,
            _child: child,
        };
        // A fresh server per process, but reset anyway in case a port was reused by an old one.
        let reset = http_post(&format!("{}/moto-api/reset", aws.endpoint), "");
        assert!(reset.is_ok(), "reset the local AWS: {reset:?}");
        aws
    })
}

/// POST to one of the local AWS's control endpoints.
pub(crate) fn http_post(url: &str, body: &str) -> Result<String, String> {
    let mut response = ureq::post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| format!("POST {url}: {e}"))?;
    response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())
}

pub(crate) fn http_get(url: &str) -> Result<String, String> {
    let mut response = ureq::get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())
}

/// A fresh AWS account in the local AWS: its own log groups, parameters and call counters, so
/// tests running side by side never see each other. The access key `LOCAL<id>` selects it.
pub(crate) struct Account {
    pub id: String,
    pub logs: Logs,
    pub ssm: Ssm,
    /// What the clients above were built from, for a test that needs another service's client.
    #[allow(dead_code)] // the examples include this module too
    pub config: aws_types::SdkConfig,
}

impl Account {
    pub(crate) async fn new() -> Self {
        Self::with_id(&format!(
            "{:012}",
            fastrand::u64(100_000_000_000..999_999_999_999)
        ))
        .await
    }

    pub(crate) async fn with_id(id: &str) -> Self {
        let aws = local_aws();
        let credentials = aws_sdk_cloudwatchlogs::config::Credentials::new(
            format!("LOCAL{id}"),
            "local-secret",
            None,
            None,
            "local-aws",
        );
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(auto_subscribe::aws::sdk::https_client())
            .region(Region::new(REGION))
            .endpoint_url(&aws.endpoint)
            .credentials_provider(credentials)
            .load()
            .await;
        Self {
            id: id.to_owned(),
            logs: Logs::new(&config),
            ssm: Ssm::new(&config),
            config,
        }
    }

    /// The environment a binary needs to act as this account against the local AWS.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), local_aws().endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), format!("LOCAL{}", self.id)),
            ("AWS_SECRET_ACCESS_KEY".into(), "local-secret".into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }

    pub(crate) async fn create_group(&self, name: &str) {
        self.logs
            .create_log_group()
            .log_group_name(name)
            .send()
            .await
            .expect("create log group");
    }

    /// Creates a group with tags, as `CreateLogGroup`'s `tags` parameter sets them.
    pub(crate) async fn create_tagged_group(&self, name: &str, tags: &[(&str, &str)]) {
        self.logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(tag_map(tags)))
            .send()
            .await
            .expect("create a tagged log group");
    }

    /// The group's ARN as TagResource takes it (no trailing `:*`).
    pub(crate) fn group_arn(&self, group: &str) -> String {
        format!("arn:aws:logs:{REGION}:{}:log-group:{group}", self.id)
    }

    pub(crate) async fn tag(&self, group: &str, tags: &[(&str, &str)]) {
        self.logs
            .tag_resource()
            .resource_arn(self.group_arn(group))
            .set_tags(Some(tag_map(tags)))
            .send()
            .await
            .expect("tag a log group");
    }

    pub(crate) async fn untag(&self, group: &str, keys: &[&str]) {
        self.logs
            .untag_resource()
            .resource_arn(self.group_arn(group))
            .set_tag_keys(Some(keys.iter().map(|k| (*k).to_owned()).collect()))
            .send()
            .await
            .expect("untag a log group");
    }

    pub(crate) async fn put_filter(&self, group: &str, name: &str, destination: &str) {
        self.logs
            .put_subscription_filter()
            .log_group_name(group)
            .filter_name(name)
            .filter_pattern("")
            .destination_arn(destination)
            .send()
            .await
            .expect("put a filter directly");
    }

    /// Deletes the group's filter `name` directly, as someone would by hand.
    pub(crate) async fn delete_filter(&self, group: &str, name: &str) {
        self.logs
            .delete_subscription_filter()
            .log_group_name(group)
            .filter_name(name)
            .send()
            .await
            .expect("delete a filter directly");
    }

    /// Re-puts filter `name` to `destination` as someone narrowing it by hand would: with field
    /// selection criteria, or applied to transformed events, or with system fields.
    pub(crate) async fn put_narrowed_filter(
        &self,
        group: &str,
        name: &str,
        destination: &str,
        narrowed: &Narrowed,
    ) {
        self.logs
            .put_subscription_filter()
            .log_group_name(group)
            .filter_name(name)
            .filter_pattern("")
            .destination_arn(destination)
            .set_field_selection_criteria(narrowed.criteria.clone())
            .apply_on_transformed_logs(narrowed.transformed)
            .set_emit_system_fields(Some(narrowed.system_fields.clone()))
            .send()
            .await
            .expect("put a narrowed filter directly");
    }

    /// The newer attributes of the group's filter `name`, as DescribeSubscriptionFilters says.
    pub(crate) async fn narrowed(&self, group: &str, name: &str) -> Narrowed {
        let out = self
            .logs
            .describe_subscription_filters()
            .log_group_name(group)
            .send()
            .await
            .expect("describe filters");
        let filter = out
            .subscription_filters()
            .iter()
            .find(|f| f.filter_name() == Some(name))
            .unwrap_or_else(|| panic!("{group} has no filter {name}"));
        Narrowed {
            criteria: filter.field_selection_criteria().map(str::to_owned),
            transformed: filter.apply_on_transformed_logs(),
            system_fields: filter.emit_system_fields().to_vec(),
        }
    }

    /// (filter name, destination ARN) of each filter on the group, sorted by name.
    pub(crate) async fn filters(&self, group: &str) -> Vec<(String, String)> {
        let out = self
            .logs
            .describe_subscription_filters()
            .log_group_name(group)
            .send()
            .await
            .expect("describe filters");
        let mut filters: Vec<(String, String)> = out
            .subscription_filters()
            .iter()
            .map(|f| {
                (
                    f.filter_name().unwrap_or_default().to_owned(),
                    f.destination_arn().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        filters.sort();
        filters
    }

    /// The names of the group's filters, sorted.
    pub(crate) async fn filter_names(&self, group: &str) -> Vec<String> {
        self.filters(group)
            .await
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    pub(crate) async fn put_parameter(&self, name: &str, value: &str) {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }

    /// How many requests of each action this account made, as the local AWS counted them.
    pub(crate) fn calls(&self) -> Value {
        let body = http_get(&format!(
            "{}/_fixture/calls?account={}",
            local_aws().endpoint,
            self.id
        ))
        .expect("read the call counters");
        serde_json::from_str(&body).expect("counters are JSON")
    }

    pub(crate) fn count(&self, action: &str) -> u64 {
        self.calls()["calls"][action].as_u64().unwrap_or(0)
    }

    /// Makes the local AWS enforce quotas and inject faults for this account: `quotas` is "aws"
    /// (AWS's own) or `{api: rate}`; `faults` is `{api: {error code: share of calls}}`.
    pub(crate) fn set_behaviour(&self, quotas: Value, faults: Value) {
        let body = serde_json::json!({ "account": self.id, "quotas": quotas, "faults": faults });
        http_post(
            &format!("{}/_fixture/behaviour", local_aws().endpoint),
            &body.to_string(),
        )
        .expect("set the account's behaviour");
    }

    /// Makes the local AWS report `group` as created `age` ago.
    pub(crate) fn set_age(&self, group: &str, age: std::time::Duration) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let created = now.saturating_sub(age).as_millis() as u64;
        let body = serde_json::json!({"account": self.id, "region": REGION, "logGroupName": group, "creationTime": created});
        http_post(
            &format!("{}/_fixture/creation-time", local_aws().endpoint),
            &body.to_string(),
        )
        .expect("set the group's creation time");
    }

    /// Moves the account's recorded CloudTrail events (of `group` only, when given) `age` back in
    /// time: changes made long ago, as the event history shows them.
    pub(crate) fn shift_history(&self, group: Option<&str>, age: std::time::Duration) {
        let mut body = serde_json::json!({"account": self.id, "seconds": age.as_secs_f64()});
        if let Some(group) = group {
            body["logGroupName"] = group.into();
        }
        http_post(
            &format!("{}/_fixture/event-history/shift", local_aws().endpoint),
            &body.to_string(),
        )
        .expect("shift the event history");
    }

    /// The stack this account's function belongs to in the tests (its `STACK_ID`).
    pub(crate) fn stack_id(&self) -> String {
        format!(
            "arn:aws:cloudformation:{REGION}:{}:stack/auto-subscribe/1",
            self.id
        )
    }

    /// Makes DescribeStacks report `status` for [`Self::stack_id`].
    pub(crate) fn set_stack_status(&self, status: &str) {
        let body =
            serde_json::json!({"account": self.id, "stackId": self.stack_id(), "status": status});
        http_post(
            &format!("{}/_fixture/stacks", local_aws().endpoint),
            &body.to_string(),
        )
        .expect("set the stack's status");
    }

    /// Back to an AWS without quotas or faults.
    pub(crate) fn clear_behaviour(&self) {
        self.set_behaviour(Value::Null, Value::Null);
    }

    /// The asynchronous Lambda invocations this account made since the last look (the local AWS
    /// keeps them instead of running them).
    pub(crate) fn take_invocations(&self) -> Vec<Value> {
        let body = http_get(&format!(
            "{}/_fixture/invocations?account={}",
            local_aws().endpoint,
            self.id
        ))
        .expect("read the invocations");
        serde_json::from_str(&body).expect("invocations are JSON")
    }

    /// Writes (puts and deletes of subscription filters) this account has made so far.
    pub(crate) fn writes(&self) -> u64 {
        self.count("PutSubscriptionFilter") + self.count("DeleteSubscriptionFilter")
    }
}

/// A filter's newer attributes: what narrows (or widens) what it ships.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Narrowed {
    pub(crate) criteria: Option<String>,
    pub(crate) transformed: bool,
    pub(crate) system_fields: Vec<String>,
}

/// The central (recipient) account with a CloudWatch Logs destination whose access policy allows
/// the given sender accounts, as the AWS documentation sets it up; and a second destination, another
/// vendor's, for the "foreign" filters tests put beside ours.
pub(crate) struct Central {
    pub destination_arn: String,
    pub other_destination_arn: String,
}

impl Central {
    pub(crate) async fn new(allowed_senders: &[&str]) -> Self {
        Self::in_account(Account::new().await, allowed_senders).await
    }

    pub(crate) async fn in_account(account: Account, allowed_senders: &[&str]) -> Self {
        let destination_arn = Self::destination(&account, "central-logging", allowed_senders).await;
        let other_destination_arn =
            Self::destination(&account, "other-vendor", allowed_senders).await;
        Self {
            destination_arn,
            other_destination_arn,
        }
    }

    async fn destination(account: &Account, name: &str, allowed_senders: &[&str]) -> String {
        let destination = account
            .logs
            .put_destination()
            .destination_name(name)
            .target_arn(format!(
                "arn:aws:kinesis:{REGION}:{}:stream/{name}",
                account.id
            ))
            .role_arn(format!("arn:aws:iam::{}:role/CWLtoKinesisRole", account.id))
            .send()
            .await
            .expect("put destination");
        let destination_arn = destination
            .destination()
            .and_then(|d| d.arn())
            .expect("destination ARN")
            .to_owned();
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": allowed_senders },
                "Action": "logs:PutSubscriptionFilter",
                "Resource": destination_arn,
            }]
        });
        account
            .logs
            .put_destination_policy()
            .destination_name(name)
            .access_policy(policy.to_string())
            .send()
            .await
            .expect("put destination policy");
        destination_arn
    }
}

/// A CloudTrail CreateLogGroup event (the `events/create-log-group.json` fixture) for this account,
/// Region and log group.
/// A sender account allowed by a new central destination, with the destination parameter set.
pub(crate) async fn sender_and_central() -> (Account, Central) {
    let sender = Account::new().await;
    let central = Central::new(&[&sender.id]).await;
    sender
        .put_parameter("/central-logging/destination-arn", &central.destination_arn)
        .await;
    (sender, central)
}

/// `count` groups `/app/000`... each holding this stack's filter and another vendor's.
pub(crate) async fn groups_with_ours_and_a_vendors(
    sender: &Account,
    central: &Central,
    count: usize,
) {
    for i in 0..count {
        group_with_ours_and_a_vendors(sender, central, &format!("/app/{i:03}")).await;
    }
}

/// Creates `group` holding this stack's filter and another vendor's.
pub(crate) async fn group_with_ours_and_a_vendors(
    sender: &Account,
    central: &Central,
    group: &str,
) {
    sender.create_group(group).await;
    sender
        .put_filter(group, "central-logging", &central.destination_arn)
        .await;
    sender
        .put_filter(group, "vendor", &central.other_destination_arn)
        .await;
}

/// What one run of the real `backfill` binary printed, and its exit code.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON summary `--output json` prints last.
    pub(crate) fn summary(&self) -> Value {
        let last = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {self:?}"))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the real `backfill` binary as `account`, with `args`.
pub(crate) fn backfill(account: &Account, args: &[&str]) -> Run {
    // Integration tests know the binary; the examples include this module too, and do not run it.
    let binary = option_env!("CARGO_BIN_EXE_backfill").unwrap_or("backfill");
    let output = std::process::Command::new(binary)
        .env_clear()
        .envs(account.env())
        .args(args)
        .output()
        .expect("run backfill");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// (key, value) pairs as the SDK takes tags.
fn tag_map(tags: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    tags.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The JSON lines of what the function logged (its log lines and its EMF metrics lines).
pub(crate) fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub(crate) fn create_log_group_event(account: &str, group: &str) -> Value {
    let mut event = fixture("create-log-group.json");
    event["account"] = account.into();
    event["detail"]["recipientAccountId"] = account.into();
    event["detail"]["userIdentity"]["accountId"] = account.into();
    event["detail"]["requestParameters"]["logGroupName"] = group.into();
    event
}

/// An event fixture from `events/`, re-addressed to this account.
pub(crate) fn fixture_for(name: &str, account: &str) -> Value {
    let mut event = fixture(name);
    event["account"] = account.into();
    event["detail"]["recipientAccountId"] = account.into();
    event
}

pub(crate) fn fixture(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
