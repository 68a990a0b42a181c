//! What one invocation did, as CloudWatch Embedded Metric Format (EMF) lines: JSON lines on stdout
//! that CloudWatch Logs turns into metrics, so counting costs no API call. Namespace
//! `AutoSubscribe`, dimension `FunctionName`; the stack alarms on `Failed`. `main.rs` prints them.

use serde_json::{Value, json};

use super::{Answer, FunctionError};
use crate::outcome::{OutcomeLabel, Tally};
use crate::sweep::slices::SweepResponse;

pub const NAMESPACE: &str = "AutoSubscribe";

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationMetrics {
    /// The groups it handled, by outcome (an event's one group, or a sweep slice's).
    pub outcomes: Tally,
    /// Throttled answers that were retried.
    pub throttled_retries: u64,
    /// Sweep chains stopped by their hop bound.
    pub sweeps_stopped: u64,
    /// Changes a catch-up had to act on long after they were made: events the pipeline lost.
    pub lost_events: u64,
    /// When a full sweep ended here: the account's coverage (`CoverageEligible`,
    /// `CoverageSubscribed`), for a cross-account dashboard.
    pub coverage: Option<crate::outcome::Coverage>,
    /// The group the function stopped repairing, when it did.
    pub repairs_stopped: Option<String>,
    /// For a sweep invocation, its kind (`full`, `recent`, `changed`, `removal`): the metrics then also carry
    /// the dimension `SweepKind`, so a dashboard tells the sweeps apart.
    pub sweep_kind: Option<&'static str>,
}

impl InvocationMetrics {
    /// What an invocation that ended with `result` did, `throttled_retries` answers throttled on
    /// the way. An error counts as one failed group.
    pub fn of(result: &Result<Answer, FunctionError>, throttled_retries: u64) -> Self {
        let mut metrics = Self {
            throttled_retries,
            ..Self::default()
        };
        match result {
            Ok(Answer::Group(response)) => {
                metrics.outcomes.add(response.outcome);
                if response.repairs_stopped {
                    metrics.repairs_stopped = response.log_group_name.clone();
                }
            }
            Ok(Answer::Stack(_) | Answer::Refused(_)) => {}
            Ok(Answer::Sweep(SweepResponse {
                sweep,
                stopped,
                kind,
                lost_events,
                coverage,
            })) => {
                metrics.outcomes = sweep.counts;
                metrics.lost_events = *lost_events;
                metrics.coverage = *coverage;
                metrics.sweep_kind = Some(kind.as_str());
                metrics.sweeps_stopped = u64::from(stopped.is_some());
            }
            Err(_) => metrics.outcomes.add(OutcomeLabel::Failed),
        }
        metrics
    }

    /// The lines to print, as of `timestamp_ms`: the counts, and the named group whose repairs
    /// stopped, if any.
    pub fn lines(&self, function_name: &str, timestamp_ms: u128) -> Vec<Value> {
        let named = self.repairs_stopped_emf(function_name, timestamp_ms);
        std::iter::once(self.emf(function_name, timestamp_ms))
            .chain(named)
            .collect()
    }

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
            ("CoveredByAccountPolicy", outcomes.covered),
            ("ThrottledRetries", self.throttled_retries),
            ("SweepsStopped", self.sweeps_stopped),
            ("LostEvents", self.lost_events),
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
        if let Some(coverage) = self.coverage {
            let names = [
                ("CoverageEligible", coverage.eligible),
                ("CoverageSubscribed", coverage.subscribed),
            ];
            if let Some(list) = document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array_mut() {
                list.extend(
                    names
                        .iter()
                        .map(|(name, _)| json!({"Name": name, "Unit": "Count"})),
                );
            }
            for (name, value) in names {
                document[name] = json!(value);
            }
        }
        if let Some(kind) = self.sweep_kind {
            document["SweepKind"] = json!(kind);
        }
        document
    }

    /// When repairs of a group stopped, a second document that names it (dimension
    /// `LogGroupName`), so an alarm or a dashboard shows which group two tools fight over.
    fn repairs_stopped_emf(&self, function_name: &str, timestamp_ms: u128) -> Option<Value> {
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

    #[test]
    fn an_emf_document_declares_every_value_it_carries() {
        let mut counts = InvocationMetrics {
            throttled_retries: 3,
            ..InvocationMetrics::default()
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
        let recent = InvocationMetrics {
            sweep_kind: Some("recent"),
            ..InvocationMetrics::default()
        };
        let doc = recent.emf("f", 1);
        assert_eq!(doc["SweepKind"], "recent");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"], ["FunctionName", "SweepKind"]])
        );
        assert_eq!(counts.lines("f", 1).len(), 1, "no group named");
        counts.repairs_stopped = Some("/contested".into());
        let lines = counts.lines("f", 1);
        let [all, named] = lines.as_slice() else {
            panic!("two lines: {lines:?}")
        };
        assert_eq!(named["LogGroupName"], "/contested");
        assert_eq!(all["RepairsStopped"], 1);
    }

    #[test]
    fn an_invocation_counts_what_it_answered() {
        use crate::function::Response;
        let group = |outcome| {
            Ok(Answer::Group(Response {
                log_group_name: Some("/a".into()),
                outcome,
                reason: None,
                removed_filters: Vec::new(),
                repairs_stopped: false,
            }))
        };
        let subscribed = InvocationMetrics::of(&group(OutcomeLabel::Subscribed), 2);
        assert_eq!(
            (
                subscribed.outcomes.subscribed,
                subscribed.outcomes.total,
                subscribed.throttled_retries
            ),
            (1, 1, 2)
        );
        let refused = Ok(Answer::Refused(Response {
            log_group_name: None,
            outcome: OutcomeLabel::Skipped,
            reason: Some("custom resource request refused".into()),
            removed_filters: Vec::new(),
            repairs_stopped: false,
        }));
        assert_eq!(
            InvocationMetrics::of(&refused, 0).outcomes,
            Tally::default(),
            "a refusal is no group's outcome"
        );
        let failed = Err(FunctionError::Identity("nonsense".into()));
        assert_eq!(InvocationMetrics::of(&failed, 0).outcomes.failed, 1);
    }
}
