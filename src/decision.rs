//! Whether a log group should hold our filter: from what is known of the group before any call
//! (its name, class and account) and the rules of the run, one [`Decision`]. Pure, so every case
//! is a row of the table test below; [`crate::reconcile`] carries the decision out, with
//! [`crate::plan`] for the writes. The function's events and every sweep decide here, and only here.

use crate::aws::LogGroupInfo;
use crate::names::{AccountId, Arn, LogGroupName};
use crate::selection::{Selection, Tags};

/// What is known of one log group before its filters are described: from a CloudTrail event, or
/// from DescribeLogGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    pub name: LogGroupName,
    /// `STANDARD`, `INFREQUENT_ACCESS`, `DELIVERY`; `None` when AWS does not say (then STANDARD).
    pub class: Option<String>,
    /// The account the group belongs to, to name in an access-denied message.
    pub account: Option<AccountId>,
    /// When the group was created, epoch milliseconds, when known.
    pub created_ms: Option<u64>,
    /// The group's ARN, to read its tags with (with or without DescribeLogGroups' trailing `:*`).
    pub arn: Option<String>,
    /// Its tags, when known: from a CreateLogGroup event's `tags`, or read when the tag rules ask.
    pub tags: Option<Tags>,
}

impl LogGroup {
    pub fn named(name: LogGroupName) -> Self {
        Self {
            name,
            class: None,
            account: None,
            created_ms: None,
            arn: None,
            tags: None,
        }
    }

    /// The ARN ListTagsForResource takes: without the `:*` DescribeLogGroups appends, which that
    /// API rejects.
    pub fn tagging_arn(&self) -> Option<&str> {
        self.arn
            .as_deref()
            .map(|arn| arn.strip_suffix(":*").unwrap_or(arn))
    }

    /// A group as DescribeLogGroups lists it; `Err` with the reason to skip it when its name is
    /// not one CloudWatch Logs allows (never seen, but not trusted either).
    pub fn from_listing(info: &LogGroupInfo) -> Result<Self, String> {
        let name = LogGroupName::parse(&info.name).map_err(|e| e.to_string())?;
        let account = info
            .arn
            .as_deref()
            .and_then(|a| Arn::parse(a).ok())
            .and_then(|a| a.account_id());
        Ok(Self {
            name,
            class: info.class.clone(),
            account,
            created_ms: info.created_ms,
            arn: info.arn.clone(),
            tags: None,
        })
    }
}

/// What a run wants for the groups it visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Subscribe the selected groups; leave the others alone (a new group's event, `backfill`).
    Subscribe,
    /// Subscribe the selected groups, and take our filter off those no longer selected (a sweep:
    /// narrowing `INCLUDE` or widening `EXCLUDE` cleans up after itself).
    Converge,
    /// Take our filter off the selected groups, and nothing else (the stack's removal, with every
    /// group selected; or `backfill --remove`).
    Remove,
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
}

/// Decides what `goal` means for `group` under `selection`; with `created_after_ms` (a
/// recent-groups sweep), groups known to be older are not checked at all. With tag rules, a
/// group whose name passes and whose tags are unknown gets [`Decision::ReadTags`].
pub fn decide(
    group: &LogGroup,
    selection: &Selection,
    goal: Goal,
    created_after_ms: Option<u64>,
) -> Decision {
    if let Some(class) = group.class.as_deref().filter(|c| *c != "STANDARD") {
        return Decision::Skip {
            reason: format!("log group class {class} cannot have subscription filters"),
        };
    }
    if let (Some(after), Some(created)) = (created_after_ms, group.created_ms)
        && created < after
    {
        return Decision::NotChecked;
    }
    let selected = match (selection.check(&group.name), &group.tags) {
        (Ok(()), _) if !selection.has_tag_rules() => Ok(()),
        (Ok(()), None) => return Decision::ReadTags,
        (Ok(()), Some(tags)) => selection.check_tags(tags),
        (Err(reason), _) => Err(reason),
    };
    match (goal, selected) {
        (Goal::Subscribe | Goal::Converge, Ok(())) => Decision::Subscribe,
        (Goal::Remove, Ok(())) => Decision::Unsubscribe { unselected: None },
        (Goal::Converge, Err(reason)) => Decision::Unsubscribe {
            unselected: Some(reason),
        },
        (Goal::Subscribe | Goal::Remove, Err(reason)) => Decision::Skip { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Goal::{Converge, Remove, Subscribe};

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
        ];
        for (name, class, goal, expected) in rows {
            let got = match decide(&group(name, class), &selection, goal, None) {
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
        ];
        for (group, window, goal, expected) in rows {
            assert_eq!(
                decide(&group, &selection, goal, window),
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
            decide(&ia, &selection, Converge, window),
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
            tags: tags.map(|t| {
                t.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
            ..group(name, None)
        };
        let platform: &[(&str, &str)] = &[("team", "platform")];
        let noisy: &[(&str, &str)] = &[("team", "platform"), ("noisy", "1")];
        let rows = [
            // Tags unknown: read them, whatever the goal.
            (tagged("/app/a", None), Subscribe, Decision::ReadTags),
            (tagged("/app/a", None), Converge, Decision::ReadTags),
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
        ];
        for (group, goal, expected) in rows {
            assert_eq!(
                decide(&group, &selection, goal, None),
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
            decide(&old, &selection, Converge, Some(1_000)),
            Decision::NotChecked
        );
    }

    #[test]
    fn tagging_arn_drops_the_listing_suffix() {
        let mut group = group("/app/a", None);
        assert_eq!(group.tagging_arn(), None);
        group.arn = Some("arn:aws:logs:us-east-1:111111111111:log-group:/app/a:*".into());
        assert_eq!(
            group.tagging_arn(),
            Some("arn:aws:logs:us-east-1:111111111111:log-group:/app/a")
        );
        group.arn = Some("arn:aws:logs:us-east-1:111111111111:log-group:/app/a".into());
        assert_eq!(
            group.tagging_arn(),
            Some("arn:aws:logs:us-east-1:111111111111:log-group:/app/a")
        );
    }

    #[test]
    fn a_listed_group_carries_its_account_and_class() {
        let info = LogGroupInfo {
            name: "/app/orders".into(),
            class: Some("STANDARD".into()),
            arn: Some("arn:aws:logs:us-east-1:111111111111:log-group:/app/orders:*".into()),
            created_ms: Some(1_700_000_000_000),
        };
        let group = LogGroup::from_listing(&info).expect("a valid name");
        assert_eq!(
            group.account.as_ref().map(AccountId::as_str),
            Some("111111111111")
        );
        assert_eq!(group.class.as_deref(), Some("STANDARD"));
        assert_eq!(group.created_ms, Some(1_700_000_000_000));
        let bad = LogGroupInfo {
            name: "has space".into(),
            ..info
        };
        assert!(LogGroup::from_listing(&bad).is_err());
    }
}
