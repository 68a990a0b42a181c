//! Which log groups are ours to subscribe: `INCLUDE` and `EXCLUDE` globs over the whole log group name.
//! `*` matches any run of characters, `/` included, so `/aws/lambda/*` covers every function's group;
//! `?` matches one character and `[...]` one of a set, as in a shell.
//!
//! Then, when any is set, `INCLUDE_TAGS` and `EXCLUDE_TAGS` over the group's tags ([`TagRules`]):
//! a group is selected when its name passes, it carries at least one include tag (when any is
//! set), and none of the exclude tags. The name is checked first, so a group whose name is not
//! selected never costs a tag read.

use glob::{MatchOptions, Pattern};

use crate::group::Tags;
use crate::names::LogGroupName;

/// How a glob meets a name: `*` and `?` cross `/`, which is not a path separator here.
const MATCHING: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// Compiled include and exclude globs. Built once from the settings, asked once per log group.
#[derive(Debug, Clone)]
pub struct Selection {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
    tags: TagRules,
}

/// A glob that cannot be used, with the pattern that is wrong.
#[derive(Debug, thiserror::Error)]
#[error("glob {pattern:?} is not valid: {reason}")]
pub struct BadGlob {
    pub pattern: String,
    pub reason: String,
}

impl Selection {
    /// Builds a selection; an empty include list means every group (`*`).
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, BadGlob> {
        let include = if include.is_empty() {
            vec![compile("*")?]
        } else {
            include
                .iter()
                .map(|g| compile(g))
                .collect::<Result<_, _>>()?
        };
        Ok(Self {
            include,
            exclude: exclude
                .iter()
                .map(|g| compile(g))
                .collect::<Result<_, _>>()?,
            tags: TagRules::default(),
        })
    }

    /// Adds tag rules: a group whose name passes must then pass them too.
    pub fn with_tags(mut self, tags: TagRules) -> Self {
        self.tags = tags;
        self
    }

    /// Whether any tag rule is set: only then are a group's tags read.
    pub fn has_tag_rules(&self) -> bool {
        !self.tags.is_empty()
    }

    /// `Ok` when `tags` pass the tag rules, or why they do not.
    pub fn check_tags(&self, tags: &Tags) -> Result<(), String> {
        self.tags.check(tags)
    }

    /// Adds an exact name to exclude (the function's own log group).
    pub fn also_exclude_exactly(mut self, name: &str) -> Result<Self, BadGlob> {
        self.exclude.push(compile(&Pattern::escape(name))?);
        Ok(self)
    }

    /// `Ok` when the group is selected, or why it is not.
    pub fn check(&self, group: &LogGroupName) -> Result<(), String> {
        let name = group.as_str();
        let matches = |p: &&Pattern| p.matches_with(name, MATCHING);
        if !self.include.iter().any(|p| matches(&p)) {
            let include: Vec<&str> = self.include.iter().map(Pattern::as_str).collect();
            return Err(format!("not matched by INCLUDE ({})", include.join(",")));
        }
        if let Some(glob) = self.exclude.iter().find(matches) {
            return Err(format!("excluded by EXCLUDE glob {:?}", glob.as_str()));
        }
        Ok(())
    }

    pub fn is_selected(&self, group: &LogGroupName) -> bool {
        self.check(group).is_ok()
    }

    /// The one literal prefix every included name must start with, when there is a single include
    /// glob whose wildcards all come after a literal start: DescribeLogGroups can then filter on the
    /// server (`logGroupNamePrefix`) instead of listing the whole account.
    pub fn literal_prefix(&self) -> Option<String> {
        let [only] = self.include.as_slice() else {
            return None;
        };
        let only = only.as_str();
        let end = only.find(['*', '?', '[']).unwrap_or(only.len());
        let prefix = &only[..end];
        (!prefix.is_empty()).then(|| prefix.to_owned())
    }
}

/// Compiles one glob. A character no log group name can hold (anything but letters, digits and
/// `_ - / . #`, besides the wildcards) is an error rather than a glob that never matches.
fn compile(pattern: &str) -> Result<Pattern, BadGlob> {
    let bad = |reason: String| BadGlob {
        pattern: pattern.to_owned(),
        reason,
    };
    let legal = |c: char| c.is_ascii_alphanumeric() || "_-/.#*?[]!".contains(c);
    if let Some(c) = pattern.chars().find(|c| !legal(*c)) {
        return Err(bad(format!(
            "{c:?} cannot appear in a log group name (letters, digits, _ - / . #; wildcards * ? [...])"
        )));
    }
    Pattern::new(pattern).map_err(|e| bad(e.to_string()))
}

/// `INCLUDE_TAGS` and `EXCLUDE_TAGS`: each a list of `key=value` (the value a glob, as for names)
/// or `key` (any value). Keys match exactly and case-sensitively, as AWS compares them.
#[derive(Debug, Clone, Default)]
pub struct TagRules {
    include: Vec<TagRule>,
    exclude: Vec<TagRule>,
}

/// One tag rule, as written (for messages) and compiled.
#[derive(Debug, Clone)]
struct TagRule {
    text: String,
    key: String,
    /// `None`: any value, the empty one included.
    value: Option<Pattern>,
}

/// A tag rule that cannot be used, with the rule that is wrong.
#[derive(Debug, thiserror::Error)]
#[error("tag rule {rule:?} is not valid: {reason}")]
pub struct BadTagRule {
    pub rule: String,
    pub reason: String,
}

impl TagRules {
    /// Compiles the rules, each `key=value-glob` or `key`.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, BadTagRule> {
        Ok(Self {
            include: parse_tag_rules(include)?,
            exclude: parse_tag_rules(exclude)?,
        })
    }

    fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    fn check(&self, tags: &Tags) -> Result<(), String> {
        if !self.include.is_empty() && !self.include.iter().any(|r| r.matches(tags)) {
            let rules: Vec<&str> = self.include.iter().map(|r| r.text.as_str()).collect();
            return Err(format!(
                "carries none of the INCLUDE_TAGS tags ({})",
                rules.join(",")
            ));
        }
        if let Some(rule) = self.exclude.iter().find(|r| r.matches(tags)) {
            return Err(format!("excluded by EXCLUDE_TAGS tag {:?}", rule.text));
        }
        Ok(())
    }
}

impl TagRule {
    fn matches(&self, tags: &Tags) -> bool {
        tags.get(&self.key).is_some_and(|value| {
            self.value
                .as_ref()
                .is_none_or(|p| p.matches_with(value, MATCHING))
        })
    }
}

fn parse_tag_rules(rules: &[String]) -> Result<Vec<TagRule>, BadTagRule> {
    rules.iter().map(|r| parse_tag_rule(r)).collect()
}

/// One `key=value` or `key`. The key ends at the first `=`. Keys are 1 to 128 characters and
/// values at most 256, of Unicode letters, digits, spaces and `_ . : / = + - @`, as AWS allows;
/// values may add the wildcards `* ? [...]`.
fn parse_tag_rule(text: &str) -> Result<TagRule, BadTagRule> {
    let bad = |reason: String| BadTagRule {
        rule: text.to_owned(),
        reason,
    };
    let tag_char = |c: char| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
    let (key, value) = match text.split_once('=') {
        Some((key, value)) => (key.trim(), Some(value.trim())),
        None => (text.trim(), None),
    };
    if key.is_empty() {
        return Err(bad(
            "the tag key is empty (write key=value, or key for any value)".into(),
        ));
    }
    if key.chars().count() > 128 {
        return Err(bad("a tag key is at most 128 characters".into()));
    }
    if let Some(c) = key.chars().find(|c| !tag_char(*c)) {
        return Err(bad(format!(
            "{c:?} cannot appear in a tag key (letters, digits, spaces, _ . : / = + - @)"
        )));
    }
    let value = match value {
        None => None,
        Some(value) => {
            if value.chars().count() > 256 {
                return Err(bad("a tag value is at most 256 characters".into()));
            }
            if let Some(c) = value
                .chars()
                .find(|c| !tag_char(*c) && !"*?[]!".contains(*c))
            {
                return Err(bad(format!(
                    "{c:?} cannot appear in a tag value (letters, digits, spaces, _ . : / = + - @; wildcards * ? [...])"
                )));
            }
            Some(Pattern::new(value).map_err(|e| bad(e.to_string()))?)
        }
    };
    Ok(TagRule {
        text: text.trim().to_owned(),
        key: key.to_owned(),
        value,
    })
}

/// Splits a comma-separated list of globs (the `INCLUDE` / `EXCLUDE` format), dropping blanks.
pub(crate) fn split_globs(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> LogGroupName {
        LogGroupName::parse(name).expect("test names are valid")
    }

    fn sel(include: &str, exclude: &str) -> Selection {
        Selection::new(&split_globs(include), &split_globs(exclude)).expect("test globs compile")
    }

    #[test]
    fn star_crosses_slashes() {
        let s = sel("/aws/lambda/*", "");
        assert!(s.is_selected(&group("/aws/lambda/fn")));
        assert!(s.is_selected(&group("/aws/lambda/a/b/c")));
        assert!(!s.is_selected(&group("/aws/ecs/x")));
        assert!(sel("", "").is_selected(&group("/any/thing")));
        assert!(sel("*", "").is_selected(&group("x")));
    }

    #[test]
    fn exclude_wins_and_says_which() {
        let s = sel("*", "/aws/lambda/noisy-*, *#debug");
        assert_eq!(
            s.check(&group("/aws/lambda/noisy-1")),
            Err("excluded by EXCLUDE glob \"/aws/lambda/noisy-*\"".into())
        );
        assert!(s.check(&group("app#debug")).is_err());
        assert!(s.check(&group("app#info")).is_ok());
    }

    #[test]
    fn exact_exclusion_escapes_metacharacters() {
        let s = sel("*", "")
            .also_exclude_exactly("/aws/lambda/a.b")
            .expect("compiles");
        assert!(!s.is_selected(&group("/aws/lambda/a.b")));
        assert!(s.is_selected(&group("/aws/lambda/a.bc")));
        let s = sel("*", "")
            .also_exclude_exactly("/aws/lambda/auto-subscribe")
            .expect("compiles");
        assert!(!s.is_selected(&group("/aws/lambda/auto-subscribe")));
        assert!(s.is_selected(&group("/aws/lambda/auto-subscribe-2")));
    }

    #[test]
    fn literal_prefix_only_for_one_include() {
        assert_eq!(
            sel("/aws/lambda/*", "").literal_prefix(),
            Some("/aws/lambda/".into())
        );
        assert_eq!(
            sel("exact-name", "").literal_prefix(),
            Some("exact-name".into())
        );
        assert_eq!(sel("*", "").literal_prefix(), None);
        assert_eq!(sel("/a/*,/b/*", "").literal_prefix(), None);
    }

    #[test]
    fn bad_glob_names_the_pattern() {
        let err = Selection::new(&["/a/[".into()], &[]).expect_err("unclosed class");
        assert!(err.to_string().contains("/a/["), "{err}");
        let err = Selection::new(&[], &["{a,b}".into()]).expect_err("not a name character");
        assert!(err.to_string().contains("'{' cannot appear"), "{err}");
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tag_rules(include: &str, exclude: &str) -> Selection {
        sel("", "").with_tags(
            TagRules::new(&split_globs(include), &split_globs(exclude)).expect("valid rules"),
        )
    }

    #[test]
    fn tag_rules_include_any_exclude_all() {
        let s = tag_rules(
            "team=platform, data-class=audit*, shipped",
            "noisy, tier=dev-*",
        );
        assert!(s.has_tag_rules());
        assert!(!sel("", "").has_tag_rules());
        let pass = [
            tags(&[("team", "platform")]),
            tags(&[("data-class", "audit-2024")]),
            tags(&[("shipped", "")]),
            tags(&[("shipped", "no"), ("tier", "prod")]),
        ];
        for t in &pass {
            assert_eq!(s.check_tags(t), Ok(()), "{t:?}");
        }
        assert_eq!(
            s.check_tags(&tags(&[("team", "apps")])),
            Err(
                "carries none of the INCLUDE_TAGS tags (team=platform,data-class=audit*,shipped)"
                    .into()
            )
        );
        assert!(
            s.check_tags(&Tags::new()).is_err(),
            "no tags, include rules set"
        );
        assert!(
            s.check_tags(&tags(&[("Team", "platform")])).is_err(),
            "keys are case-sensitive"
        );
        assert_eq!(
            s.check_tags(&tags(&[("team", "platform"), ("noisy", "yes")])),
            Err("excluded by EXCLUDE_TAGS tag \"noisy\"".into())
        );
        assert_eq!(
            s.check_tags(&tags(&[("team", "platform"), ("tier", "dev-eu")])),
            Err("excluded by EXCLUDE_TAGS tag \"tier=dev-*\"".into())
        );
        // Exclude rules alone: every group but the excluded ones.
        let s = tag_rules("", "auto-subscribe=off");
        assert!(s.check_tags(&Tags::new()).is_ok());
        assert!(s.check_tags(&tags(&[("auto-subscribe", "on")])).is_ok());
        assert!(s.check_tags(&tags(&[("auto-subscribe", "off")])).is_err());
    }

    #[test]
    fn tag_values_may_hold_spaces_equals_and_unicode() {
        let s = tag_rules("owner=Jane Doe, expr=a=b, équipe=données", "");
        assert!(s.check_tags(&tags(&[("owner", "Jane Doe")])).is_ok());
        assert!(s.check_tags(&tags(&[("expr", "a=b")])).is_ok());
        assert!(s.check_tags(&tags(&[("équipe", "données")])).is_ok());
        assert!(s.check_tags(&tags(&[("owner", "Jane")])).is_err());
    }

    #[test]
    fn bad_tag_rules_name_the_rule() {
        for (rule, part) in [
            ("=platform", "tag key is empty"),
            ("team=[plat", "team=[plat"),
            ("team=a;b", "';' cannot appear in a tag value"),
            ("te#am", "'#' cannot appear in a tag key"),
        ] {
            let err = TagRules::new(&[rule.into()], &[]).expect_err(rule);
            let text = err.to_string();
            assert!(text.contains(rule), "{rule}: {text}");
            assert!(text.contains(part), "{rule}: {text}");
        }
        let long = "k".repeat(129);
        assert!(TagRules::new(&[], &[long]).is_err());
    }

    #[test]
    fn question_marks_and_classes() {
        let s = sel("/app/v?/*,/svc/[ab]-*", "");
        assert!(s.is_selected(&group("/app/v1/x")));
        assert!(!s.is_selected(&group("/app/v12/x")), "? is one character");
        assert!(s.is_selected(&group("/app/v1/a/b")), "* crosses /");
        assert!(s.is_selected(&group("/svc/a-1")));
        assert!(!s.is_selected(&group("/svc/c-1")));
    }
}
