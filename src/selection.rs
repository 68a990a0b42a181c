//! Which log groups are ours to subscribe: `INCLUDE` and `EXCLUDE` globs over the whole log group name.
//! `*` matches any run of characters, `/` included, so `/aws/lambda/*` covers every function's group;
//! `?` matches one character and `[...]` one of a set, as in a shell.

use glob::{MatchOptions, Pattern};

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
        })
    }

    /// Every log group: `*`, nothing excluded.
    pub fn everything() -> Self {
        Self::new(&[], &[]).unwrap_or_else(|e| unreachable!("`*` is a valid glob: {e}"))
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

/// Splits a comma-separated list of globs (the `INCLUDE` / `EXCLUDE` format), dropping blanks.
pub fn split_globs(text: &str) -> Vec<String> {
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
