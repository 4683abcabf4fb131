//! The renderings of one decoded value that the rules read (see
//! [`View`]): as decoded, normalised, with SQL comments or shell quoting
//! undone, blanked for prose, and the words spliced to hide a command.

use super::Location;
use super::decode;
use super::quoting::{without_code_spans, without_fence_lines, without_gnu_quotes, without_quoted_terms};
use super::rules::{Scan, View};
use std::borrow::Cow;

/// Words from which a value is prose rather than a path, on one line or
/// over several.
const PROSE_WORDS: usize = 24;
const PROSE_WORDS_MULTILINE: usize = 8;

/// Longest first word of prose judged alone ([`Views::prose_head`]): a
/// payload is short, and a longer word (a blob, a token) is data already
/// judged with the value; the bound keeps the second look cheap.
const MAX_PROSE_HEAD: usize = 256;

/// Most spliced words given in [`View::Spliced`], and how much of the value
/// after each: the view stays within a small multiple of the value.
const MAX_SPLICED_WORDS: usize = 32;
const SPLICED_TAIL_CHARS: usize = 200;

pub struct Views<'a> {
    /// Borrowed unless the value is not UTF-8.
    raw: Cow<'a, str>,
    norm: String,
    sql: Option<String>,
    cmd: Option<String>,
    /// See [`View::Short`].
    prose: bool,
    /// See [`View::Spliced`].
    spliced: Option<String>,
}

impl<'a> Views<'a> {
    pub fn new(decoded: &'a [u8], location: Location) -> Views<'a> {
        // Paths and headers are short data, never prose. A query argument
        // may be: the same text gets the same verdict as a query argument
        // as in a body (a search, a comment sent by a GET form).
        let prose = matches!(location, Location::Body | Location::Query)
            && is_prose(&String::from_utf8_lossy(decoded));
        Views::new_with_prose(decoded, prose)
    }

    /// The views of a part of a value, which is prose if the value is.
    pub fn new_with_prose(decoded: &'a [u8], prose: bool) -> Views<'a> {
        let raw = String::from_utf8_lossy(decoded);
        let norm = decode::normalize(&raw);
        // Prose quotes terms ("only build active archs" is not checked)
        // and names code in spans (`base64`): the SQL and command rules
        // read it without those quotes (see `quoting`).
        let spans_off = if prose { without_code_spans(&norm) } else { None };
        let sql = sql_view(&norm, spans_off.as_deref(), prose);
        let cmd = cmd_view(&raw, &norm, spans_off, prose);
        let spliced = if cmd.is_some() { spliced_words(&norm) } else { None };
        Views { raw, norm, sql, cmd, prose, spliced }
    }

    /// The passes that read every view of this value: one over the
    /// normalised text for every view that reads as it does, then the views
    /// that differ.
    pub fn scans(&self) -> impl Iterator<Item = (Scan, &str)> {
        let (sql, cmd) = (self.sql.is_none(), self.cmd.is_none());
        [
            Some((Scan::Norm { sql, cmd }, self.norm.as_str())),
            self.sql.as_deref().map(|t| (Scan::Sql, t)),
            self.cmd.as_deref().map(|t| (Scan::Cmd, t)),
            Some((Scan::Raw, &*self.raw)),
            self.spliced.as_deref().map(|t| (Scan::Spliced, t)),
        ]
        .into_iter()
        .flatten()
    }

    /// See [`View::Short`].
    pub fn is_prose(&self) -> bool {
        self.prose
    }

    /// The first word of a prose value when it is code (`;ps`,
    /// `a;exit(md5('x'));//`, `admin'#`): a payload an attacker follows with
    /// sentences so the value reads as prose, where the `Short` rules and
    /// whole-value anchors are off. The word is judged as short data of its
    /// own. Documents, markup and links (`{"kind":`, `<div`, `https://`)
    /// are judged whole.
    pub fn prose_head(&self) -> Option<&str> {
        if !self.prose {
            return None;
        }
        let head = self.raw.trim_start().split(char::is_whitespace).next().unwrap_or_default();
        if head.len() > MAX_PROSE_HEAD {
            return None;
        }
        let document = head.starts_with(['{', '[', '<']) || head.contains("://");
        let code = head.contains([';', '|', '(', ')', '$', '`', '=', '\\'])
            || head.get(1..).is_some_and(|t| t.contains('#'));
        (code && !document).then_some(head)
    }

    pub fn get(&self, view: View) -> &str {
        match view {
            View::Raw => &self.raw,
            View::Norm => &self.norm,
            View::Sql => self.sql.as_deref().unwrap_or(&self.norm),
            View::Cmd => self.cmd.as_deref().unwrap_or(&self.norm),
            view if self.prose && view.blank_for_prose() => "",
            View::Short => &self.norm,
            View::RawShort => &self.raw,
            View::Spliced => self.spliced.as_deref().unwrap_or_default(),
        }
    }
}

/// What the SQL rules read, when it differs from `norm`: block comments
/// replaced by a space, and in prose code spans (`spans_off`, `norm`
/// without them) and quoted terms taken off.
fn sql_view(norm: &str, spans_off: Option<&str>, prose: bool) -> Option<String> {
    let text = spans_off.unwrap_or(norm);
    let uncommented = norm.contains("/*").then(|| decode::strip_sql_comments(text));
    let text = uncommented.as_deref().unwrap_or(text);
    match prose.then(|| without_quoted_terms(text)).flatten() {
        Some(unquoted) => Some(unquoted),
        None => uncommented.or_else(|| spans_off.map(str::to_owned)),
    }
}

/// What the command rules read, when it differs from `norm`: shell quoting
/// undone, without Markdown fence lines (```` ```bash ```` is no command
/// substitution; what the fence holds is read as any other text) and, in
/// prose, without code spans.
fn cmd_view(raw: &str, norm: &str, spans_off: Option<String>, prose: bool) -> Option<String> {
    let text = match without_fence_lines(raw) {
        Some(unfenced) => {
            let unfenced = decode::normalize(&unfenced);
            if prose { without_code_spans(&unfenced).unwrap_or(unfenced) } else { unfenced }
        }
        None => match spans_off {
            Some(spans_off) => spans_off,
            None => return shell_unquote(norm),
        },
    };
    Some(shell_unquote(&text).unwrap_or(text))
}

/// Whether a value reads as text written for people: several lines with a
/// few words, or many words. No path a server opens looks like that. Only
/// what comes before a NUL counts: a path cut there by the server
/// (`../../.env%00` and padding) is not prose.
fn is_prose(raw: &str) -> bool {
    let text = raw.split('\0').next().unwrap_or_default();
    let words = text.split_whitespace().take(PROSE_WORDS).count();
    words >= PROSE_WORDS || (words >= PROSE_WORDS_MULTILINE && text.trim().contains('\n'))
}

/// The characters a shell removes from inside a word (`c'a't`, `c\at`,
/// cmd.exe's `c^at`).
fn is_shell_quote(c: u8) -> bool {
    matches!(c, b'\'' | b'"' | b'\\' | b'^')
}

/// English contractions (`I'd`, `don't`, `we'll`, `O'Brien's`): one
/// apostrophe and a suffix English puts there, not a splice. Narrow on
/// purpose: `l's`, `wge't`, `se'd` are splices of `ls`, `wget`, `sed`.
fn is_contraction(word: &[u8]) -> bool {
    const PRONOUNS: [&[u8]; 10] =
        [b"i", b"you", b"he", b"she", b"it", b"we", b"they", b"who", b"that", b"there"];
    if word.iter().filter(|&&c| is_shell_quote(c)).count() != 1 {
        return false;
    }
    let Some(at) = word.iter().position(|&c| c == b'\'') else { return false };
    let (head, suffix) = (word.get(..at).unwrap_or_default(), word.get(at + 1..).unwrap_or_default());
    let pronoun = PRONOUNS.iter().any(|p| head.eq_ignore_ascii_case(p));
    match suffix {
        b"t" => head.last().is_some_and(|c| c.eq_ignore_ascii_case(&b'n')) && head.len() >= 2,
        b"s" => head.len() >= 2,
        b"d" | b"ll" | b"re" | b"ve" | b"m" => pronoun,
        _ => false,
    }
}

/// Each word spliced with quotes, backslashes or carets (`'i'fconfig`,
/// `c""at`, `w^ho`, a leading `\ls`) unquoted, with the rest of the value
/// after it, one per line; `None` when no word is. "O'Brien" is spliced too,
/// and reads `obrien ...`: rules on this view anchor at a line's start, so
/// only a spliced word that is a command matters.
fn spliced_words(norm: &str) -> Option<String> {
    let b = norm.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < b.len() && lines.len() < MAX_SPLICED_WORDS {
        let len = b
            .get(start..)
            .unwrap_or_default()
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || is_shell_quote(c)))
            .unwrap_or(b.len() - start);
        let word = b.get(start..start + len).unwrap_or_default();
        // A quote strictly between the word's first and last letter or digit.
        let first = word.iter().position(u8::is_ascii_alphanumeric);
        let last = word.iter().rposition(u8::is_ascii_alphanumeric);
        let inner_quote = match (first, last) {
            (Some(first), Some(last)) => {
                word.get(first..last).is_some_and(|w| w.iter().any(|&c| is_shell_quote(c)))
            }
            _ => false,
        };
        let escaped_start =
            word.first() == Some(&b'\\') && word.get(1).is_some_and(u8::is_ascii_alphanumeric);
        if (inner_quote && !is_contraction(word)) || escaped_start {
            let rest: String =
                norm.get(start..).unwrap_or_default().chars().take(SPLICED_TAIL_CHARS).collect();
            lines.push(shell_unquote(&rest).unwrap_or(rest));
        }
        start += len + 1;
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// What a shell does to quoting before running a word: `c'a't`, `c"a"t`,
/// `c\at` and cmd.exe's `c^at` all run `cat`; `$IFS` and `${IFS}` are spaces.
/// `None` when there is nothing to undo.
pub(super) fn shell_unquote(norm: &str) -> Option<String> {
    if !norm.bytes().any(|b| is_shell_quote(b) || matches!(b, b'$' | b'`' | b'<' | b'>')) {
        return None;
    }
    let spaced = without_gnu_quotes(norm).replace("${ifs}", " ").replace("$ifs", " ");
    // Empty expansions splice words: `c$@at`, `c$*at`, `c$$at`.
    // Empty substitutions do the same: `ping``x`, `pi$()ng`, `c<()at`, `pi>()ng`.
    let spaced = spaced.replace("$@", "").replace("$*", "").replace("$$", "");
    let spaced = spaced.replace("``", "").replace("$()", "").replace("<()", "").replace(">()", "");
    Some(spaced.chars().filter(|&c| !u8::try_from(c).is_ok_and(is_shell_quote)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contractions_and_splices() {
        for word in ["i'd", "don't", "we'll", "it's", "brien's", "they're"] {
            assert!(is_contraction(word.as_bytes()), "{word}");
        }
        for word in ["l's", "p's", "wge't", "se'd", "netsta't", "w'ho'ami"] {
            assert!(!is_contraction(word.as_bytes()), "{word}");
        }
    }

    #[test]
    fn spliced_view_is_bounded() {
        let value = "a'b ".repeat(100_000);
        let view = spliced_words(&value).unwrap_or_default();
        assert!(
            view.lines().count() <= MAX_SPLICED_WORDS && view.len() <= MAX_SPLICED_WORDS * 201,
            "{}",
            view.len()
        );
        let quotes = "'".repeat(1 << 20);
        assert!(spliced_words(&quotes).is_none(), "no letters: no word");
    }

    #[test]
    fn only_a_short_first_word_of_prose_that_is_code_is_judged_alone() {
        let pad = " word".repeat(30);
        let head = |v: &str| Views::new(v.as_bytes(), Location::Body).prose_head().map(str::to_owned);
        assert_eq!(head(&format!("|env{pad}")).as_deref(), Some("|env"));
        assert_eq!(head(&format!("{};{pad}", "a".repeat(300))), None);
        assert_eq!(head(&format!("word{pad}")), None);
        assert_eq!(head(&format!("{{\"kind\":{pad}")), None);
        assert_eq!(head("|env"), None, "not prose");
    }

    #[test]
    fn prose_is_judged_before_a_nul_and_in_bodies_and_queries_only() {
        let padded = format!("../../app/.env\0{}", " word".repeat(30));
        assert!(!is_prose(&padded));
        let text = "word ".repeat(30);
        assert!(is_prose(&text));
        assert!(!Views::new(text.as_bytes(), Location::Path).get(View::Short).is_empty());
        assert!(!Views::new(text.as_bytes(), Location::Header).get(View::Short).is_empty());
        assert_eq!(Views::new(text.as_bytes(), Location::Query).get(View::Short), "");
        assert_eq!(Views::new(text.as_bytes(), Location::Body).get(View::Short), "");
    }
}
