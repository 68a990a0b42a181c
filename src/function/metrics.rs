//! Outcome counts as CloudWatch Embedded Metric Format (EMF) lines: one JSON line on stdout that
//! CloudWatch Logs turns into metrics, so counting costs no API call. Namespace `AutoSubscribe`,
//! dimension `FunctionName`; the stack alarms on `Failed`.

use serde_json::{Value, json};

use crate::outcome::Tally;

pub const NAMESPACE: &str = "AutoSubscribe";

/// What one invocation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// The groups it handled, by outcome (an event's one group, or a sweep slice's).
    pub outcomes: Tally,
    /// Throttled answers that were retried.
    pub throttled_retries: u64,
}

impl Counts {
    /// The EMF document for these counts, as of `timestamp_ms`.
    pub fn emf(&self, function_name: &str, timestamp_ms: u128) -> Value {
        let outcomes = &self.outcomes;
        let metrics = [
            ("Subscribed", outcomes.subscribed),
            ("Unchanged", outcomes.unchanged),
            ("Unsubscribed", outcomes.unsubscribed),
            ("Skipped", outcomes.skipped),
            ("Failed", outcomes.failed),
            ("ThrottledRetries", self.throttled_retries),
        ];
        let mut document = json!({
            "_aws": {
                "Timestamp": timestamp_ms as u64,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": metrics.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
                }],
            },
            "FunctionName": function_name,
        });
        for (name, value) in metrics {
            document[name] = json!(value);
        }
        document
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeLabel;

    #[test]
    fn an_emf_document_declares_every_value_it_carries() {
        let mut counts = Counts {
            throttled_retries: 3,
            ..Counts::default()
        };
        counts.outcomes.add(OutcomeLabel::Subscribed);
        counts.outcomes.add(OutcomeLabel::Failed);
        counts.outcomes.add(OutcomeLabel::Failed);
        let doc = counts.emf("auto-subscribe", 1_700_000_000_000);
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "AutoSubscribe");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(doc["FunctionName"], "auto-subscribe");
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("name");
            assert!(doc[name].is_u64(), "{name} has a value at the root");
        }
        assert_eq!(
            (doc["Subscribed"].as_u64(), doc["Failed"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(doc["ThrottledRetries"], 3);
    }
}
