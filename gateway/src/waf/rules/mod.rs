//! Signature tables, one file per attack class, and the compiled matcher.
//! Rules are plain data; each is matched against one normalised view of a
//! decoded value (see [`View`]). All rules of a view are compiled into one
//! `RegexSet`, so a value is scanned once per view whatever the rule count.

mod files;
mod generic;
mod java;
mod php;
mod rce;
mod sqli;
mod xss;

use super::{Class, Location};
use regex::{RegexSet, RegexSetBuilder};
use std::borrow::Cow;
use std::sync::LazyLock;

/// Scores follow the CRS severities: one critical rule blocks on its own at
/// the default threshold, two warnings block together.
pub const CRITICAL: u32 = 5;
pub const ERROR: u32 = 4;
pub const WARNING: u32 = 3;
pub const NOTICE: u32 = 2;

/// Which rendering of a decoded value a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Lowercased, whitespace compressed, control characters dropped.
    Norm,
    /// `Norm` with SQL block comments replaced by a space.
    Sql,
    /// `Norm` with shell quoting/escaping removed (`c'a't`, `c\at`, `c^at`).
    Cmd,
    /// Decoded text as is: case and line breaks preserved.
    Raw,
}

const VIEWS: [View; 4] = [View::Norm, View::Sql, View::Cmd, View::Raw];

/// Where in the request a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Any,
    /// Only the URI path (restricted file names).
    Path,
    /// Everywhere but the path (file-name rules that would fire on routes).
    NotPath,
    /// Everywhere but headers (a Referer naming an internal host is normal).
    NotHeader,
}

impl Scope {
    fn allows(self, loc: Location) -> bool {
        match self {
            Scope::Any => true,
            Scope::Path => loc == Location::Path,
            Scope::NotPath => loc != Location::Path,
            Scope::NotHeader => loc != Location::Header,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: u32,
    pub class: Class,
    pub score: u32,
    pub view: View,
    pub scope: Scope,
    pub pattern: Cow<'static, str>,
}

/// Shorthand for the rule tables.
pub const fn rule(id: u32, class: Class, score: u32, view: View, pattern: &'static str) -> Rule {
    Rule { id, class, score, view, scope: Scope::Any, pattern: Cow::Borrowed(pattern) }
}

/// Not a regex: [`crate::waf::sqltok`] judges the shape of the value.
pub const SQL_SHAPE: Rule = rule(1100, Class::Sqli, CRITICAL, View::Sql, "");

/// Every rule of every class.
pub fn all() -> Vec<Rule> {
    let mut v = Vec::new();
    v.extend(sqli::rules());
    v.extend(xss::rules());
    v.extend(rce::rules());
    v.extend(files::rules());
    v.extend(php::rules());
    v.extend(java::rules());
    v.extend(generic::rules());
    v
}

/// One compiled view: its set and, per pattern, the rule it came from.
struct Compiled {
    set: RegexSet,
    rules: Vec<Rule>,
}

pub struct Engine {
    views: Vec<(View, Compiled)>,
}

/// Generous limits: rule patterns are constants, the limit only guards
/// against a badly written one blowing up memory.
const SIZE_LIMIT: usize = 64 << 20;

fn compile(rules: Vec<Rule>) -> Result<Compiled, regex::Error> {
    let set = RegexSetBuilder::new(rules.iter().map(|r| r.pattern.as_ref()))
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()?;
    Ok(Compiled { set, rules })
}

impl Engine {
    pub fn new() -> Result<Engine, regex::Error> {
        let all = all();
        let mut views = Vec::new();
        for view in VIEWS {
            let rules: Vec<Rule> = all.iter().filter(|r| r.view == view).cloned().collect();
            views.push((view, compile(rules)?));
        }
        Ok(Engine { views })
    }

    /// Rules of `view` matching `text` for a value found at `loc`.
    pub fn matches<'e>(&'e self, view: View, text: &str, loc: Location) -> impl Iterator<Item = &'e Rule> {
        self.views
            .iter()
            .filter(move |(v, _)| *v == view)
            .flat_map(move |(_, c)| c.set.matches(text).into_iter().filter_map(|i| c.rules.get(i)))
            .filter(move |r| r.scope.allows(loc))
    }
}

/// Compiled once per process. The patterns are constants covered by unit
/// tests, so failing here is a build defect, not an input problem.
pub static ENGINE: LazyLock<Engine> =
    LazyLock::new(|| Engine::new().expect("WAF rule patterns are valid regexes"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_ids_are_unique() {
        let all = all();
        for r in &all {
            assert!(regex::Regex::new(&r.pattern).is_ok(), "rule {} does not compile", r.id);
        }
        let mut ids: Vec<u32> = all.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate rule ids");
        assert!(Engine::new().is_ok());
    }
}
