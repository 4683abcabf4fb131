//! How text quotes what it names: quoted terms ("reproduction," and
//! "distribution"), Texinfo's `` `term' ``, Markdown's code spans and fences.
//! Read as SQL or as a command line, those quotes would close strings and
//! open substitutions; the views take them off where the text is prose (or,
//! for fences and Texinfo's quotes, which no shell runs, everywhere).

use std::borrow::Cow;

/// The value without its Markdown fence lines, as CommonMark reads them:
/// up to three spaces, three or more backquotes, and an info string with no
/// backquote (```` ```id``` ```` on one line is no fence, but substitution).
/// `None` when there is none.
pub(super) fn without_fence_lines(raw: &str) -> Option<String> {
    if !raw.contains("```") {
        return None;
    }
    let is_fence = |line: &str| {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = line.trim_start_matches(' ');
        let ticks = rest.len() - rest.trim_start_matches('`').len();
        indent <= 3 && ticks >= 3 && !rest.get(ticks..).unwrap_or_default().contains('`')
    };
    let mut fenced = false;
    let kept: Vec<&str> = raw
        .split('\n')
        .map(|line| {
            let fence = is_fence(line.trim_end_matches('\r'));
            fenced |= fence;
            if fence { "" } else { line }
        })
        .collect();
    fenced.then(|| kept.join("\n"))
}

/// Longest quoted term [`without_quoted_terms`] takes.
const MAX_QUOTED_TERM: usize = 80;

/// `text` without the quotes around its quoted terms, `None` when it has
/// none. A term opens at the start or after a space or bracket, right
/// before a letter or digit, and closes at the next quote of its kind that
/// is not an apostrophe inside a word (`'don't'`), after a letter, digit
/// or `.,!?` and before the end, a space or punctuation: "reproduction,"
/// and "distribution", `'port' not specified`, Texinfo's `` `using' is ``. A quote that an injection
/// closes follows a value (`admin' or`, `1'='1`) and opens no term.
pub(super) fn without_quoted_terms(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let in_word = |at: usize| {
        at > 0
            && b.get(at - 1).is_some_and(u8::is_ascii_alphanumeric)
            && b.get(at + 1).is_some_and(u8::is_ascii_alphanumeric)
    };
    let opens = |at: usize| {
        (at == 0 || b.get(at - 1).is_some_and(|c| c.is_ascii_whitespace() || b"([{".contains(c)))
            && b.get(at + 1).is_some_and(u8::is_ascii_alphanumeric)
    };
    let closes = |at: usize| {
        b.get(at.wrapping_sub(1)).is_some_and(|c| c.is_ascii_alphanumeric() || b".,!?".contains(c))
            && b.get(at + 1).is_none_or(|c| c.is_ascii_whitespace() || b".,;:!?)]}".contains(c))
    };
    let mut dropped = Vec::new();
    let mut at = 0;
    while let Some(open) = b.get(at..).and_then(|r| r.iter().position(|c| b"'\"`".contains(c))) {
        let open = at + open;
        at = open + 1;
        // Texinfo's `term' closes with an apostrophe.
        let quote = match b.get(open) {
            Some(b'`') => b'\'',
            quote => quote.copied().unwrap_or_default(),
        };
        if !opens(open) {
            continue;
        }
        let close = b
            .get(open + 1..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .take(MAX_QUOTED_TERM)
            .find(|&(i, &c)| c == quote && !in_word(open + 1 + i))
            .map(|(i, _)| open + 1 + i);
        if let Some(close) = close.filter(|&close| closes(close)) {
            dropped.extend([(open, open + 1), (close, close + 1)]);
            at = close + 1;
        }
    }
    (!dropped.is_empty()).then(|| replaced(text, &dropped, ""))
}

/// `norm` with GNU-style quotes around a word (`` `rsh' ``, as Texinfo
/// and old manuals write) taken off: a backquote closed by an apostrophe is
/// no substitution a shell runs (it refuses the unmatched backquote), and
/// read as one it puts a command after a separator.
pub(super) fn without_gnu_quotes(norm: &str) -> Cow<'_, str> {
    let b = norm.as_bytes();
    let is_word = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-');
    let mut dropped = Vec::new();
    let mut i = 0;
    while let Some(at) = b.get(i..).and_then(|r| r.iter().position(|&c| c == b'`')) {
        let start = i + at;
        let len = b.get(start + 1..).unwrap_or_default().iter().take_while(|c| is_word(c)).count();
        let end = start + 1 + len;
        if len > 0 && b.get(end) == Some(&b'\'') {
            dropped.extend([(start, start + 1), (end, end + 1)]);
        }
        i = end.max(start + 1);
    }
    if dropped.is_empty() { Cow::Borrowed(norm) } else { Cow::Owned(replaced(norm, &dropped, "")) }
}

/// Longest code span [`without_code_spans`] takes.
const MAX_CODE_SPAN: usize = 80;

/// `text` (normalised prose) with each Markdown code span replaced by the
/// word `code`, `None` when it has none. A span opens with one or two
/// backquotes at the start or after a space, bracket or quote, before a
/// non-space, and closes at the next run of as many, after a non-space and
/// before the end, a space or punctuation: "the `admin:org` scope",
/// "`\"utf-8\"` and `\"base64\"` are supported", "like `mkdir -p`". Prose
/// names code so, and what a span holds is no part of the sentence's SQL or
/// command line (its quotes close nothing); an injected `` `id` `` comes
/// after a value (`a`id``, `;`id``), which opens no span. The normalised
/// view still reads every span.
pub(super) fn without_code_spans(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while let Some(open) = b.get(at..).and_then(|r| r.iter().position(|&c| c == b'`')) {
        let open = at + open;
        let ticks = b.get(open..).unwrap_or_default().iter().take_while(|&&c| c == b'`').count();
        at = open + ticks;
        let opens = (open == 0
            || b.get(open - 1).is_some_and(|c| c.is_ascii_whitespace() || b"([{\"'".contains(c)))
            && b.get(open + ticks).is_some_and(|c| !c.is_ascii_whitespace());
        if ticks > 2 || !opens {
            continue;
        }
        let Some(close) = closing_run(b, open + ticks, ticks, MAX_CODE_SPAN) else { continue };
        let end = close + ticks;
        let closes = b.get(close.wrapping_sub(1)).is_some_and(|c| !c.is_ascii_whitespace())
            && b.get(end).is_none_or(|c| c.is_ascii_whitespace() || b".,;:!?)]}\"'".contains(c));
        if closes {
            spans.push((open, end));
            at = end;
        }
    }
    (!spans.is_empty()).then(|| replaced(text, &spans, "code"))
}

/// `text` with each of the byte ranges `ranges` (in order, not
/// overlapping, on character boundaries) replaced by `with`.
fn replaced(text: &str, ranges: &[(usize, usize)], with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for &(start, end) in ranges {
        out.push_str(text.get(copied..start).unwrap_or_default());
        out.push_str(with);
        copied = end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// Where the first run of exactly `ticks` backquotes at or after `from`
/// starts, within `max` bytes (a code span's close; the SQL lexer's
/// backquoted names too).
pub(super) fn closing_run(b: &[u8], from: usize, ticks: usize, max: usize) -> Option<usize> {
    let mut at = from;
    while at < from + max {
        let start = at + b.get(at..)?.iter().position(|&c| c == b'`')?;
        let run = b.get(start..)?.iter().take_while(|&&c| c == b'`').count();
        if run == ticks {
            return (start < from + max).then_some(start);
        }
        at = start + run;
    }
    None
}

/// Whether a SQL comment follows a string left open (`admin' --`,
/// `x') #`, `"; --`: a quote of a kind seen an odd number of times up to
/// it, which closes the application's string) or a number's `)` (`1) --`).
/// Prose closes the quotes it opens: in `"next version or API" or "Final
/// Version of API" -- is there an ETA?` the quote before the dash is the
/// fourth. Rule 1010 reads these sites; this says whether one breaks out.
pub(super) fn breaks_out_before_comment(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut seen = [0usize; 3];
    for (at, &c) in b.iter().enumerate() {
        let kind = match c {
            b'\'' => Some(0),
            b'"' => Some(1),
            b'`' => Some(2),
            _ => None,
        };
        let site = match kind {
            Some(kind) => {
                seen[kind] += 1;
                seen[kind] % 2 == 1 && (at == 0 || b.get(at - 1) != Some(&b'='))
            }
            None => c == b')' && at > 0 && b.get(at - 1).is_some_and(u8::is_ascii_digit),
        };
        if site && comment_follows(b.get(at + 1..).unwrap_or_default()) {
            return true;
        }
    }
    false
}

/// `rest` past its leading whitespace and `also`.
fn skip_over(rest: &[u8], also: u8) -> &[u8] {
    let n = rest.iter().take_while(|&&c| c.is_ascii_whitespace() || c == also).count();
    rest.get(n..).unwrap_or_default()
}

/// `\s*\)*\s*` then `--`, `#` (not `##`), `;` before `--`, `#` or the
/// end, or `{``: what 1010 reads after its quote.
fn comment_follows(rest: &[u8]) -> bool {
    let rest = skip_over(rest, b')');
    match rest {
        [b'-', b'-', ..] | [b'{', b'`', ..] => true,
        [b'#', next, ..] => *next != b'#',
        [b'#'] => true,
        [b';', after @ ..] => {
            let after = skip_over(after, b' ');
            after.is_empty() || after.starts_with(b"--") || after.starts_with(b"#")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_lines_are_not_substitutions() {
        let readme = "Install:\n\n```bash\nnpm install x\n```\n";
        assert_eq!(without_fence_lines(readme).as_deref(), Some("Install:\n\n\nnpm install x\n\n"));
        assert_eq!(without_fence_lines("```id```"), None, "one line: substitution, not a fence");
        assert_eq!(without_fence_lines("    ```sh"), None, "indented four spaces: code, not a fence");
        assert_eq!(without_fence_lines("no fence"), None);
    }

    #[test]
    fn quoted_terms_lose_their_quotes() {
        let text = r#"the terms "reproduce," "reproduction," and "distribution" have; 'port' not specified"#;
        assert_eq!(
            without_quoted_terms(text).as_deref(),
            Some("the terms reproduce, reproduction, and distribution have; port not specified")
        );
        assert_eq!(without_quoted_terms("say 'don't' or (\"yes\")").as_deref(), Some("say don't or (yes)"));
        assert_eq!(without_quoted_terms("where `using' is").as_deref(), Some("where using is"));
        for injection in ["admin' or '1'='1", "x\" or \"a\"=\"a", "1' union select 'a", "'a'='a' --"] {
            let kept = without_quoted_terms(injection).unwrap_or_default();
            assert!(kept.is_empty() || kept.contains(['\'', '"']), "{injection}: {kept}");
        }
    }

    #[test]
    fn gnu_quotes_are_not_substitutions() {
        assert_eq!(
            without_gnu_quotes("# kerberized `rsh' (v5), see `man'"),
            "# kerberized rsh (v5), see man"
        );
        assert_eq!(without_gnu_quotes("a;`id`"), "a;`id`");
        assert_eq!(without_gnu_quotes("`' `"), "`' `");
    }

    #[test]
    fn code_spans_are_words() {
        assert_eq!(
            without_code_spans("the `admin:org` scope; `\"base64\"`, or ``a`b``, like `mkdir -p`.")
                .as_deref(),
            Some("the code scope; code, or code, like code.")
        );
        for substitution in ["a`id`", ";`id`", "x=`whoami`", "```sh", "` id`"] {
            assert_eq!(without_code_spans(substitution), None, "{substitution}");
        }
    }

    #[test]
    fn a_comment_after_an_open_string_breaks_out() {
        use super::breaks_out_before_comment as breaks;
        for sql in ["admin' --", "x') #", "1\" ; --", "1) --", "' or 'a'='a' --", "x'{`"] {
            assert!(breaks(sql), "{sql}");
        }
        for text in [
            "\"next version or api\" or \"final version of api\" -- is there an eta?",
            "the 'x' -- and the 'y' ## heading",
            "a=' --",
        ] {
            assert!(!breaks(text), "{text}");
        }
    }
}
