//! Every rule about one log group, in two pure functions: [`decide`], from what is known of the
//! group before any call (its name, class, creation time, tags) and the [`Rules`] of the run, one
//! [`Decision`]; and [`settle`], from what the group's writes met, the [`Outcome`] the rules give
//! it. Pure, so every case is a row of the tables below; [`crate::reconcile`] carries the decision
//! out, with [`crate::plan`] for the writes. The function's events and every sweep decide here, and
//! only here.

use crate::account_policy::{AccountPolicy, covering};
use crate::filter::FilterSpec;
use crate::group::{KnownTags, LogGroup};
use crate::names::DestinationArn;
use crate::outcome::{NO_FREE_SLOT, Outcome};
use crate::plan::ExistingFilters;
use crate::selection::Selection;
use crate::settings::Settings;

/// What a run wants for the groups it visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Subscribe the selected groups; leave the others alone (a new group's event, `backfill`).
    Subscribe,
    /// Subscribe the selected groups, and take our filter off those no longer selected (a sweep:
    /// narrowing `INCLUDE` or widening `EXCLUDE` cleans up after itself).
    Converge,
    /// A group whose tags changed: converged under the tag rules. Without tag rules its tags do
    /// not matter, and it is skipped at no call.
    Retag,
    /// Take our filter off the selected groups, and nothing else (`backfill --remove`).
    Remove,
    /// The stack's removal: our filter off every group, whatever the selection and the window say.
    Teardown,
}

/// The reason a tag change is skipped when no tag rule is set.
pub const NO_TAG_RULES: &str =
    "its tags changed, and no tag rule (INCLUDE_TAGS, EXCLUDE_TAGS) is set";

/// The rules of one run (a backfill, a sweep slice, an event): built once, asked for every group.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Our filter, but for its destination.
    pub filter: FilterSpec,
    pub mode: ExistingFilters,
    /// Which groups are ours.
    pub selection: Selection,
    pub goal: Goal,
    /// A recent-groups sweep's window: groups created before this instant (epoch milliseconds)
    /// are not checked.
    pub created_after_ms: Option<u64>,
    /// Plan and report, but write nothing.
    pub dry_run: bool,
}

impl Rules {
    /// The settings' rules towards `goal`, over every group (no window), writing.
    pub fn new(settings: &Settings, goal: Goal) -> Self {
        Self {
            filter: settings.filter.clone(),
            mode: settings.existing_filters,
            selection: settings.selection.clone(),
            goal,
            created_after_ms: None,
            dry_run: false,
        }
    }

    /// Only groups created at or after `created_after_ms` (epoch milliseconds) are checked.
    pub fn within(self, created_after_ms: Option<u64>) -> Self {
        Self {
            created_after_ms,
            ..self
        }
    }

    /// Plan and report only.
    pub fn dry_run(self, dry_run: bool) -> Self {
        Self { dry_run, ..self }
    }

    /// The prefix DescribeLogGroups may be narrowed to: only when groups outside the selection
    /// need no visit (a converging sweep must see them to take our filter off, a teardown sees
    /// every group).
    pub fn listing_prefix(&self) -> Option<String> {
        match self.goal {
            Goal::Subscribe | Goal::Remove => self.selection.literal_prefix(),
            Goal::Converge | Goal::Retag | Goal::Teardown => None,
        }
    }
}

/// What to do with one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Describe its filters and plan ours in.
    Subscribe,
    /// Describe its filters and take ours off. `unselected` says why the group is not selected: a
    /// group holding nothing of ours is then skipped for that reason. `None` for a removal.
    Unsubscribe { unselected: Option<String> },
    /// Leave it alone, at no AWS call.
    Skip { reason: String },
    /// Left out of a recent-groups sweep (created before its window), at no AWS call.
    NotChecked,
    /// The name is selected and tag rules are set, but the group's tags are not known yet: read
    /// them (one ListTagsForResource) and decide again.
    ReadTags,
    /// An account-level subscription filter policy ships the group to the destination already
    /// (`reason` names it): ours is not put, and with `take_ours_off` (a sweep) it is taken off.
    Covered { reason: String, take_ours_off: bool },
}

/// Decides what the rules mean for `group`; with a window (a recent-groups sweep), groups known
/// to be older are not checked at all. With tag rules, a group whose name passes and whose tags
/// are unknown, or only claimed by an event, gets [`Decision::ReadTags`] (a claim that leaves a
/// new group out is taken: that costs no write).
pub fn decide(group: &LogGroup, rules: &Rules) -> Decision {
    let selection = &rules.selection;
    if rules.goal == Goal::Retag && !selection.has_tag_rules() {
        return Decision::Skip {
            reason: NO_TAG_RULES.into(),
        };
    }
    if let Some(class) = group.class.as_deref().filter(|c| *c != "STANDARD") {
        return Decision::Skip {
            reason: format!("log group class {class} cannot have subscription filters"),
        };
    }
    if rules.goal == Goal::Teardown {
        return Decision::Unsubscribe { unselected: None };
    }
    if let (Some(after), Some(created)) = (rules.created_after_ms, group.created_ms)
        && created < after
    {
        return Decision::NotChecked;
    }
    let selected = match (selection.check(&group.name), &group.tags) {
        (Ok(()), _) if !selection.has_tag_rules() => Ok(()),
        (Ok(()), KnownTags::Unknown) => return Decision::ReadTags,
        (Ok(()), KnownTags::Read(tags)) => selection.check_tags(tags),
        // An event's word may spare a new group a call (it is left alone, and a sweep checks it
        // again), but what would write is checked with AWS first.
        (Ok(()), KnownTags::Claimed(tags)) => match selection.check_tags(tags) {
            Err(reason) if rules.goal == Goal::Subscribe => return Decision::Skip { reason },
            _ => return Decision::ReadTags,
        },
        (Err(reason), _) => Err(reason),
    };
    match (rules.goal, selected) {
        (Goal::Subscribe | Goal::Converge | Goal::Retag, Ok(())) => Decision::Subscribe,
        (Goal::Remove | Goal::Teardown, Ok(())) => Decision::Unsubscribe { unselected: None },
        (Goal::Converge | Goal::Retag, Err(reason)) => Decision::Unsubscribe {
            unselected: Some(reason),
        },
        (Goal::Subscribe | Goal::Remove | Goal::Teardown, Err(reason)) => Decision::Skip { reason },
    }
}

/// `decision` for `group` once the destination is known: a group that holds the destination's own
/// logs (a same-account Lambda function's, a Firehose stream's error logs) is never subscribed,
/// since every event it ships would make more events to ship (AWS's "log recursion"), and a sweep
/// takes ours off it.
pub fn against_destination(
    decision: Decision,
    group: &LogGroup,
    destination: &DestinationArn,
    rules: &Rules,
) -> Decision {
    let same_account = group
        .account
        .as_ref()
        .is_none_or(|account| account == destination.account());
    let feeds_back = same_account
        && destination
            .own_log_groups()
            .iter()
            .any(|own| own == group.name.as_str());
    if !feeds_back || decision != Decision::Subscribe {
        return decision;
    }
    let reason = format!(
        "it holds the logs of the destination {destination} itself: subscribing it would ship every \
         event it ships again"
    );
    match rules.goal {
        Goal::Converge | Goal::Retag => Decision::Unsubscribe {
            unselected: Some(reason),
        },
        Goal::Subscribe | Goal::Remove | Goal::Teardown => Decision::Skip { reason },
    }
}

/// `decision` for `group` once the account's subscription filter policies are known: a group a
/// policy ships to the same destination gets no filter of ours (it would ship every event twice),
/// and a sweep takes ours off it. A policy to another destination changes nothing.
pub fn against_account_policy(
    decision: Decision,
    group: &LogGroup,
    policies: &[AccountPolicy],
    destination: &DestinationArn,
    rules: &Rules,
) -> Decision {
    if decision != Decision::Subscribe {
        return decision;
    }
    let Some(policy) = covering(policies, &group.name, destination.as_str()) else {
        return decision;
    };
    let reason = format!(
        "the account-level subscription filter policy {:?} ships it to {destination} already \
         (pattern {:?}): a filter of ours would ship every event twice",
        policy.name, policy.filter_pattern
    );
    Decision::Covered {
        reason,
        take_ours_off: matches!(rules.goal, Goal::Converge | Goal::Retag),
    }
}

/// What a group's writes met, for [`settle`] to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The writes ended with this outcome, as the writer sees it: `Unchanged` when nothing of the
    /// plan had to be written (or, for a removal, only the filters it lists came off).
    Done(Outcome),
    /// Ours could not be put: the group is full and no other filter may go. `note` says what could
    /// not be put back, if anything.
    Full { note: String },
}

/// The outcome the rules give a group whose writes met `written`, after `decision`: a full group
/// is skipped in `keep` mode (it is the user's choice) and a failure otherwise; a removal that took
/// filters off unsubscribed the group; an unselected group holding nothing of ours is skipped for
/// the reason it is not selected.
pub fn settle(decision: &Decision, rules: &Rules, written: Written) -> Outcome {
    match (written, decision) {
        (Written::Full { note }, _) if rules.mode == ExistingFilters::Keep => {
            Outcome::skipped(format!("{NO_FREE_SLOT}{note}"))
        }
        (Written::Full { note }, _) => Outcome::Failed {
            error: format!(
                "the group is full and no other filter may be removed to make room{note}"
            ),
            retryable: false,
        },
        (Written::Done(Outcome::Unchanged { removed }), Decision::Unsubscribe { unselected })
            if removed.is_empty() =>
        {
            match unselected {
                Some(reason) => Outcome::skipped(reason.clone()),
                None => Outcome::Unchanged { removed },
            }
        }
        (Written::Done(Outcome::Unchanged { removed }), Decision::Unsubscribe { .. }) => {
            Outcome::Unsubscribed { removed }
        }
        (
            Written::Done(Outcome::Unchanged { removed } | Outcome::Unsubscribed { removed }),
            Decision::Covered { reason, .. },
        ) => Outcome::Covered {
            reason: reason.clone(),
            removed,
        },
        (Written::Done(outcome), _) => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::spec;
    use crate::names::LogGroupName;
    use Goal::{Converge, Remove, Retag, Subscribe, Teardown};

    fn rules(selection: &Selection, goal: Goal, created_after_ms: Option<u64>) -> Rules {
        Rules {
            filter: spec(),
            mode: ExistingFilters::Replace,
            selection: selection.clone(),
            goal,
            created_after_ms,
            dry_run: false,
        }
    }

    fn group(name: &str, class: Option<&str>) -> LogGroup {
        LogGroup {
            class: class.map(str::to_owned),
            ..LogGroup::named(LogGroupName::parse(name).expect("valid"))
        }
    }

    /// What each row expects: the decision's kind, and a part of its reason.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        Subscribe,
        Unsubscribe(Option<&'static str>),
        Skip(&'static str),
    }

    #[test]
    fn table() {
        let selection =
            Selection::new(&["/app/*".into()], &["/app/noisy/*".into()]).expect("valid globs");
        let excluded = "excluded by EXCLUDE glob \"/app/noisy/*\"";
        let not_included = "not matched by INCLUDE (/app/*)";
        let ia = "log group class INFREQUENT_ACCESS cannot have subscription filters";
        let rows: Vec<(&str, Option<&str>, Goal, Expect)> = vec![
            ("/app/orders", None, Subscribe, Expect::Subscribe),
            (
                "/app/orders",
                Some("STANDARD"),
                Subscribe,
                Expect::Subscribe,
            ),
            ("/app/orders", None, Converge, Expect::Subscribe),
            ("/app/orders", None, Remove, Expect::Unsubscribe(None)),
            ("/app/noisy/x", None, Subscribe, Expect::Skip(excluded)),
            (
                "/app/noisy/x",
                None,
                Converge,
                Expect::Unsubscribe(Some(excluded)),
            ),
            ("/app/noisy/x", None, Remove, Expect::Skip(excluded)),
            ("/other", None, Subscribe, Expect::Skip(not_included)),
            (
                "/other",
                None,
                Converge,
                Expect::Unsubscribe(Some(not_included)),
            ),
            ("/other", None, Remove, Expect::Skip(not_included)),
            // A class that cannot hold filters is skipped whatever the goal and selection.
            (
                "/app/orders",
                Some("INFREQUENT_ACCESS"),
                Subscribe,
                Expect::Skip(ia),
            ),
            (
                "/app/orders",
                Some("INFREQUENT_ACCESS"),
                Converge,
                Expect::Skip(ia),
            ),
            (
                "/app/orders",
                Some("INFREQUENT_ACCESS"),
                Remove,
                Expect::Skip(ia),
            ),
            (
                "/other",
                Some("DELIVERY"),
                Converge,
                Expect::Skip("log group class DELIVERY cannot"),
            ),
            // The stack's removal takes ours off every group, whatever the selection says...
            ("/app/orders", None, Teardown, Expect::Unsubscribe(None)),
            ("/app/noisy/x", None, Teardown, Expect::Unsubscribe(None)),
            ("/other", None, Teardown, Expect::Unsubscribe(None)),
            // ...but a class that cannot hold filters holds none of ours either.
            (
                "/app/orders",
                Some("INFREQUENT_ACCESS"),
                Teardown,
                Expect::Skip(ia),
            ),
            // Without tag rules, a tag change decides nothing, whatever the group.
            ("/app/orders", None, Retag, Expect::Skip(NO_TAG_RULES)),
            ("/other", None, Retag, Expect::Skip(NO_TAG_RULES)),
            (
                "/app/orders",
                Some("INFREQUENT_ACCESS"),
                Retag,
                Expect::Skip(NO_TAG_RULES),
            ),
        ];
        for (name, class, goal, expected) in rows {
            let got = match decide(&group(name, class), &rules(&selection, goal, None)) {
                Decision::Subscribe => Expect::Subscribe,
                Decision::Unsubscribe { unselected: None } => Expect::Unsubscribe(None),
                Decision::Unsubscribe {
                    unselected: Some(reason),
                } => {
                    let Expect::Unsubscribe(Some(part)) = expected else {
                        panic!("{name} {class:?} {goal:?}: unexpected unsubscribe ({reason})")
                    };
                    assert!(reason.contains(part), "{name} {goal:?}: {reason}");
                    expected
                }
                Decision::Skip { reason } => {
                    let Expect::Skip(part) = expected else {
                        panic!("{name} {class:?} {goal:?}: unexpected skip ({reason})")
                    };
                    assert!(reason.contains(part), "{name} {goal:?}: {reason}");
                    expected
                }
                Decision::NotChecked => panic!("{name}: not checked without a window"),
                Decision::ReadTags => panic!("{name}: no tag rules, no tag read"),
                Decision::Covered { .. } => panic!("{name}: policies are judged later"),
            };
            assert_eq!(got, expected, "{name} {class:?} {goal:?}");
        }
    }

    #[test]
    fn a_recent_groups_sweep_checks_only_groups_created_in_its_window() {
        let selection = Selection::new(&["/app/*".into()], &[]).expect("valid globs");
        let at = |name: &str, created_ms: Option<u64>| LogGroup {
            created_ms,
            ..group(name, None)
        };
        let window = Some(1_000);
        let rows = [
            // (group, window, goal, decision)
            (
                at("/app/new", Some(1_000)),
                window,
                Converge,
                Decision::Subscribe,
            ),
            (
                at("/app/old", Some(999)),
                window,
                Converge,
                Decision::NotChecked,
            ),
            // An old group outside the selection keeps our filter until a full sweep.
            (
                at("/other", Some(5)),
                window,
                Converge,
                Decision::NotChecked,
            ),
            // Unknown creation time: checked, to be safe.
            (
                at("/app/unknown", None),
                window,
                Converge,
                Decision::Subscribe,
            ),
            // A full sweep checks every group.
            (
                at("/app/old", Some(999)),
                None,
                Converge,
                Decision::Subscribe,
            ),
            (
                at("/app/old", Some(999)),
                window,
                Subscribe,
                Decision::NotChecked,
            ),
            // The stack's removal has no window.
            (
                at("/app/old", Some(999)),
                window,
                Teardown,
                Decision::Unsubscribe { unselected: None },
            ),
        ];
        for (group, window, goal, expected) in rows {
            assert_eq!(
                decide(&group, &rules(&selection, goal, window)),
                expected,
                "{group:?} {window:?}"
            );
        }
        // A class that cannot hold filters is a skip, in or out of the window.
        let ia = LogGroup {
            created_ms: Some(1),
            ..group("/app/ia", Some("INFREQUENT_ACCESS"))
        };
        assert!(matches!(
            decide(&ia, &rules(&selection, Converge, window)),
            Decision::Skip { .. }
        ));
    }

    #[test]
    fn tag_rules_read_tags_only_for_groups_whose_name_passes() {
        use crate::selection::TagRules;
        let selection = Selection::new(&["/app/*".into()], &[])
            .expect("valid globs")
            .with_tags(
                TagRules::new(&["team=platform".into()], &["noisy".into()]).expect("valid rules"),
            );
        let tagged = |name: &str, tags: Option<&[(&str, &str)]>| LogGroup {
            tags: tags.map_or(KnownTags::Unknown, |t| {
                KnownTags::Read(
                    t.iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                )
            }),
            ..group(name, None)
        };
        let platform: &[(&str, &str)] = &[("team", "platform")];
        let noisy: &[(&str, &str)] = &[("team", "platform"), ("noisy", "1")];
        let rows = [
            // Tags unknown: read them, whatever the goal.
            (tagged("/app/a", None), Subscribe, Decision::ReadTags),
            (tagged("/app/a", None), Converge, Decision::ReadTags),
            (tagged("/app/a", None), Retag, Decision::ReadTags),
            (tagged("/app/a", None), Remove, Decision::ReadTags),
            // The name decides first: no tag read for a group it leaves out.
            (
                tagged("/other", None),
                Subscribe,
                Decision::Skip {
                    reason: "not matched by INCLUDE (/app/*)".into(),
                },
            ),
            (
                tagged("/other", None),
                Converge,
                Decision::Unsubscribe {
                    unselected: Some("not matched by INCLUDE (/app/*)".into()),
                },
            ),
            // Tags known.
            (
                tagged("/app/a", Some(platform)),
                Converge,
                Decision::Subscribe,
            ),
            (
                tagged("/app/a", Some(noisy)),
                Converge,
                Decision::Unsubscribe {
                    unselected: Some("excluded by EXCLUDE_TAGS tag \"noisy\"".into()),
                },
            ),
            (
                tagged("/app/a", Some(&[])),
                Subscribe,
                Decision::Skip {
                    reason: "carries none of the INCLUDE_TAGS tags (team=platform)".into(),
                },
            ),
            (
                tagged("/app/a", Some(platform)),
                Remove,
                Decision::Unsubscribe { unselected: None },
            ),
            // A tag change converges: in, subscribed; out, ours taken off.
            (tagged("/app/a", Some(platform)), Retag, Decision::Subscribe),
            (
                tagged("/app/a", Some(noisy)),
                Retag,
                Decision::Unsubscribe {
                    unselected: Some("excluded by EXCLUDE_TAGS tag \"noisy\"".into()),
                },
            ),
            // The stack's removal reads no tags.
            (
                tagged("/app/a", None),
                Teardown,
                Decision::Unsubscribe { unselected: None },
            ),
        ];
        for (group, goal, expected) in rows {
            assert_eq!(
                decide(&group, &rules(&selection, goal, None)),
                expected,
                "{group:?} {goal:?}"
            );
        }
        // Old groups of a recent-groups sweep cost no tag read either.
        let old = LogGroup {
            created_ms: Some(1),
            ..tagged("/app/old", None)
        };
        assert_eq!(
            decide(&old, &rules(&selection, Converge, Some(1_000))),
            Decision::NotChecked
        );
    }

    #[test]
    fn settle_says_what_the_writes_came_to() {
        use ExistingFilters::{Keep, MakeRoom, Replace};
        let unselected = || Decision::Unsubscribe {
            unselected: Some("excluded by EXCLUDE glob \"/x/*\"".into()),
        };
        let removal = || Decision::Unsubscribe { unselected: None };
        let full = |note: &str| Written::Full { note: note.into() };
        let done = Written::Done;
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let unchanged = |n: &[&str]| Outcome::Unchanged { removed: names(n) };
        let lost = "; and could not put back \"shipper\"";
        let full_error = "the group is full and no other filter may be removed to make room";
        let rows: Vec<(Decision, ExistingFilters, Written, Outcome)> = vec![
            // A full group is the user's choice in keep mode, a failure where we may make room.
            (
                Decision::Subscribe,
                Keep,
                full(""),
                Outcome::skipped(NO_FREE_SLOT),
            ),
            (
                Decision::Subscribe,
                Keep,
                full(lost),
                Outcome::skipped(format!("{NO_FREE_SLOT}{lost}")),
            ),
            (
                Decision::Subscribe,
                Replace,
                full(""),
                Outcome::failed(full_error, false),
            ),
            (
                Decision::Subscribe,
                MakeRoom,
                full(lost),
                Outcome::failed(format!("{full_error}{lost}"), false),
            ),
            // What the writes came to otherwise stands.
            (
                Decision::Subscribe,
                Replace,
                done(Outcome::Subscribed {
                    removed: names(&["shipper"]),
                }),
                Outcome::Subscribed {
                    removed: names(&["shipper"]),
                },
            ),
            (
                Decision::Subscribe,
                Replace,
                done(unchanged(&["Destination"])),
                unchanged(&["Destination"]),
            ),
            // A removal that took ours off unsubscribed the group, selected or not.
            (
                removal(),
                Replace,
                done(unchanged(&["central-logging"])),
                Outcome::Unsubscribed {
                    removed: names(&["central-logging"]),
                },
            ),
            (
                unselected(),
                Keep,
                done(unchanged(&["central-logging"])),
                Outcome::Unsubscribed {
                    removed: names(&["central-logging"]),
                },
            ),
            // Nothing of ours to take off: an unselected group is skipped for its reason.
            (removal(), Replace, done(unchanged(&[])), unchanged(&[])),
            (
                unselected(),
                Replace,
                done(unchanged(&[])),
                Outcome::skipped("excluded by EXCLUDE glob \"/x/*\""),
            ),
            (
                unselected(),
                Replace,
                done(Outcome::failed(
                    "describing its subscription filters: x",
                    true,
                )),
                Outcome::failed("describing its subscription filters: x", true),
            ),
        ];
        let selection = Selection::new(&[], &[]).expect("valid");
        for (decision, mode, written, expected) in rows {
            let rules = Rules {
                mode,
                ..rules(&selection, Converge, None)
            };
            let case = format!("{decision:?} {mode:?} {written:?}");
            assert_eq!(settle(&decision, &rules, written), expected, "{case}");
        }
    }

    #[test]
    fn a_destinations_own_log_groups_are_never_subscribed() {
        let selection = Selection::new(&[], &[]).expect("valid");
        let lambda =
            DestinationArn::parse("arn:aws:lambda:us-east-1:111111111111:function:shipper:live")
                .expect("valid");
        let firehose =
            DestinationArn::parse("arn:aws:firehose:us-east-1:111111111111:deliverystream/to-siem")
                .expect("valid");
        let central = crate::fixtures::destination();
        let in_account = |name: &str, account: &str| LogGroup {
            account: Some(crate::names::AccountId::parse(account).expect("valid")),
            ..group(name, None)
        };
        let ours = "111111111111";
        let rows = [
            // (group, destination, goal, loops)
            (
                in_account("/aws/lambda/shipper", ours),
                &lambda,
                Subscribe,
                true,
            ),
            (
                in_account("/aws/lambda/shipper", ours),
                &lambda,
                Converge,
                true,
            ),
            (
                in_account("/aws/kinesisfirehose/to-siem", ours),
                &firehose,
                Subscribe,
                true,
            ),
            (
                in_account("/aws/lambda/shipper-two", ours),
                &lambda,
                Subscribe,
                false,
            ),
            (
                in_account("/aws/lambda/shipper", "222222222222"),
                &lambda,
                Subscribe,
                false,
            ),
            (
                in_account("/aws/lambda/shipper", ours),
                &central,
                Subscribe,
                false,
            ),
        ];
        for (group, destination, goal, loops) in rows {
            let rules = rules(&selection, goal, None);
            let got = against_destination(Decision::Subscribe, &group, destination, &rules);
            let expected = match (loops, goal) {
                (false, _) => Decision::Subscribe,
                (true, Converge) => Decision::Unsubscribe {
                    unselected: Some(format!(
                        "it holds the logs of the destination {destination} itself: subscribing it \
                         would ship every event it ships again"
                    )),
                },
                (true, _) => Decision::Skip {
                    reason: format!(
                        "it holds the logs of the destination {destination} itself: subscribing it \
                         would ship every event it ships again"
                    ),
                },
            };
            assert_eq!(got, expected, "{} {goal:?}", group.name);
        }
        // Only a subscription is turned away: a removal stays a removal.
        let removal = Decision::Unsubscribe { unselected: None };
        let rules = rules(&selection, Teardown, None);
        let own = in_account("/aws/lambda/shipper", ours);
        assert_eq!(
            against_destination(removal.clone(), &own, &lambda, &rules),
            removal
        );
    }

    #[test]
    fn a_group_an_account_policy_ships_to_the_destination_gets_no_filter_of_ours() {
        use crate::account_policy::AccountPolicy;
        let selection = Selection::new(&[], &[]).expect("valid");
        let central = crate::fixtures::destination();
        let policy = |name: &str, to: &str, excluded: &[&str]| AccountPolicy {
            name: name.into(),
            destination_arn: to.into(),
            filter_pattern: String::new(),
            excluded: excluded.iter().map(|s| (*s).to_owned()).collect(),
        };
        let siem = "arn:aws:firehose:us-east-1:111111111111:deliverystream/siem";
        let to_us = [policy("to-central", central.as_str(), &["/app/special"])];
        let to_siem = [policy("to-siem", siem, &[])];
        let covered = |take_ours_off| Decision::Covered {
            reason: format!(
                "the account-level subscription filter policy \"to-central\" ships it to {central} \
                 already (pattern \"\"): a filter of ours would ship every event twice"
            ),
            take_ours_off,
        };
        let rows: Vec<(&str, &[AccountPolicy], Goal, Decision, Decision)> = vec![
            // (group, policies, goal, decision before, after)
            (
                "/app/a",
                &to_us,
                Subscribe,
                Decision::Subscribe,
                covered(false),
            ),
            (
                "/app/a",
                &to_us,
                Converge,
                Decision::Subscribe,
                covered(true),
            ),
            ("/app/a", &to_us, Retag, Decision::Subscribe, covered(true)),
            // The policy leaves the group out: ours is needed.
            (
                "/app/special",
                &to_us,
                Converge,
                Decision::Subscribe,
                Decision::Subscribe,
            ),
            // A policy to another destination coexists with ours.
            (
                "/app/a",
                &to_siem,
                Converge,
                Decision::Subscribe,
                Decision::Subscribe,
            ),
            (
                "/app/a",
                &[],
                Subscribe,
                Decision::Subscribe,
                Decision::Subscribe,
            ),
            // Only a subscription is judged: a removal stays a removal.
            (
                "/app/a",
                &to_us,
                Teardown,
                Decision::Unsubscribe { unselected: None },
                Decision::Unsubscribe { unselected: None },
            ),
        ];
        for (name, policies, goal, before, expected) in rows {
            let got = against_account_policy(
                before,
                &group(name, None),
                policies,
                &central,
                &rules(&selection, goal, None),
            );
            assert_eq!(got, expected, "{name} {goal:?}");
        }
        // What the writes come to: ours taken off (or never there) is a covered group.
        let reason = "covered".to_owned();
        let decision = Decision::Covered {
            reason: reason.clone(),
            take_ours_off: true,
        };
        let rules = rules(&selection, Converge, None);
        for (written, removed) in [
            (Outcome::Unchanged { removed: vec![] }, vec![]),
            (
                Outcome::Unchanged {
                    removed: vec!["central-logging".into()],
                },
                vec!["central-logging".to_owned()],
            ),
        ] {
            assert_eq!(
                settle(&decision, &rules, Written::Done(written)),
                Outcome::Covered {
                    reason: reason.clone(),
                    removed
                }
            );
        }
        let failure = Outcome::failed("removing filter: x", true);
        assert_eq!(
            settle(&decision, &rules, Written::Done(failure.clone())),
            failure
        );
    }
}
