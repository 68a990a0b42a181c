//! The account-level subscription filter policy (`PutAccountPolicy`, type
//! `SUBSCRIPTION_FILTER_POLICY`): one filter CloudWatch Logs applies to every log group of the
//! account and Region but those its selection criteria name (`LogGroupName NOT IN [...]`, the only
//! criteria AWS supports for this type). A group such a policy ships to our destination already
//! gets every event it matches; a filter of ours beside it would ship each event twice. Pure: the
//! adapter reads the policies (`DescribeAccountPolicies`), [`crate::decision`] judges a group.

use serde::Deserialize;

use crate::names::LogGroupName;

/// The policy type this crate reads.
pub const SUBSCRIPTION_FILTER_POLICY: &str = "SUBSCRIPTION_FILTER_POLICY";

/// One account-level subscription filter policy, as far as a group's coverage goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPolicy {
    pub name: String,
    /// Where it ships (the document's `DestinationArn`).
    pub destination_arn: String,
    /// What it ships (the document's `FilterPattern`; empty: every event).
    pub filter_pattern: String,
    /// The groups it leaves out (`LogGroupName NOT IN [...]`).
    pub excluded: Vec<String>,
}

/// The policy document's attributes this crate reads (AWS's names).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    destination_arn: String,
    #[serde(default)]
    filter_pattern: String,
}

impl AccountPolicy {
    /// A policy from what DescribeAccountPolicies answers: its name, its document (JSON) and its
    /// selection criteria. `Err` says what could not be read: a policy whose reach is not known
    /// is taken to cover nothing, so no group loses our filter on a guess.
    pub fn parse(
        name: &str,
        document: &str,
        selection_criteria: Option<&str>,
    ) -> Result<Self, String> {
        let document: Document = serde_json::from_str(document)
            .map_err(|e| format!("account policy {name:?}: its document is not readable: {e}"))?;
        let excluded = match selection_criteria.map(str::trim).filter(|c| !c.is_empty()) {
            None => Vec::new(),
            Some(criteria) => not_in(criteria).ok_or_else(|| {
                format!(
                    "account policy {name:?}: its selection criteria {criteria:?} are not \
                     LogGroupName NOT IN [...]"
                )
            })?,
        };
        Ok(Self {
            name: name.to_owned(),
            destination_arn: document.destination_arn,
            filter_pattern: document.filter_pattern,
            excluded,
        })
    }

    /// Whether the policy applies to `group`.
    pub fn covers(&self, group: &LogGroupName) -> bool {
        !self.excluded.iter().any(|name| name == group.as_str())
    }
}

/// The names of `LogGroupName NOT IN ["a", "b"]` (AWS's syntax; the list is JSON).
fn not_in(criteria: &str) -> Option<Vec<String>> {
    let rest = criteria.strip_prefix("LogGroupName")?.trim_start();
    let words: Vec<&str> = rest.splitn(3, char::is_whitespace).collect();
    let [not, within, list] = words.as_slice() else {
        return None;
    };
    if !not.eq_ignore_ascii_case("NOT") || !within.eq_ignore_ascii_case("IN") {
        return None;
    }
    serde_json::from_str(list.trim()).ok()
}

/// The policy among `policies` that ships `group` to `destination` already, if any.
pub fn covering<'a>(
    policies: &'a [AccountPolicy],
    group: &LogGroupName,
    destination: &str,
) -> Option<&'a AccountPolicy> {
    policies
        .iter()
        .find(|p| p.destination_arn == destination && p.covers(group))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CENTRAL: &str = "arn:aws:logs:us-east-1:222222222222:destination:central";

    fn name(n: &str) -> LogGroupName {
        LogGroupName::parse(n).expect("valid")
    }

    #[test]
    fn reads_the_document_and_the_groups_it_leaves_out() {
        // The document and criteria of AWS's own example (CreateSubscriptionFilterFirehose-Account).
        let policy = AccountPolicy::parse(
            "CrossAccountFirehoseExamplePolicy",
            &format!(
                r#"{{"DestinationArn":"{CENTRAL}", "FilterPattern": "{{$.userIdentity.type = AssumedRole}}", "Distribution": "Random"}}"#
            ),
            Some(r#"LogGroupName NOT IN ["LogGroupToExclude1", "LogGroupToExclude2"]"#),
        )
        .expect("AWS's example reads");
        assert_eq!(policy.destination_arn, CENTRAL);
        assert_eq!(policy.filter_pattern, "{$.userIdentity.type = AssumedRole}");
        assert!(policy.covers(&name("/app/orders")));
        assert!(!policy.covers(&name("LogGroupToExclude2")));
        let everything =
            AccountPolicy::parse("all", &format!(r#"{{"DestinationArn":"{CENTRAL}"}}"#), None)
                .expect("no criteria: every group");
        assert!(everything.covers(&name("LogGroupToExclude1")));
        assert_eq!(everything.filter_pattern, "");
    }

    #[test]
    fn a_policy_whose_reach_is_unknown_is_an_error() {
        let document = format!(r#"{{"DestinationArn":"{CENTRAL}"}}"#);
        for criteria in [
            "LogGroupNamePrefix IN [\"/app\"]",
            "LogGroupName IN [\"a\"]",
            "LogGroupName NOT IN a, b",
        ] {
            let error = AccountPolicy::parse("p", &document, Some(criteria)).expect_err(criteria);
            assert!(error.contains("NOT IN"), "{error}");
        }
        let error = AccountPolicy::parse("p", r#"{"FilterPattern":""}"#, None).expect_err("no ARN");
        assert!(error.contains("document"), "{error}");
    }

    #[test]
    fn only_a_policy_to_the_same_destination_covers_a_group() {
        let policy = |n: &str, to: &str, excluded: &[&str]| AccountPolicy {
            name: n.into(),
            destination_arn: to.into(),
            filter_pattern: String::new(),
            excluded: excluded.iter().map(|s| (*s).to_owned()).collect(),
        };
        let siem = "arn:aws:firehose:us-east-1:111111111111:deliverystream/siem";
        let policies = [
            policy("to-siem", siem, &[]),
            policy("central", CENTRAL, &["/x"]),
        ];
        assert_eq!(
            covering(&policies, &name("/app"), CENTRAL).map(|p| p.name.as_str()),
            Some("central")
        );
        assert_eq!(covering(&policies, &name("/x"), CENTRAL), None);
        assert_eq!(
            covering(&policies[..1], &name("/app"), CENTRAL),
            None,
            "a policy to another destination coexists"
        );
    }
}
