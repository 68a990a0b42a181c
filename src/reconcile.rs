//! One log group brought in line with the rules: the [`Decision`], then its filters described, the
//! [`plan`](crate::plan) made, and its writes carried out through [`Aws`] so that a failure half way
//! never leaves the group with fewer filters than it had (a filter removed to make room is put back
//! if ours then cannot be put); [`settle`] says what the result means. The function's events and
//! every sweep reconcile a group here.

use crate::aws::{ApiError, Aws};
use crate::decision::{
    Decision, Rules, Written, against_account_policy, against_destination, decide, settle,
};
use crate::destination::{DestinationCache, DestinationError};
use crate::filter::{DesiredFilter, REGEX_QUOTA, SubscriptionFilter, regex_terms};
use crate::group::{KnownTags, LogGroup, Tags};
use crate::names::{AccountId, LogGroupName};
use crate::outcome::{GONE, Outcome, REGEX_QUOTA_USED};
use crate::plan::{FilterPlan, plan, removal};

/// Everything a reconcile needs that is the same for every group of an event or a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reconciler<'a> {
    pub rules: &'a Rules,
    /// The destination, read (and checked to be in `region`) only when a group needs it, so a
    /// skipped group costs no read.
    pub destination: &'a DestinationCache,
    pub region: &'a str,
}

impl Reconciler<'_> {
    /// Decides what to do with `group`, then does it; reads the group's tags first when the
    /// decision needs them. `Err` only when the destination cannot be used, which is no fault of
    /// the group's; everything else is an [`Outcome`].
    pub(crate) async fn reconcile(
        &self,
        aws: &impl Aws,
        group: &LogGroup,
    ) -> Result<Outcome, DestinationError> {
        let decision = decide(group, self.rules);
        if decision != Decision::ReadTags {
            return self.carry_out(aws, group, decision).await;
        }
        let tags = match read_tags(aws, group).await {
            Ok(tags) => tags,
            Err(outcome) => return Ok(outcome),
        };
        let group = LogGroup {
            tags: KnownTags::Read(tags),
            ..group.clone()
        };
        let decision = decide(&group, self.rules);
        self.carry_out(aws, &group, decision).await
    }

    async fn carry_out(
        &self,
        aws: &impl Aws,
        group: &LogGroup,
        decision: Decision,
    ) -> Result<Outcome, DestinationError> {
        Ok(match decision {
            Decision::Skip { reason } => Outcome::Skipped { reason },
            Decision::NotChecked => Outcome::NotChecked,
            // `decide` asks for tags only while they are unknown; they are known here.
            Decision::ReadTags => Outcome::Failed {
                error: "its tags are still unknown after reading them".into(),
                retryable: false,
            },
            Decision::Subscribe | Decision::Unsubscribe { .. } | Decision::Covered { .. } => {
                let destination = self.destination.get(aws, self.region).await?;
                let mut decision = against_destination(decision, group, &destination, self.rules);
                if decision == Decision::Subscribe {
                    let policies = self.destination.policies(aws).await;
                    decision = against_account_policy(
                        decision,
                        group,
                        &policies,
                        &destination,
                        self.rules,
                    );
                }
                match decision {
                    Decision::Skip { reason } => return Ok(Outcome::Skipped { reason }),
                    Decision::Covered {
                        reason,
                        take_ours_off: false,
                    } => {
                        return Ok(Outcome::Covered {
                            reason,
                            removed: Vec::new(),
                        });
                    }
                    _ => {}
                }
                let desired = self.rules.filter.to(destination);
                let writer = Writer {
                    desired: &desired,
                    account: group.account.as_ref(),
                    dry_run: self.rules.dry_run,
                };
                let written = writer.write(aws, &group.name, &decision, self.rules).await;
                let outcome = settle(&decision, self.rules, written);
                self.after_a_removal_by_tags(aws, group, &decision, &writer, outcome)
                    .await
            }
        })
    }

    /// Our filter just came off a group its tags no longer select; another environment may have
    /// handled a re-tag meanwhile and found ours still there. The tags are read once more after
    /// the write, and a group selected again gets ours back, so two invocations at once cannot
    /// leave a selected group without our filter.
    async fn after_a_removal_by_tags(
        &self,
        aws: &impl Aws,
        group: &LogGroup,
        decision: &Decision,
        writer: &Writer<'_>,
        outcome: Outcome,
    ) -> Outcome {
        let by_tags = matches!(
            decision,
            Decision::Unsubscribe {
                unselected: Some(_)
            }
        ) && self.rules.selection.has_tag_rules()
            && self.rules.selection.check(&group.name).is_ok();
        let Outcome::Unsubscribed { removed } = &outcome else {
            return outcome;
        };
        if !by_tags || self.rules.dry_run {
            return outcome;
        }
        let Ok(tags) = read_tags(aws, group).await else {
            return outcome;
        };
        if self.rules.selection.check_tags(&tags).is_err() {
            return outcome;
        }
        let again = settle(
            &Decision::Subscribe,
            self.rules,
            writer
                .write(aws, &group.name, &Decision::Subscribe, self.rules)
                .await,
        );
        match again {
            Outcome::Subscribed { .. } | Outcome::Unchanged { .. } => Outcome::Subscribed {
                removed: removed.clone(),
            },
            other => other,
        }
    }
}

/// The group's tags (one ListTagsForResource), or the outcome that ends its visit: gone, or failed.
async fn read_tags(aws: &impl Aws, group: &LogGroup) -> Result<Tags, Outcome> {
    let Some(arn) = group.tagging_arn() else {
        return Err(Outcome::Failed {
            error: "its ARN is not known, so its tags cannot be read".into(),
            retryable: false,
        });
    };
    match aws.list_tags(arn).await {
        Ok(tags) => Ok(tags),
        Err(ApiError::NotFound(_)) => Err(Outcome::skipped(GONE)),
        Err(e) => Err(failed(format!("reading its tags: {e}"), &e)),
    }
}

/// The writes for one group, once its filters are known: ours put (or taken off), in the order that
/// never leaves the group with less than it had.
#[derive(Debug, Clone)]
struct Writer<'a> {
    desired: &'a DesiredFilter,
    /// This account, to name in an access-denied message (the destination policy must allow it).
    account: Option<&'a AccountId>,
    /// Plan and report, but write nothing.
    dry_run: bool,
}

impl Writer<'_> {
    /// Describes the group's filters and makes the writes `decision` asks for: ours in
    /// ([`Decision::Subscribe`], under the rules' mode), or ours off and nothing else
    /// ([`Decision::Unsubscribe`]). Never panics and never returns early with the group holding
    /// less than it had. `Unchanged` when no write was needed.
    async fn write(
        &self,
        aws: &impl Aws,
        group: &LogGroupName,
        decision: &Decision,
        rules: &Rules,
    ) -> Written {
        let existing = match aws.describe_subscription_filters(group).await {
            Ok(filters) => filters,
            Err(ApiError::NotFound(_)) => return Written::Done(Outcome::skipped(GONE)),
            Err(e) => {
                let error = format!("describing its subscription filters: {e}");
                return Written::Done(failed(error, &e));
            }
        };
        let plan = match decision {
            Decision::Unsubscribe { .. } | Decision::Covered { .. } => {
                removal(&existing, self.desired)
            }
            _ => plan(&existing, self.desired, rules.mode),
        };
        if plan.is_unchanged() {
            return Written::Done(Outcome::Unchanged {
                removed: Vec::new(),
            });
        }
        if self.dry_run {
            let removed = plan.remove_after.iter().map(|f| f.name.clone()).collect();
            return Written::Done(applied(&plan, removed));
        }
        self.execute(aws, group, &existing, &plan).await
    }

    async fn execute(
        &self,
        aws: &impl Aws,
        group: &LogGroupName,
        existing: &[SubscriptionFilter],
        plan: &FilterPlan,
    ) -> Written {
        let done = Written::Done;
        let mut evicted: Vec<&SubscriptionFilter> = Vec::new();
        if let Some(ours) = &plan.put {
            let mut candidates = plan.evict_when_full.iter();
            let mut quota_checked = false;
            loop {
                let error = match aws.put_subscription_filter(group, ours).await {
                    Ok(()) => break,
                    // Not found on a put is the group gone, or the destination: only a look tells.
                    Err(ApiError::NotFound(_)) if group_is_gone(aws, group).await => {
                        return done(Outcome::skipped(GONE));
                    }
                    Err(e) => e,
                };
                // AWS answers a used-up regular-expression quota as it answers a full group: what
                // the group holds tells them apart, before anything is evicted for it.
                if matches!(error, ApiError::LimitExceeded(_)) && !quota_checked {
                    quota_checked = true;
                    if let Some(outcome) = regex_quota(aws, group, existing, ours).await {
                        return done(outcome);
                    }
                }
                let next = match (&error, plan.creates) {
                    (ApiError::LimitExceeded(_), true) => candidates.next(),
                    _ => {
                        let note = restore(aws, group, &evicted).await;
                        let message = format!("{}{note}", self.put_failure(&error));
                        return done(failed(message, &error));
                    }
                };
                let Some(next) = next else {
                    let note = restore(aws, group, &evicted).await;
                    return Written::Full { note };
                };
                match aws.delete_subscription_filter(group, &next.name).await {
                    Ok(()) | Err(ApiError::NotFound(_)) => evicted.push(next),
                    Err(e) => {
                        let note = restore(aws, group, &evicted).await;
                        let error =
                            format!("removing filter {:?} to make room: {e}{note}", next.name);
                        return done(failed(error, &e));
                    }
                }
            }
        }
        let mut removed: Vec<String> = evicted.iter().map(|f| f.name.clone()).collect();
        for filter in plan
            .remove_after
            .iter()
            .filter(|f| !evicted.iter().any(|e| e.name == f.name))
        {
            match aws.delete_subscription_filter(group, &filter.name).await {
                Ok(()) | Err(ApiError::NotFound(_)) => removed.push(filter.name.clone()),
                Err(e) => {
                    let done = if plan.put.is_some() {
                        "ours is in place, but "
                    } else {
                        ""
                    };
                    let error = format!("{done}removing filter {:?}: {e}", filter.name);
                    return Written::Done(failed(error, &e));
                }
            }
        }
        done(applied(plan, removed))
    }
    /// A put that failed, said as what to fix.
    fn put_failure(&self, error: &ApiError) -> String {
        let destination = self.desired.destination.as_str();
        match error {
            ApiError::AccessDenied(message) => {
                let who = self
                    .account
                    .map_or_else(|| "this account".to_owned(), |a| format!("account {a}"));
                format!(
                    "AWS denied PutSubscriptionFilter to {destination}: the destination's access policy must allow \
                     {who} (logs:PutSubscriptionFilter; or its organization with aws:PrincipalOrgID), and this \
                     function's role must be allowed to call it. AWS said: {message}"
                )
            }
            ApiError::InvalidParameter(message) => format!(
                "CloudWatch Logs rejected the filter (destination {destination}, pattern {:?}): {message}. \
                 Check that the destination exists in this Region, FILTER_PATTERN and ROLE_ARN",
                self.desired.pattern
            ),
            ApiError::NotFound(message) => format!(
                "CloudWatch Logs did not find destination {destination} while the log group is there: \
                 check that it exists in this Region. AWS said: {message}"
            ),
            other => format!("putting the subscription filter: {other}"),
        }
    }
}

/// When ours holds a regular expression and a put of it met a quota: the failure if it is the
/// group's quota of [`REGEX_QUOTA`] regular expressions (counted over its metric filters and its
/// other subscription filters, one DescribeMetricFilters), or `None` when the count leaves room
/// (the group is full) or ours holds none.
async fn regex_quota(
    aws: &impl Aws,
    group: &LogGroupName,
    existing: &[SubscriptionFilter],
    ours: &SubscriptionFilter,
) -> Option<Outcome> {
    let adds = regex_terms(&ours.filter_pattern);
    if adds == 0 {
        return None;
    }
    let patterns = match aws.metric_filter_patterns(group).await {
        Ok(patterns) => patterns,
        Err(e) => {
            let error = format!(
                "putting the subscription filter met a quota, and FILTER_PATTERN holds a regular \
                 expression: reading the group's metric filters to tell a full group from its \
                 regular-expression quota failed ({e}), so nothing was removed"
            );
            return Some(failed(error, &e));
        }
    };
    let held: usize = patterns.iter().map(|p| regex_terms(p)).sum::<usize>()
        + existing
            .iter()
            .filter(|f| f.name != ours.name)
            .map(|f| regex_terms(&f.filter_pattern))
            .sum::<usize>();
    (held + adds > REGEX_QUOTA).then(|| {
        Outcome::failed(
            format!(
                "{REGEX_QUOTA_USED}: its metric and other subscription filters hold {held}, and \
                 FILTER_PATTERN {:?} adds {adds}. Nothing was removed: free regular expressions \
                 on the group, or set a FILTER_PATTERN without one",
                ours.filter_pattern
            ),
            false,
        )
    })
}

async fn group_is_gone(aws: &impl Aws, group: &LogGroupName) -> bool {
    matches!(
        aws.describe_subscription_filters(group).await,
        Err(ApiError::NotFound(_))
    )
}

/// Puts back filters removed to make room, after ours could not be put. Returns a note for the
/// failure message when a filter could not be restored.
async fn restore(aws: &impl Aws, group: &LogGroupName, evicted: &[&SubscriptionFilter]) -> String {
    let mut lost = Vec::new();
    for filter in evicted.iter().rev() {
        if let Err(e) = aws.put_subscription_filter(group, filter).await {
            lost.push(format!("{:?} ({e})", filter.name));
        }
    }
    if lost.is_empty() {
        String::new()
    } else {
        format!("; and could not put back {}", lost.join(", "))
    }
}

/// A failure whose message is `error`, caused by `cause`.
fn failed(error: String, cause: &ApiError) -> Outcome {
    Outcome::failed(error, cause.is_transient())
}

/// What a plan's writes come to once made, `removed` taken off: ours put is a subscription; only
/// removals leave ours as it was ([`settle`] says what that means for a removal).
fn applied(plan: &FilterPlan, removed: Vec<String>) -> Outcome {
    if plan.put.is_some() {
        Outcome::Subscribed { removed }
    } else {
        Outcome::Unchanged { removed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::FakeAws;
    use crate::decision::Goal;
    use crate::fixtures::{DEST, desired, destination, everything, rules};
    use crate::outcome::NO_FREE_SLOT;
    use crate::plan::ExistingFilters::{self, Keep, MakeRoom, Replace};

    const OTHER: &str = "arn:aws:lambda:us-east-1:111111111111:function:shipper";
    const GROUP: &str = "/aws/lambda/orders";

    fn foreign(name: &str, created: i64) -> SubscriptionFilter {
        SubscriptionFilter {
            name: name.into(),
            destination_arn: OTHER.into(),
            filter_pattern: "ERROR".into(),
            role_arn: None,
            distribution: Some("ByLogStream".into()),
            creation_time: Some(created),
            ..SubscriptionFilter::default()
        }
    }

    fn group() -> LogGroupName {
        LogGroupName::parse(GROUP).expect("valid")
    }

    /// [`GROUP`] of account 111111111111, reconciled under `rules` to [`DEST`].
    async fn reconcile(aws: &FakeAws, rules: &Rules) -> Outcome {
        let group = LogGroup {
            account: Some(AccountId::parse("111111111111").expect("valid")),
            ..LogGroup::named(group())
        };
        let destination = DestinationCache::fixed(destination());
        Reconciler {
            rules,
            destination: &destination,
            region: "us-east-1",
        }
        .reconcile(aws, &group)
        .await
        .expect("the destination is usable")
    }

    /// [`GROUP`] subscribed in `mode`.
    async fn run(aws: &FakeAws, mode: ExistingFilters) -> Outcome {
        reconcile(aws, &rules(mode, Goal::Subscribe)).await
    }

    #[tokio::test]
    async fn new_group_costs_one_describe_and_one_put() {
        let aws = FakeAws::with_group(GROUP, vec![], 2);
        assert_eq!(
            run(&aws, Replace).await,
            Outcome::Subscribed { removed: vec![] }
        );
        assert_eq!(
            aws.calls(),
            vec![
                "describe-account-policies",
                "describe",
                "put central-logging"
            ]
        );
        assert_eq!(aws.filter_names(GROUP), vec!["central-logging"]);
    }

    #[tokio::test]
    async fn matching_filter_means_no_write() {
        let aws = FakeAws::with_group(GROUP, vec![desired().to_filter()], 2);
        assert_eq!(
            run(&aws, Replace).await,
            Outcome::Unchanged { removed: vec![] }
        );
        assert_eq!(aws.calls(), vec!["describe-account-policies", "describe"]);
    }

    #[tokio::test]
    async fn full_group_in_each_mode() {
        let two = || vec![foreign("shipper", 10), foreign("datadog", 5)];

        let aws = FakeAws::with_group(GROUP, two(), 2);
        let removed = vec!["datadog".to_owned(), "shipper".to_owned()];
        assert_eq!(run(&aws, Replace).await, Outcome::Subscribed { removed });
        assert_eq!(
            aws.calls(),
            vec![
                "describe-account-policies",
                "describe",
                "put central-logging",
                "delete datadog",
                "put central-logging",
                "delete shipper"
            ]
        );
        assert_eq!(aws.filter_names(GROUP), vec!["central-logging"]);

        let aws = FakeAws::with_group(GROUP, two(), 2);
        assert_eq!(
            run(&aws, MakeRoom).await,
            Outcome::Subscribed {
                removed: vec!["datadog".into()]
            }
        );
        assert_eq!(aws.filter_names(GROUP), vec!["central-logging", "shipper"]);

        let aws = FakeAws::with_group(GROUP, two(), 2);
        assert_eq!(run(&aws, Keep).await, Outcome::skipped(NO_FREE_SLOT));
        assert_eq!(aws.filter_names(GROUP), vec!["datadog", "shipper"]);
        assert!(
            !aws.calls().iter().any(|c| c.key().starts_with("delete")),
            "keep never deletes others"
        );
    }

    #[tokio::test]
    async fn with_room_ours_goes_in_before_others_go() {
        let aws = FakeAws::with_group(GROUP, vec![foreign("shipper", 10)], 2);
        assert_eq!(
            run(&aws, Replace).await,
            Outcome::Subscribed {
                removed: vec!["shipper".into()]
            }
        );
        assert_eq!(
            aws.calls(),
            vec![
                "describe-account-policies",
                "describe",
                "put central-logging",
                "delete shipper"
            ]
        );
    }

    #[tokio::test]
    async fn the_limit_is_not_hard_coded() {
        // The limit was once 1 filter per group: a full group is learnt from the put's answer.
        let aws = FakeAws::with_group(GROUP, vec![foreign("shipper", 10)], 1);
        assert_eq!(
            run(&aws, MakeRoom).await,
            Outcome::Subscribed {
                removed: vec!["shipper".into()]
            }
        );
        assert_eq!(aws.filter_names(GROUP), vec!["central-logging"]);
        let aws = FakeAws::with_group(
            GROUP,
            vec![foreign("a", 1), foreign("b", 2), foreign("c", 3)],
            4,
        );
        assert_eq!(
            run(&aws, MakeRoom).await,
            Outcome::Subscribed { removed: vec![] }
        );
        assert_eq!(aws.filter_names(GROUP).len(), 4);
    }

    #[tokio::test]
    async fn a_muted_filter_of_ours_is_put_right_in_every_attribute() {
        let muted = [
            SubscriptionFilter {
                field_selection_criteria: Some("@aws.region = \"nowhere-1\"".into()),
                ..desired().to_filter()
            },
            SubscriptionFilter {
                apply_on_transformed_logs: true,
                emit_system_fields: vec!["@aws.account".into()],
                ..desired().to_filter()
            },
        ];
        for filter in muted {
            let aws = FakeAws::with_group(GROUP, vec![filter.clone(), foreign("shipper", 10)], 2);
            assert_eq!(
                run(&aws, MakeRoom).await,
                Outcome::Subscribed { removed: vec![] },
                "{filter:?}"
            );
            let now = aws.filters(GROUP);
            let ours = now
                .iter()
                .find(|f| f.name == "central-logging")
                .expect("ours");
            assert!(desired().matches(ours), "{ours:?}");
            assert_eq!(
                run(&aws, MakeRoom).await,
                Outcome::Unchanged { removed: vec![] }
            );
        }
    }

    #[tokio::test]
    async fn a_failed_put_after_making_room_puts_back_what_was_removed() {
        let datadog = SubscriptionFilter {
            field_selection_criteria: Some("@aws.region = \"eu-west-1\"".into()),
            apply_on_transformed_logs: true,
            emit_system_fields: vec!["@source.log".into()],
            ..foreign("datadog", 5)
        };
        let aws = FakeAws::with_group(GROUP, vec![foreign("shipper", 10), datadog], 2);
        aws.fail_nth(
            "put central-logging",
            2,
            ApiError::AccessDenied("not authorized".into()),
        );
        let Outcome::Failed { error, .. } = run(&aws, Replace).await else {
            panic!("must fail")
        };
        assert!(error.contains("must allow account 111111111111"), "{error}");
        assert_eq!(
            aws.filter_names(GROUP),
            vec!["datadog", "shipper"],
            "nothing lost"
        );
        let restored = aws
            .filters(GROUP)
            .into_iter()
            .find(|f| f.name == "datadog")
            .expect("restored");
        assert_eq!(
            restored.filter_pattern, "ERROR",
            "restored with its own settings"
        );
        assert_eq!(
            (
                restored.field_selection_criteria.as_deref(),
                restored.apply_on_transformed_logs,
                restored.emit_system_fields.as_slice()
            ),
            (
                Some("@aws.region = \"eu-west-1\""),
                true,
                ["@source.log".to_owned()].as_slice()
            ),
            "and every newer attribute it had"
        );
    }

    #[tokio::test]
    async fn a_denied_put_leaves_the_group_untouched() {
        let aws = FakeAws::with_group(GROUP, vec![foreign("shipper", 10)], 2);
        aws.fail_nth(
            "put central-logging",
            1,
            ApiError::AccessDenied("nope".into()),
        );
        assert!(matches!(run(&aws, Replace).await, Outcome::Failed { .. }));
        assert_eq!(aws.filter_names(GROUP), vec!["shipper"]);
    }

    #[tokio::test]
    async fn a_failed_removal_after_the_put_keeps_both() {
        let aws = FakeAws::with_group(GROUP, vec![foreign("shipper", 10)], 2);
        aws.fail_nth(
            "delete shipper",
            1,
            ApiError::RetriesExhausted {
                attempts: 8,
                last: "Rate exceeded".into(),
            },
        );
        let Outcome::Failed { error, .. } = run(&aws, Replace).await else {
            panic!("must fail")
        };
        assert!(
            error.starts_with("ours is in place, but removing filter \"shipper\""),
            "{error}"
        );
        assert_eq!(aws.filter_names(GROUP), vec!["central-logging", "shipper"]);
    }

    #[tokio::test]
    async fn duplicates_go_in_every_mode_even_keep() {
        let mut dup = foreign("Destination", 3);
        dup.destination_arn = DEST.into();
        let aws = FakeAws::with_group(GROUP, vec![dup.clone(), foreign("shipper", 10)], 2);
        assert_eq!(
            run(&aws, Keep).await,
            Outcome::Subscribed {
                removed: vec!["Destination".into()]
            }
        );
        assert_eq!(aws.filter_names(GROUP), vec!["central-logging", "shipper"]);
        let aws = FakeAws::with_group(GROUP, vec![desired().to_filter(), dup], 2);
        assert_eq!(
            run(&aws, Keep).await,
            Outcome::Unchanged {
                removed: vec!["Destination".into()]
            }
        );
    }

    #[tokio::test]
    async fn a_vanished_group_is_skipped() {
        let aws = FakeAws::default();
        assert_eq!(run(&aws, Replace).await, Outcome::skipped(GONE));
    }

    #[tokio::test]
    async fn not_found_on_put_with_the_group_there_is_a_failure() {
        let aws = FakeAws::with_group(GROUP, vec![], 2);
        aws.fail_nth(
            "put central-logging",
            1,
            ApiError::NotFound("destination does not exist".into()),
        );
        let Outcome::Failed { error, retryable } = run(&aws, Replace).await else {
            panic!("a failure: the group is there, so the destination is what is missing")
        };
        assert!(!retryable, "a missing destination stays missing");
        assert!(error.contains(DEST), "names the destination: {error}");
        assert!(error.contains("destination does not exist"), "{error}");
        assert_eq!(
            aws.calls(),
            [
                "describe-account-policies",
                "describe",
                "put central-logging",
                "describe"
            ]
        );
        assert!(aws.filter_names(GROUP).is_empty());
    }

    #[tokio::test]
    async fn unsubscribe_takes_ours_off_and_nothing_else() {
        let mut duplicate = foreign("Destination", 3);
        duplicate.destination_arn = DEST.into();
        let aws = FakeAws::with_group(GROUP, vec![desired().to_filter(), duplicate], 2);
        let remove = rules(Replace, Goal::Remove);
        let outcome = reconcile(&aws, &remove).await;
        assert_eq!(
            outcome,
            Outcome::Unsubscribed {
                removed: vec!["central-logging".into()]
            }
        );
        assert_eq!(aws.filter_names(GROUP), vec!["Destination"]);
        // Nothing of ours left: no write at all.
        assert_eq!(
            reconcile(&aws, &remove).await,
            Outcome::Unchanged { removed: vec![] }
        );
        assert_eq!(aws.count("delete central-logging"), 1);
        assert_eq!(
            aws.count("delete Destination"),
            0,
            "a duplicate is not ours to remove"
        );
    }

    #[tokio::test]
    async fn dry_run_writes_nothing() {
        let aws = FakeAws::with_group(GROUP, vec![foreign("shipper", 10)], 2);
        let outcome = reconcile(&aws, &rules(Replace, Goal::Subscribe).dry_run(true)).await;
        assert_eq!(
            outcome,
            Outcome::Subscribed {
                removed: vec!["shipper".into()]
            }
        );
        assert_eq!(aws.calls(), vec!["describe-account-policies", "describe"]);
    }

    /// A reconciler under `team=platform` tag rules, over the fake's destination.
    async fn with_tag_rules(aws: &FakeAws, group: &LogGroup, goal: Goal) -> Outcome {
        use crate::selection::TagRules;
        let rules = Rules {
            selection: everything()
                .with_tags(TagRules::new(&["team=platform".into()], &[]).expect("valid rule")),
            ..rules(Replace, goal)
        };
        let destination = DestinationCache::fixed(destination());
        Reconciler {
            rules: &rules,
            destination: &destination,
            region: "us-east-1",
        }
        .reconcile(aws, group)
        .await
        .expect("the destination is usable")
    }

    #[tokio::test]
    async fn tags_are_read_once_by_arn_and_decide() {
        let aws = FakeAws::with_group(GROUP, vec![], 2);
        let mut listed = LogGroup::named(group());
        listed.arn = Some(crate::aws::fake::group_arn(GROUP));
        assert_eq!(
            with_tag_rules(&aws, &listed, Goal::Subscribe).await,
            Outcome::Skipped {
                reason: "carries none of the INCLUDE_TAGS tags (team=platform)".into()
            }
        );
        assert_eq!(
            aws.calls(),
            ["list-tags"],
            "no describe for an unselected group"
        );
        aws.set_tags(GROUP, &[("team", "platform")]);
        assert!(matches!(
            with_tag_rules(&aws, &listed, Goal::Subscribe).await,
            Outcome::Subscribed { .. }
        ));
        // Tags already read: not read again.
        let known = LogGroup {
            tags: KnownTags::Read([("team".to_owned(), "platform".to_owned())].into()),
            ..listed.clone()
        };
        let before = aws.calls().len();
        assert!(matches!(
            with_tag_rules(&aws, &known, Goal::Subscribe).await,
            Outcome::Unchanged { .. }
        ));
        assert!(!aws.calls()[before..].iter().any(|c| *c == "list-tags"));
        // Tags an event claims: a claim that selects the group is checked with AWS before the
        // write; one that leaves it out is taken, at no call.
        let other = LogGroupName::parse("/aws/lambda/other").expect("valid");
        aws.add_group(other.as_str(), vec![]);
        let claimed = |tags: &[(&str, &str)]| LogGroup {
            arn: Some(crate::aws::fake::group_arn(other.as_str())),
            tags: KnownTags::Claimed(
                tags.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..LogGroup::named(other.clone())
        };
        let before = aws.calls().len();
        assert!(
            matches!(
                with_tag_rules(&aws, &claimed(&[("team", "platform")]), Goal::Subscribe).await,
                Outcome::Skipped { .. }
            ),
            "the group itself carries no such tag"
        );
        assert_eq!(
            aws.calls()[before..],
            ["list-tags"],
            "read, and nothing written"
        );
        let before = aws.calls().len();
        assert!(matches!(
            with_tag_rules(&aws, &claimed(&[("team", "payments")]), Goal::Subscribe).await,
            Outcome::Skipped { .. }
        ));
        assert!(
            aws.calls()[before..].is_empty(),
            "a claim that leaves it out costs nothing"
        );
    }

    #[tokio::test]
    async fn a_failed_tag_read_touches_nothing() {
        let aws = FakeAws::with_group(GROUP, vec![], 2);
        let mut listed = LogGroup::named(group());
        assert!(
            matches!(
                with_tag_rules(&aws, &listed, Goal::Converge).await,
                Outcome::Failed {
                    retryable: false,
                    ..
                }
            ),
            "no ARN, no read"
        );
        listed.arn = Some(crate::aws::fake::group_arn(GROUP));
        aws.fail_nth(
            "list-tags",
            1,
            ApiError::RetriesExhausted {
                attempts: 3,
                last: "ThrottlingException".into(),
            },
        );
        let outcome = with_tag_rules(&aws, &listed, Goal::Converge).await;
        let Outcome::Failed { error, retryable } = outcome else {
            panic!("failed: {outcome:?}")
        };
        assert!(retryable, "a sweep tries it again");
        assert!(error.starts_with("reading its tags"), "{error}");
        assert_eq!(aws.calls(), ["list-tags"], "nothing described or written");
        let gone = LogGroup {
            arn: Some(crate::aws::fake::group_arn("/gone")),
            ..LogGroup::named(LogGroupName::parse("/gone").expect("valid"))
        };
        assert_eq!(
            with_tag_rules(&aws, &gone, Goal::Converge).await,
            Outcome::skipped(GONE)
        );
    }

    #[tokio::test]
    async fn a_group_re_tagged_while_ours_comes_off_gets_ours_back() {
        let aws = FakeAws::with_group(GROUP, vec![desired().to_filter()], 2);
        let mut listed = LogGroup::named(group());
        listed.arn = Some(crate::aws::fake::group_arn(GROUP));
        // Untagged: ours comes off. Meanwhile another invocation handles a re-tag and finds ours
        // still there (nothing to do); the tag lands while this one deletes.
        aws.retag_on_delete(GROUP, &[("team", "platform")]);
        assert_eq!(
            with_tag_rules(&aws, &listed, Goal::Retag).await,
            Outcome::Subscribed {
                removed: vec!["central-logging".into()]
            }
        );
        assert_eq!(aws.filter_names(GROUP), ["central-logging"]);
        assert_eq!(aws.count("list-tags"), 2, "read again after the write");
        // Untagged for good: ours stays off, at one more tag read.
        let aws = FakeAws::with_group(GROUP, vec![desired().to_filter()], 2);
        assert!(matches!(
            with_tag_rules(&aws, &listed, Goal::Retag).await,
            Outcome::Unsubscribed { .. }
        ));
        assert!(aws.filter_names(GROUP).is_empty());
        assert_eq!(aws.count("list-tags"), 2);
    }

    #[tokio::test]
    async fn a_same_account_destinations_own_logs_are_never_shipped_to_it() {
        let shipper = crate::names::DestinationArn::parse(
            "arn:aws:lambda:us-east-1:111111111111:function:shipper",
        )
        .expect("valid");
        let own_logs = "/aws/lambda/shipper";
        let aws = FakeAws::with_group(own_logs, vec![], 2);
        let to_shipper = DestinationCache::fixed(shipper.clone());
        let group = LogGroup {
            account: Some(AccountId::parse("111111111111").expect("valid")),
            ..LogGroup::named(LogGroupName::parse(own_logs).expect("valid"))
        };
        let reconcile = |goal| {
            let rules = rules(Replace, goal);
            let (aws, group, to_shipper) = (&aws, &group, &to_shipper);
            async move {
                Reconciler {
                    rules: &rules,
                    destination: to_shipper,
                    region: "us-east-1",
                }
                .reconcile(aws, group)
                .await
                .expect("usable")
            }
        };
        let outcome = reconcile(Goal::Subscribe).await;
        assert!(
            matches!(&outcome, Outcome::Skipped { reason } if reason.contains("ship every event it ships again")),
            "{outcome:?}"
        );
        assert!(aws.calls().is_empty(), "no describe, no write");
        // A filter of ours already there (from before the rule) comes off in a sweep.
        let ours = crate::filter::DesiredFilter {
            destination: shipper,
            ..desired()
        }
        .to_filter();
        aws.add_group(own_logs, vec![ours]);
        assert!(matches!(
            reconcile(Goal::Converge).await,
            Outcome::Unsubscribed { .. }
        ));
        assert!(aws.filter_names(own_logs).is_empty());
    }

    fn to_central(name: &str, excluded: &[&str]) -> crate::account_policy::AccountPolicy {
        crate::account_policy::AccountPolicy {
            name: name.into(),
            destination_arn: DEST.into(),
            filter_pattern: String::new(),
            excluded: excluded.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[tokio::test]
    async fn a_group_an_account_policy_ships_already_gets_no_filter_of_ours() {
        // A new group's event: left alone, at one DescribeAccountPolicies and nothing else.
        let aws = FakeAws::with_group(GROUP, vec![], 2);
        aws.add_policy(to_central("org-wide", &[]));
        let outcome = run(&aws, Replace).await;
        let Outcome::Covered { reason, removed } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            reason.contains("\"org-wide\"") && reason.contains("twice"),
            "{reason}"
        );
        assert!(removed.is_empty());
        assert_eq!(aws.calls(), vec!["describe-account-policies"]);
        assert!(aws.filter_names(GROUP).is_empty());

        // A sweep takes ours off a covered group, and nothing else.
        let aws = FakeAws::with_group(GROUP, vec![desired().to_filter(), foreign("shipper", 1)], 2);
        aws.add_policy(to_central("org-wide", &[]));
        let outcome = reconcile(&aws, &rules(Replace, Goal::Converge)).await;
        assert_eq!(outcome.removed(), ["central-logging"]);
        assert!(matches!(outcome, Outcome::Covered { .. }), "{outcome:?}");
        assert_eq!(aws.filter_names(GROUP), vec!["shipper"]);

        // A group the policy leaves out, or a policy to another destination: ours as before.
        for policy in [
            to_central("org-wide", &[GROUP]),
            crate::account_policy::AccountPolicy {
                destination_arn: OTHER.into(),
                ..to_central("to-shipper", &[])
            },
        ] {
            let aws = FakeAws::with_group(GROUP, vec![], 2);
            aws.add_policy(policy);
            assert_eq!(
                run(&aws, Replace).await,
                Outcome::Subscribed { removed: vec![] }
            );
        }
    }

    #[tokio::test]
    async fn the_account_policies_are_read_once_per_cache_and_a_failed_read_subscribes() {
        let aws = FakeAws::with_group(GROUP, vec![], 2);
        aws.add_group("/app/b", vec![]);
        aws.fail_nth(
            "describe-account-policies",
            1,
            ApiError::AccessDenied("not authorized to perform logs:DescribeAccountPolicies".into()),
        );
        aws.add_policy(to_central("org-wide", &[]));
        let destination = DestinationCache::fixed(destination());
        let rules = rules(Replace, Goal::Subscribe);
        let reconciler = Reconciler {
            rules: &rules,
            destination: &destination,
            region: "us-east-1",
        };
        for name in [GROUP, "/app/b"] {
            let group = LogGroup::named(LogGroupName::parse(name).expect("valid"));
            let outcome = reconciler.reconcile(&aws, &group).await.expect("usable");
            // Not known: ours goes in (a double delivery rather than a gap).
            assert_eq!(outcome, Outcome::Subscribed { removed: vec![] }, "{name}");
        }
        assert_eq!(aws.count("describe-account-policies"), 1);
    }

    fn regex(name: &str, pattern: &str) -> SubscriptionFilter {
        SubscriptionFilter {
            filter_pattern: pattern.into(),
            ..foreign(name, 1)
        }
    }

    /// Our filter with `pattern`, in `mode`.
    async fn run_with_pattern(aws: &FakeAws, mode: ExistingFilters, pattern: &str) -> Outcome {
        let mut rules = rules(mode, Goal::Subscribe);
        rules.filter.pattern = pattern.into();
        reconcile(aws, &rules).await
    }

    #[tokio::test]
    async fn a_used_up_regex_quota_is_not_a_full_group_and_nothing_is_evicted() {
        // One slot free, but the metric filters hold four regular expressions and the other
        // subscription filter one: ours, with one, would be the sixth.
        let aws = FakeAws::with_group(GROUP, vec![regex("shipper", "%ERROR%")], 2);
        aws.set_metric_patterns(GROUP, &["%a% %b%", "%c%", "%d%"]);
        for mode in [Replace, MakeRoom, Keep] {
            let outcome = run_with_pattern(&aws, mode, "%FATAL|PANIC%").await;
            let Outcome::Failed { error, retryable } = &outcome else {
                panic!("{mode:?}: {outcome:?}")
            };
            assert!(error.starts_with(REGEX_QUOTA_USED), "{error}");
            assert!(
                error.contains("hold 5") && error.contains("adds 1"),
                "{error}"
            );
            assert!(!retryable);
            assert_eq!(aws.filter_names(GROUP), vec!["shipper"], "{mode:?}");
        }
        assert_eq!(aws.count("delete shipper"), 0, "nothing evicted");
        assert_eq!(aws.count("describe-metric-filters"), 3);

        // Room for ours: a full group is a full group, as before.
        let aws = FakeAws::with_group(GROUP, vec![regex("shipper", "%ERROR%")], 1);
        aws.set_metric_patterns(GROUP, &["%a%"]);
        let outcome = run_with_pattern(&aws, MakeRoom, "%FATAL%").await;
        assert_eq!(
            outcome,
            Outcome::Subscribed {
                removed: vec!["shipper".into()]
            }
        );

        // Without a regular expression in ours, a quota answer is the group being full, at no
        // extra call.
        let aws = FakeAws::with_group(GROUP, vec![foreign("shipper", 1)], 1);
        assert_eq!(
            run_with_pattern(&aws, Keep, "ERROR").await,
            Outcome::skipped(NO_FREE_SLOT)
        );
        assert_eq!(aws.count("describe-metric-filters"), 0);
    }

    #[tokio::test]
    async fn when_the_regex_count_cannot_be_read_nothing_is_evicted() {
        let aws = FakeAws::with_group(GROUP, vec![regex("shipper", "%ERROR%")], 1);
        aws.fail_nth(
            "describe-metric-filters",
            1,
            ApiError::AccessDenied("logs:DescribeMetricFilters".into()),
        );
        let outcome = run_with_pattern(&aws, Replace, "%FATAL%").await;
        let error = outcome.reason().unwrap_or_default();
        assert!(error.contains("nothing was removed"), "{outcome:?}");
        assert_eq!(aws.filter_names(GROUP), vec!["shipper"]);
    }
}
