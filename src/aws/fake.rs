//! Test support: an in-memory [`Aws`] (log groups with a filter limit, listed two per page, SSM
//! parameters, stacks and their statuses, a typed log of the calls it served, and errors to inject
//! on the n-th call of a kind). CloudFormation's answers are recorded, not sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use hyper::Uri;
use serde_json::Value;

use super::{ApiError, Aws, CanaryGroups, LogGroupPage, TrailEvent, TrailPage};
use crate::account_policy::AccountPolicy;
use crate::filter::{SubscriptionFilter, regex_terms};
use crate::group::{ListedGroup, Tags};
use crate::names::LogGroupName;

/// The ARN the fake gives a group (DescribeLogGroups' form, with the trailing `:*`).
pub fn group_arn(name: &str) -> String {
    format!("arn:aws:logs:us-east-1:111111111111:log-group:{name}:*")
}

/// One call the fake served, with what it was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Describe {
        group: String,
    },
    Put {
        group: String,
        filter: String,
    },
    Delete {
        group: String,
        filter: String,
    },
    GetParameter {
        name: String,
    },
    PutParameter {
        name: String,
    },
    Invoke {
        function: String,
        payload: Value,
    },
    ReserveConcurrency {
        function: String,
        executions: i32,
    },
    DescribeStacks {
        stack: String,
    },
    ListTags {
        arn: String,
    },
    DescribeLogGroups {
        prefix: Option<String>,
    },
    DescribeAccountPolicies,
    LookupEvents {
        event_name: String,
    },
    DescribeMetricFilters {
        group: String,
    },
    CreateLogGroup {
        group: String,
    },
    DeleteLogGroup {
        group: String,
    },
    /// An answer PUT to CloudFormation's response URL.
    AnswerCloudFormation {
        host: String,
        body: Value,
    },
}

impl Call {
    /// The call's short name, as failures are injected ([`FakeAws::fail_nth`]) and sequences
    /// asserted: `describe`, `put NAME`, `delete NAME`, `get NAME`, `put-parameter NAME`,
    /// `invoke`, `reserve-concurrency`, `describe-stacks`, `list-tags`, `describe-log-groups`,
    /// `describe-account-policies`, `lookup-events`, `describe-metric-filters`, `create-log-group`,
    /// `delete-log-group`, `answer`.
    pub fn key(&self) -> String {
        match self {
            Self::Describe { .. } => "describe".into(),
            Self::Put { filter, .. } => format!("put {filter}"),
            Self::Delete { filter, .. } => format!("delete {filter}"),
            Self::GetParameter { name } => format!("get {name}"),
            Self::PutParameter { name } => format!("put-parameter {name}"),
            Self::Invoke { .. } => "invoke".into(),
            Self::ReserveConcurrency { .. } => "reserve-concurrency".into(),
            Self::DescribeStacks { .. } => "describe-stacks".into(),
            Self::ListTags { .. } => "list-tags".into(),
            Self::DescribeLogGroups { .. } => "describe-log-groups".into(),
            Self::DescribeAccountPolicies => "describe-account-policies".into(),
            Self::LookupEvents { .. } => "lookup-events".into(),
            Self::DescribeMetricFilters { .. } => "describe-metric-filters".into(),
            Self::CreateLogGroup { .. } => "create-log-group".into(),
            Self::DeleteLogGroup { .. } => "delete-log-group".into(),
            Self::AnswerCloudFormation { .. } => "answer".into(),
        }
    }
}

impl PartialEq<&str> for Call {
    fn eq(&self, key: &&str) -> bool {
        self.key() == *key
    }
}

#[derive(Debug, Default)]
pub struct FakeAws {
    limit: usize,
    groups: Mutex<BTreeMap<String, Vec<SubscriptionFilter>>>,
    parameters: Mutex<HashMap<String, String>>,
    calls: Mutex<Vec<Call>>,
    /// (call, n, error): the n-th call named `call` fails with `error`.
    failures: Mutex<Vec<(String, usize, ApiError)>>,
    /// Stack ID to its status, as DescribeStacks answers.
    stacks: Mutex<HashMap<String, String>>,
    /// Group name to its creation time, epoch milliseconds; unknown when absent.
    created: Mutex<HashMap<String, u64>>,
    /// Group name to its tags; none when absent.
    tags: Mutex<HashMap<String, Tags>>,
    /// Tags a group takes when a filter is deleted from it: another environment's tag change
    /// landing while this one writes.
    retag_on_delete: Mutex<HashMap<String, Tags>>,
    /// The account's subscription filter policies.
    policies: Mutex<Vec<AccountPolicy>>,
    /// Group name to its metric filters' patterns.
    metric_patterns: Mutex<HashMap<String, Vec<String>>>,
    /// CloudTrail's event history: (event name, event), oldest first.
    history: Mutex<Vec<(String, TrailEvent)>>,
}

impl FakeAws {
    pub fn with_group(name: &str, filters: Vec<SubscriptionFilter>, limit: usize) -> Self {
        let fake = Self {
            limit,
            ..Self::default()
        };
        fake.groups
            .lock()
            .expect("fresh")
            .insert(name.into(), filters);
        fake
    }

    pub fn add_group(&self, name: &str, filters: Vec<SubscriptionFilter>) {
        self.groups
            .lock()
            .expect("not poisoned")
            .insert(name.into(), filters);
    }

    pub fn with_parameter(self, name: &str, value: &str) -> Self {
        self.parameters
            .lock()
            .expect("fresh")
            .insert(name.into(), value.into());
        self
    }

    pub fn set_created(&self, group: &str, created_ms: u64) {
        self.created
            .lock()
            .expect("not poisoned")
            .insert(group.into(), created_ms);
    }

    pub fn set_tags(&self, group: &str, tags: &[(&str, &str)]) {
        self.tags.lock().expect("not poisoned").insert(
            group.into(),
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
    }

    /// Makes `group` carry `tags` as soon as a filter is deleted from it.
    pub fn retag_on_delete(&self, group: &str, tags: &[(&str, &str)]) {
        self.retag_on_delete.lock().expect("not poisoned").insert(
            group.into(),
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
    }

    pub fn add_policy(&self, policy: AccountPolicy) {
        self.policies.lock().expect("not poisoned").push(policy);
    }

    /// Gives the group metric filters with these patterns (they count towards its five
    /// regular expressions).
    pub fn set_metric_patterns(&self, group: &str, patterns: &[&str]) {
        self.metric_patterns.lock().expect("not poisoned").insert(
            group.into(),
            patterns.iter().map(|p| (*p).to_owned()).collect(),
        );
    }

    /// Records a call in the event history, as CloudTrail would.
    pub fn add_trail_event(&self, event_name: &str, event: TrailEvent) {
        self.history
            .lock()
            .expect("not poisoned")
            .push((event_name.into(), event));
    }

    pub fn set_stack_status(&self, stack_id: &str, status: &str) {
        self.stacks
            .lock()
            .expect("not poisoned")
            .insert(stack_id.into(), status.into());
    }

    pub fn fail_nth(&self, call: &str, n: usize, error: ApiError) {
        self.failures
            .lock()
            .expect("not poisoned")
            .push((call.into(), n, error));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("not poisoned").clone()
    }

    /// How many calls named `key` (see [`Call::key`]) the fake served.
    pub fn count(&self, key: &str) -> usize {
        self.calls().iter().filter(|c| **c == key).count()
    }

    /// The payloads the function invoked itself with, in order.
    pub fn invocations(&self) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Invoke { payload, .. } => Some(payload),
                _ => None,
            })
            .collect()
    }

    /// The answers sent to CloudFormation, in order.
    pub fn answers(&self) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::AnswerCloudFormation { body, .. } => Some(body),
                _ => None,
            })
            .collect()
    }

    pub fn filters(&self, group: &str) -> Vec<SubscriptionFilter> {
        self.groups
            .lock()
            .expect("not poisoned")
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    pub fn filter_names(&self, group: &str) -> Vec<String> {
        let mut names: Vec<String> = self.filters(group).into_iter().map(|f| f.name).collect();
        names.sort();
        names
    }

    fn record(&self, call: Call) -> Result<(), ApiError> {
        let key = call.key();
        let mut calls = self.calls.lock().expect("not poisoned");
        calls.push(call);
        let n = calls.iter().filter(|c| c.key() == key).count();
        let failures = self.failures.lock().expect("not poisoned");
        match failures.iter().find(|(c, nth, _)| *c == key && *nth == n) {
            Some((_, _, error)) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

impl Aws for FakeAws {
    async fn describe_subscription_filters(
        &self,
        group: &LogGroupName,
    ) -> Result<Vec<SubscriptionFilter>, ApiError> {
        self.record(Call::Describe {
            group: group.to_string(),
        })?;
        self.groups
            .lock()
            .expect("not poisoned")
            .get(group.as_str())
            .cloned()
            .ok_or_else(|| ApiError::NotFound("The specified log group does not exist.".into()))
    }

    async fn put_subscription_filter(
        &self,
        group: &LogGroupName,
        filter: &SubscriptionFilter,
    ) -> Result<(), ApiError> {
        self.record(Call::Put {
            group: group.to_string(),
            filter: filter.name.clone(),
        })?;
        let mut groups = self.groups.lock().expect("not poisoned");
        let filters = groups
            .get_mut(group.as_str())
            .ok_or_else(|| ApiError::NotFound("no group".into()))?;
        let metric_terms: usize = self
            .metric_patterns
            .lock()
            .expect("not poisoned")
            .get(group.as_str())
            .map_or(0, |p| p.iter().map(|p| regex_terms(p)).sum());
        let other_terms: usize = filters
            .iter()
            .filter(|f| f.name != filter.name)
            .map(|f| regex_terms(&f.filter_pattern))
            .sum();
        if regex_terms(&filter.filter_pattern) > 0
            && metric_terms + other_terms + regex_terms(&filter.filter_pattern) > 5
        {
            return Err(ApiError::LimitExceeded(
                "The log group has reached its quota of regular expressions.".into(),
            ));
        }
        if let Some(existing) = filters.iter_mut().find(|f| f.name == filter.name) {
            // AWS keeps criteria a put leaves out; an empty string clears them.
            let criteria = match filter.field_selection_criteria.as_deref() {
                None => existing.field_selection_criteria.clone(),
                Some("") => None,
                Some(kept) => Some(kept.to_owned()),
            };
            *existing = SubscriptionFilter {
                field_selection_criteria: criteria,
                ..filter.clone()
            };
        } else if filters.len() >= self.limit {
            return Err(ApiError::LimitExceeded("Resource limit exceeded.".into()));
        } else {
            filters.push(filter.clone());
        }
        Ok(())
    }

    async fn delete_subscription_filter(
        &self,
        group: &LogGroupName,
        filter_name: &str,
    ) -> Result<(), ApiError> {
        self.record(Call::Delete {
            group: group.to_string(),
            filter: filter_name.to_owned(),
        })?;
        let mut groups = self.groups.lock().expect("not poisoned");
        let filters = groups
            .get_mut(group.as_str())
            .ok_or_else(|| ApiError::NotFound("no group".into()))?;
        let before = filters.len();
        filters.retain(|f| f.name != filter_name);
        if filters.len() == before {
            return Err(ApiError::NotFound(
                "The specified subscription filter does not exist.".into(),
            ));
        }
        let retag = self
            .retag_on_delete
            .lock()
            .expect("not poisoned")
            .remove(group.as_str());
        if let Some(tags) = retag {
            self.tags
                .lock()
                .expect("not poisoned")
                .insert(group.as_str().to_owned(), tags);
        }
        Ok(())
    }

    async fn get_parameter(&self, name: &str) -> Result<String, ApiError> {
        self.record(Call::GetParameter { name: name.into() })?;
        self.parameters
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::ParameterNotFound(name.into()))
    }

    async fn invoke_async(
        &self,
        function_arn: &str,
        payload: &serde_json::Value,
    ) -> Result<(), ApiError> {
        self.record(Call::Invoke {
            function: function_arn.into(),
            payload: payload.clone(),
        })
    }

    async fn reserve_concurrency(
        &self,
        function_arn: &str,
        executions: i32,
    ) -> Result<(), ApiError> {
        self.record(Call::ReserveConcurrency {
            function: function_arn.into(),
            executions,
        })
    }

    async fn stack_status(&self, stack_id: &str) -> Result<String, ApiError> {
        self.record(Call::DescribeStacks {
            stack: stack_id.into(),
        })?;
        self.stacks
            .lock()
            .expect("not poisoned")
            .get(stack_id)
            .cloned()
            .ok_or_else(|| {
                ApiError::Other(format!(
                    "ValidationError: Stack with id {stack_id} does not exist"
                ))
            })
    }

    async fn put_parameter(&self, name: &str, value: &str) -> Result<(), ApiError> {
        self.record(Call::PutParameter { name: name.into() })?;
        self.parameters
            .lock()
            .expect("not poisoned")
            .insert(name.into(), value.into());
        Ok(())
    }

    async fn list_tags(&self, group_arn: &str) -> Result<Tags, ApiError> {
        self.record(Call::ListTags {
            arn: group_arn.into(),
        })?;
        if group_arn.ends_with(":*") {
            return Err(ApiError::InvalidParameter(
                "ListTagsForResource takes the ARN without :*".into(),
            ));
        }
        let name = group_arn
            .split_once(":log-group:")
            .map(|(_, name)| name)
            .unwrap_or_default();
        if !self.groups.lock().expect("not poisoned").contains_key(name) {
            return Err(ApiError::NotFound(
                "The specified resource does not exist.".into(),
            ));
        }
        Ok(self
            .tags
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned()
            .unwrap_or_default())
    }

    async fn describe_log_groups(
        &self,
        prefix: Option<&str>,
        next_token: Option<String>,
    ) -> Result<LogGroupPage, ApiError> {
        const PAGE: usize = 2;
        self.record(Call::DescribeLogGroups {
            prefix: prefix.map(str::to_owned),
        })?;
        let start: usize = next_token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let groups = self.groups.lock().expect("not poisoned");
        let created = self.created.lock().expect("not poisoned");
        let matching: Vec<&String> = groups
            .keys()
            .filter(|name| prefix.is_none_or(|p| name.starts_with(p)))
            .collect();
        let page = matching
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|name| ListedGroup {
                name: (*name).clone(),
                class: None,
                arn: Some(group_arn(name)),
                created_ms: created.get(*name).copied(),
            })
            .collect();
        let next_token = (start + PAGE < matching.len()).then(|| (start + PAGE).to_string());
        Ok(LogGroupPage {
            groups: page,
            next_token,
        })
    }

    async fn subscription_policies(&self) -> Result<Vec<AccountPolicy>, ApiError> {
        self.record(Call::DescribeAccountPolicies)?;
        Ok(self.policies.lock().expect("not poisoned").clone())
    }

    async fn metric_filter_patterns(&self, group: &LogGroupName) -> Result<Vec<String>, ApiError> {
        self.record(Call::DescribeMetricFilters {
            group: group.to_string(),
        })?;
        Ok(self
            .metric_patterns
            .lock()
            .expect("not poisoned")
            .get(group.as_str())
            .cloned()
            .unwrap_or_default())
    }

    /// Two events a page, newest first, as LookupEvents answers (AWS's pages hold up to 50).
    async fn lookup_events(
        &self,
        event_name: &str,
        start_ms: u64,
        end_ms: u64,
        next_token: Option<String>,
    ) -> Result<TrailPage, ApiError> {
        self.record(Call::LookupEvents {
            event_name: event_name.into(),
        })?;
        let history = self.history.lock().expect("not poisoned");
        let matching: Vec<TrailEvent> = history
            .iter()
            .rev()
            .filter(|(name, e)| name == event_name && (start_ms..=end_ms).contains(&e.time_ms))
            .map(|(_, e)| e.clone())
            .collect();
        let from: usize = next_token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let events: Vec<TrailEvent> = matching.iter().skip(from).take(2).cloned().collect();
        let next = from + events.len();
        Ok(TrailPage {
            events,
            next_token: (next < matching.len()).then(|| next.to_string()),
        })
    }

    async fn answer_cloudformation(
        &self,
        url: &Uri,
        body: &Value,
        _timeout: Duration,
    ) -> Result<(), ApiError> {
        self.record(Call::AnswerCloudFormation {
            host: url.host().unwrap_or_default().to_owned(),
            body: body.clone(),
        })
    }
}

impl CanaryGroups for FakeAws {
    async fn create_log_group(&self, group: &LogGroupName) -> Result<(), ApiError> {
        self.record(Call::CreateLogGroup {
            group: group.to_string(),
        })?;
        let mut groups = self.groups.lock().expect("not poisoned");
        if groups.contains_key(group.as_str()) {
            return Err(ApiError::Other(
                "ResourceAlreadyExistsException: The specified log group already exists".into(),
            ));
        }
        groups.insert(group.to_string(), Vec::new());
        Ok(())
    }

    async fn delete_log_group(&self, group: &LogGroupName) -> Result<(), ApiError> {
        self.record(Call::DeleteLogGroup {
            group: group.to_string(),
        })?;
        match self
            .groups
            .lock()
            .expect("not poisoned")
            .remove(group.as_str())
        {
            Some(_) => Ok(()),
            None => Err(ApiError::NotFound(
                "The specified log group does not exist.".into(),
            )),
        }
    }
}
