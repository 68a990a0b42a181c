//! A log group as this crate knows it, at the bottom of the house so that the rules, the AWS port
//! and the sweeps all speak of the same thing: [`ListedGroup`], the facts DescribeLogGroups lists
//! (and a sweep carries to its next invocation), and [`LogGroup`], what is known of one group
//! before its filters are described, its name parsed; and a group's [`Tags`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::names::{AccountId, Arn, LogGroupName};

/// A log group's tags, key to value.
pub(crate) type Tags = BTreeMap<String, String>;

/// What is known of a group's tags, and from whom.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KnownTags {
    /// Not known: read them (one ListTagsForResource) if the rules need them.
    #[default]
    Unknown,
    /// What an event says (a CreateLogGroup's `tags`): a cue anyone who may invoke the function
    /// can forge, so it may only spare a group a call, never decide a write.
    Claimed(Tags),
    /// What AWS answered.
    Read(Tags),
}

/// A log group as DescribeLogGroups lists it (and as a sweep carries it to its next invocation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedGroup {
    pub name: String,
    /// `STANDARD`, `INFREQUENT_ACCESS`, `DELIVERY`; `None` when AWS does not say (then STANDARD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// When the group was created, epoch milliseconds (`creationTime`).
    #[serde(rename = "createdMs", default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<u64>,
}

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
    pub tags: KnownTags,
}

impl LogGroup {
    pub fn named(name: LogGroupName) -> Self {
        Self {
            name,
            class: None,
            account: None,
            created_ms: None,
            arn: None,
            tags: KnownTags::Unknown,
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
    pub fn from_listing(info: &ListedGroup) -> Result<Self, String> {
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
            tags: KnownTags::Unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, class: Option<&str>) -> LogGroup {
        LogGroup {
            class: class.map(str::to_owned),
            ..LogGroup::named(LogGroupName::parse(name).expect("valid"))
        }
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
        let info = ListedGroup {
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
        let bad = ListedGroup {
            name: "has space".into(),
            ..info
        };
        assert!(LogGroup::from_listing(&bad).is_err());
    }
}
