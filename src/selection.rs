//! Which log groups are ours to subscribe: `INCLUDE` and `EXCLUDE` globs over the whole log group name.
//! `*` matches any run of characters, `/` included, so `/aws/lambda/*` covers every function's group.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::names::LogGroupName;

/// Compiled include and exclude globs. Built once from the settings, asked once per log group.
#[derive(Debug, Clone)]
pub struct Selection {
    include: Vec<String>,
    exclude: Vec<String>,
    include_set: GlobSet,
    exclude_set: GlobSet,
}

/// A glob that did not compile, with the pattern that is wrong.
#[derive(Debug, thiserror::Error)]
#[error("glob {pattern:?} is not valid: {source}")]
pub struct BadGlob {
    pub pattern: String,
    #[source]
    pub source: globset::Error,
}

impl Selection {
    /// Builds a selection; an empty include list means every group (`*`).
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, BadGlob> {
        let include: Vec<String> = if include.is_empty() {
            vec!["*".into()]
        } else {
            include.to_vec()
        };
        Ok(Self {
            include_set: compile(&include)?,
            exclude_set: compile(exclude)?,
            include,
            exclude: exclude.to_vec(),
        })
    }

    /// Every log group: `*`, nothing excluded.
    pub fn everything() -> Self {
        Self::new(&[], &[]).unwrap_or_else(|e| unreachable!("`*` is a valid glob: {e}"))
    }

    /// Adds an exact name to exclude (the function's own log group).
    pub fn also_exclude_exactly(self, name: &str) -> Result<Self, BadGlob> {
        let mut exclude = self.exclude;
        exclude.push(globset::escape(name));
        Self::new(&self.include, &exclude)
    }

    /// `Ok` when the group is selected, or why it is not.
    pub fn check(&self, group: &LogGroupName) -> Result<(), String> {
        let name = group.as_str();
        if !self.include_set.is_match(name) {
            return Err(format!(
                "not matched by INCLUDE ({})",
                self.include.join(",")
            ));
        }
        if let Some(i) = self.exclude_set.matches(name).first() {
            return Err(format!("excluded by EXCLUDE glob {:?}", self.exclude[*i]));
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
        let end = only.find(['*', '?', '[', '{', '\\']).unwrap_or(only.len());
        let prefix = &only[..end];
        (!prefix.is_empty()).then(|| prefix.to_owned())
    }
}

fn compile(patterns: &[String]) -> Result<GlobSet, BadGlob> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob: Glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|source| BadGlob {
                pattern: pattern.clone(),
                source,
            })?;
        set.add(glob);
    }
    set.build().map_err(|source| BadGlob {
        pattern: patterns.join(","),
        source,
    })
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
    }
}
