//! Outcome counts as CloudWatch Embedded Metric Format (EMF) lines: one JSON line on stdout that
//! CloudWatch Logs turns into metrics, so counting costs no API call. Namespace `AutoSubscribe`,
//! dimension `FunctionName`; the stack alarms on `Failed`.

use serde_json::{Value, json};

use crate::outcome::Tally;

pub const NAMESPACE: &str = "AutoSubscribe";

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// The groups it handled, by outcome (an event's one group, or a sweep slice's).
    pub outcomes: Tally,
    /// Throttled answers that were retried.
    pub throttled_retries: u64,
    /// Sweep chains stopped by their hop bound.
    pub sweeps_stopped: u64,
    /// The group the function stopped repairing, when it did.
    pub repairs_stopped: Option<String>,
    /// For a sweep invocation, its kind (`full`, `recent`, `removal`): the metrics then also carry
    /// the dimension `SweepKind`, so a dashboard tells the sweeps apart.
    pub sweep_kind: Option<&'static str>,
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
            ("NotChecked", outcomes.not_checked),
            ("ThrottledRetries", self.throttled_retries),
            ("SweepsStopped", self.sweeps_stopped),
            ("RepairsStopped", u64::from(self.repairs_stopped.is_some())),
        ];
        let dimensions = match self.sweep_kind {
            Some(_) => json!([["FunctionName"], ["FunctionName", "SweepKind"]]),
            None => json!([["FunctionName"]]),
        };
        let mut document = json!({
            "_aws": {
                "Timestamp": timestamp_ms as u64,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dimensions,
                    "Metrics": metrics.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
                }],
            },
            "FunctionName": function_name,
        });
        for (name, value) in metrics {
            document[name] = json!(value);
        }
        if let Some(kind) = self.sweep_kind {
            document["SweepKind"] = json!(kind);
        }
        document
    }

    /// When repairs of a group stopped, a second document that names it (dimension
    /// `LogGroupName`), so an alarm or a dashboard shows which group two tools fight over.
    pub fn repairs_stopped_emf(&self, function_name: &str, timestamp_ms: u128) -> Option<Value> {
        let group = self.repairs_stopped.as_ref()?;
        Some(json!({
            "_aws": {
                "Timestamp": timestamp_ms as u64,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName", "LogGroupName"]],
                    "Metrics": [{"Name": "RepairsStopped", "Unit": "Count"}],
                }],
            },
            "FunctionName": function_name,
            "LogGroupName": group,
            "RepairsStopped": 1,
        }))
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
        assert!(doc.get("SweepKind").is_none());
        let recent = Counts {
            sweep_kind: Some("recent"),
            ..Counts::default()
        };
        let doc = recent.emf("f", 1);
        assert_eq!(doc["SweepKind"], "recent");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"], ["FunctionName", "SweepKind"]])
        );
        assert!(counts.repairs_stopped_emf("f", 1).is_none());
        counts.repairs_stopped = Some("/contested".into());
        let named = counts.repairs_stopped_emf("f", 1).expect("a document");
        assert_eq!(named["LogGroupName"], "/contested");
        assert_eq!(counts.emf("f", 1)["RepairsStopped"], 1);
    }
}
