//! Signature tables, one file per attack class, and the compiled matcher.
//! Rules are plain data; each is matched against one normalised view of a
//! decoded value (see [`View`]). All rules of a view are compiled into one
//! multi-pattern regex (a `RegexSet`, built through `regex-automata` so
//! each serving thread keeps its own search cache), so a value is scanned
//! once per view whatever the rule count.

mod files;
mod formats;
mod generic;
mod java;
mod php;
mod rce;
mod sqli;
mod xss;

use super::{Class, Location};
use regex_automata::meta::{self, Regex};
use regex_automata::{Input, MatchKind, PatternSet};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Scores follow the CRS severities: one critical rule blocks on its own at
/// the default threshold, two warnings block together.
pub const CRITICAL: u32 = 5;
pub const ERROR: u32 = 4;
pub const WARNING: u32 = 3;
pub const NOTICE: u32 = 2;

/// Which rendering of a decoded value a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Lowercased, whitespace compressed, ASCII controls read as spaces
    /// (NUL and DEL dropped).
    Norm,
    /// `Norm` with SQL block comments replaced by a space.
    Sql,
    /// `Norm` with shell quoting/escaping removed (`c'a't`, `c\at`, `c^at`).
    Cmd,
    /// Decoded text as is: case and line breaks preserved.
    Raw,
    /// `Norm` of a value short enough to be a path, a command or a code
    /// fragment; empty for prose (several lines, or many words), which
    /// mentions relative paths (`../../libs/x.a` in a build log), tools and
    /// functions in passing and cannot itself be opened or run. Rules for
    /// weak signs of those read it; strong signs are read everywhere.
    Short,
    /// `Raw` of a value that is not prose, empty for prose (see `Short`):
    /// line structure a rule needs, where a document's pasted transcript
    /// (`Status: 200 OK` then `X-RateLimit-Limit: 5000`) is not an attack.
    RawShort,
    /// The words spliced with quotes or escapes (`'i'fconfig`, `w\ho'am'i`,
    /// `\ls`), each unquoted with the rest of the value on a line of its own;
    /// empty when there is none. Nobody writes a command that way but to slip
    /// it past a filter.
    Spliced,
}

impl View {
    /// Whether the view is blank for prose ([`View::Short`], [`View::RawShort`]).
    pub fn blank_for_prose(self) -> bool {
        matches!(self, View::Short | View::RawShort)
    }
}

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
    /// Only query arguments: what a server-side include or fetch reads from
    /// the URL (`?page=http://evil/x.txt?`), where the gateway's API takes
    /// no URLs; in payload bodies URLs are data.
    Query,
    /// Only headers (URLs in `Referer`, `X-Original-Url`...).
    Header,
    /// File names: a multipart part's, or one sent in a header (`X-Filename`).
    FileName,
    /// A multipart part's file name only: there a path is the sender's
    /// choice, where a header's value may be a URL.
    Upload,
}

impl Scope {
    pub(crate) fn allows(self, loc: Location) -> bool {
        match self {
            Scope::Any => true,
            Scope::Path => loc == Location::Path,
            Scope::NotPath => loc != Location::Path,
            Scope::NotHeader => loc != Location::Header,
            Scope::Query => loc == Location::Query,
            Scope::Header => loc == Location::Header,
            Scope::FileName => matches!(loc, Location::FileName | Location::Header),
            Scope::Upload => loc == Location::FileName,
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

/// A quote then a SQL comment, kept only where the quote leaves a string
/// open ([`crate::waf::quoting::breaks_out_before_comment`]).
pub const QUOTE_THEN_COMMENT: u32 = 1010;

/// Not a regex: [`crate::waf::sqltok`] judges the shape of the value.
pub const SQL_SHAPE: Rule = rule(1100, Class::Sqli, CRITICAL, View::Sql, "");

/// Not a regex: [`crate::waf::offsite`] compares a query URL with the host.
pub const OFFSITE_URL: Rule = rule(5010, Class::Rfi, CRITICAL, View::Norm, "");

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
    v.extend(formats::rules());
    v
}

/// Whether the WAF has a rule with this id: the tables' and those judged
/// in code (the SQL lexer, libinjection, the URL checks). Exclusions may
/// name only these, so a typo is refused rather than excluding nothing.
pub fn known(id: u32) -> bool {
    static IDS: LazyLock<Vec<u32>> = LazyLock::new(|| {
        let in_code = [
            &SQL_SHAPE,
            &OFFSITE_URL,
            &super::tokenized::SQLI,
            &super::tokenized::XSS,
            &super::ssrf::INTERNAL_URL,
        ];
        all().iter().chain(in_code).map(|r| r.id).collect()
    });
    IDS.contains(&id)
}

/// One compiled view: its patterns and, per pattern, the rule it came from.
struct Compiled {
    set: Regex,
    rules: Vec<Rule>,
}

/// One pass over one text: which rules' patterns it matches against.
/// Most values read the same under `Norm`, `Sql` and `Cmd` (no SQL comment,
/// no shell quoting), so their rules are compiled together too and such a
/// value is scanned once for all three; `Short` rules are always in the
/// `Norm` pass and dropped for prose. Measured on 1 KiB JSON records: six
/// passes per value were two thirds of the WAF's regex time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// `Norm` and `Short` rules, with `Sql`'s and `Cmd`'s when those views
    /// read as `Norm` does.
    Norm {
        sql: bool,
        cmd: bool,
    },
    Sql,
    Cmd,
    Raw,
    Spliced,
}

impl Scan {
    const ALL: [Scan; 8] = [
        Scan::Norm { sql: false, cmd: false },
        Scan::Norm { sql: true, cmd: false },
        Scan::Norm { sql: false, cmd: true },
        Scan::Norm { sql: true, cmd: true },
        Scan::Sql,
        Scan::Cmd,
        Scan::Raw,
        Scan::Spliced,
    ];

    fn reads(self, view: View) -> bool {
        match (self, view) {
            (Scan::Norm { .. }, View::Norm | View::Short) => true,
            (Scan::Norm { sql, .. }, View::Sql) => sql,
            (Scan::Norm { cmd, .. }, View::Cmd) => cmd,
            (Scan::Sql, View::Sql) | (Scan::Cmd, View::Cmd) => true,
            (Scan::Raw, View::Raw | View::RawShort) => true,
            (Scan::Spliced, View::Spliced) => true,
            _ => false,
        }
    }
}

pub struct Engine {
    /// Tells this engine's per-thread caches from another engine's.
    id: usize,
    views: Vec<(Scan, Compiled)>,
}

/// Generous limits: rule patterns are constants, the limit only guards
/// against a badly written one blowing up memory.
const SIZE_LIMIT: usize = 64 << 20;

/// Every pattern reports its matches, with the limits above, and the
/// patterns read bytes: ASCII classes and word boundaries, `.` any byte.
/// Only which patterns matched is used, never where, so a match need not
/// fall on UTF-8 boundaries. The lazy DFA cannot follow a Unicode `\b`
/// past a non-ASCII byte and handed such values to the much slower PikeVM.
/// Measured on 30,000 lines of
/// prose: the four views matched in 0.33 s instead of 0.98 s, with the same
/// verdict on every line of the CRS and the realistic corpora.
fn compile(rules: Vec<Rule>) -> Result<Compiled, Box<meta::BuildError>> {
    let config = meta::Config::new()
        .match_kind(MatchKind::All)
        .nfa_size_limit(Some(SIZE_LIMIT))
        .hybrid_cache_capacity(SIZE_LIMIT)
        .dfa_size_limit(Some(SIZE_LIMIT));
    let set = meta::Builder::new()
        .configure(config)
        .syntax(regex_automata::util::syntax::Config::new().unicode(false).utf8(false))
        .build_many(&rules.iter().map(|r| r.pattern.as_ref()).collect::<Vec<_>>())
        .map_err(Box::new)?;
    Ok(Compiled { set, rules })
}

/// A thread's search scratch for one engine: per view, the lazy DFA's cache
/// and the set of patterns that matched. The regex crate's `RegexSet` keeps
/// caches in a pool that only its first thread reaches without a lock;
/// under load on the multi-threaded runtime that pool was 2.4% of the
/// gateway's CPU.
struct Scratch {
    engine: usize,
    views: Vec<(meta::Cache, PatternSet)>,
}

thread_local! {
    static SCRATCH: RefCell<Vec<Scratch>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ENGINE: AtomicUsize = AtomicUsize::new(0);

impl Engine {
    pub fn new() -> Result<Engine, Box<meta::BuildError>> {
        let all = all();
        let mut views = Vec::new();
        for scan in Scan::ALL {
            let rules: Vec<Rule> = all.iter().filter(|r| scan.reads(r.view)).cloned().collect();
            views.push((scan, compile(rules)?));
        }
        Ok(Engine { id: NEXT_ENGINE.fetch_add(1, Ordering::Relaxed), views })
    }

    fn scratch(&self) -> Scratch {
        let views =
            self.views.iter().map(|(_, c)| (c.set.create_cache(), PatternSet::new(c.set.pattern_len())));
        Scratch { engine: self.id, views: views.collect() }
    }

    /// Rules read by `scan` matching `text` for a value found at `loc`;
    /// `Short` rules only when the value is not prose.
    pub fn matches(&self, scan: Scan, text: &str, loc: Location, prose: bool) -> Vec<&Rule> {
        if text.is_empty() {
            return Vec::new();
        }
        let Some(index) = self.views.iter().position(|(s, _)| *s == scan) else {
            return Vec::new();
        };
        let Some((_, compiled)) = self.views.get(index) else {
            return Vec::new();
        };
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let mine = match scratch.iter().position(|s| s.engine == self.id) {
                Some(at) => at,
                None => {
                    scratch.push(self.scratch());
                    scratch.len() - 1
                }
            };
            let Some((cache, found)) = scratch.get_mut(mine).and_then(|s| s.views.get_mut(index)) else {
                return Vec::new();
            };
            found.clear();
            compiled.set.which_overlapping_matches_with(cache, &Input::new(text), found);
            // Most values match nothing; walking the set visits every pattern's slot.
            if found.is_empty() {
                return Vec::new();
            }
            found
                .iter()
                .filter_map(|pattern| compiled.rules.get(pattern.as_usize()))
                .filter(|r| r.scope.allows(loc) && !(prose && r.view.blank_for_prose()))
                .collect()
        })
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
