//! Search queries that APIs take as a value (GitHub's `q`, Lucene's and
//! Elasticsearch's query strings, a search box): terms, quoted phrases,
//! boolean words and qualifiers, as in `"not found" OR "missing"` or
//! `"union station" chicago`. To SQL's signs a phrase reads as a quote
//! closed then a word (`" OR`, `"union`); a value that is such a query from
//! its first byte to its last has those signs without an injection, and
//! they are set aside ([`QUOTE_SIGNS`]); every other sign of SQL counts.
//!
//! Why no injection fits the grammar below. Phrases are double-quoted and
//! hold no quote, so in a single-quoted or backquoted string the whole
//! value is data. In a double-quoted string each phrase's text becomes code
//! between two strings (`q = "" TEXT " rest"`): code that starts on an
//! operator (`is not null or q like`) and ends on a word taking the string
//! after it, which the last word of a phrase may not be ([`TAKES_STRING`]);
//! the characters of comments, comparisons, calls and statement ends are
//! not allowed in it. Unquoted, the terms are code: `"a" OR id` is then
//! `a OR id`, which no quote sign judges either; a phrase starts on a
//! letter, so it is no number (`"1"`) a comparison could take as true.

/// The SQL signs a search query's phrases fire: a quote then a boolean
/// word (1002) or a keyword (1023, 1030), and the tokenizing detector's
/// verdict (1200), which reads the same quotes.
pub const QUOTE_SIGNS: &[u32] = &[1002, 1023, 1030, 1200];

/// Longest query judged: longer values are documents, not queries.
const MAX_QUERY: usize = 512;

/// Words after which SQL takes a string: a phrase ending on one would join
/// the text after it as that string (`... or q like" rest"`). Charset
/// introducers (`_utf8mb4`) start with `_` and are refused apart.
const TAKES_STRING: &str = "like rlike ilike regexp glob match sounds similar to collate binary not escape or and xor div mod is in \
    between interval date time timestamp n x b concat from select where then else when case by";

/// Whether the whole of `text` is a search query with at least one phrase.
pub fn is_search_query(text: &str) -> bool {
    // Terms may hold `-`, `/` and `*` (`-java`, `a/b`, `foo*`), not the
    // comments they spell together, as in `waf::filters`.
    if text.len() > MAX_QUERY || !text.contains('"') || text.contains("--") || text.contains("/*") {
        return false;
    }
    let b = text.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while let Some(&c) = b.get(i) {
        i += match c {
            _ if c.is_ascii_whitespace() => 1,
            b'(' => {
                depth += 1;
                1
            }
            b')' => match depth.checked_sub(1) {
                Some(d) => {
                    depth = d;
                    1
                }
                None => return false,
            },
            _ => match item_len(b.get(i..).unwrap_or_default()) {
                Some(len) => len,
                None => return false,
            },
        };
    }
    depth == 0
}

/// The length of the item `s` starts with: an optional `-`/`+`, an optional
/// qualifier (`stars:>100`, `in:title`), then a phrase or a term, ending at
/// whitespace, `)` or the end.
fn item_len(s: &[u8]) -> Option<usize> {
    let mut i = usize::from(matches!(s.first(), Some(b'-' | b'+')));
    if let Some(colon) = qualifier_len(s.get(i..)?) {
        i += colon;
        i += s.get(i..)?.iter().take_while(|&&c| matches!(c, b'>' | b'<' | b'=')).count().min(2);
    }
    let len = match s.get(i) {
        Some(b'"') => phrase_len(s.get(i..)?)?,
        _ => s.get(i..)?.iter().take_while(|&&c| is_term_byte(c)).count(),
    };
    let end = i + len;
    let ends = matches!(s.get(end), None | Some(b')')) || s.get(end).is_some_and(u8::is_ascii_whitespace);
    (len > 0 && ends).then_some(end)
}

/// `name:` opening a qualifier, its length with the colon.
fn qualifier_len(s: &[u8]) -> Option<usize> {
    let name =
        s.iter().take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')).count();
    let starts_alpha = s.first().is_some_and(u8::is_ascii_alphabetic);
    (starts_alpha && name > 0 && s.get(name) == Some(&b':')).then_some(name + 1)
}

/// Bytes of a bare term: words, versions, paths, wildcards, dates and
/// ranges (`2024-01-01..2024-02-01`); no quote, comment, comparison,
/// statement end or call.
fn is_term_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, b'_' | b'.' | b'-' | b'*' | b'/' | b'@' | b'~' | b'^' | b'?' | b'+')
        || c >= 0x80
}

/// The length of the phrase `s` opens (quotes included), if its text is
/// words a double-quoted string could not turn into code (see the module).
fn phrase_len(s: &[u8]) -> Option<usize> {
    let close = s.get(1..)?.iter().position(|&c| c == b'"')? + 1;
    let text = std::str::from_utf8(s.get(1..close)?).ok()?;
    let plain = text.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || c >= 0x80
            || matches!(c, b' ' | b'.' | b',' | b'!' | b'?' | b'-' | b'&' | b'/' | b':')
    });
    let starts_on_letter = text.chars().next().is_some_and(char::is_alphabetic);
    let last = text.rsplit(|c: char| !c.is_alphanumeric() && c != '_').find(|w| !w.is_empty())?;
    let ends_on_data = text.ends_with(|c: char| c.is_alphanumeric() || matches!(c, '.' | '!' | '?'))
        && !TAKES_STRING.split_whitespace().any(|w| last.eq_ignore_ascii_case(w))
        && !last.starts_with('_');
    (plain && starts_on_letter && ends_on_data).then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::is_search_query as search;

    #[test]
    fn queries_people_write_are_search_queries() {
        for q in [
            r#""select a plan" OR "union station""#,
            r#""not found" OR "missing""#,
            r#""in the news" AND politics"#,
            r#""union station" chicago"#,
            r#"is:open "select a plan""#,
            r#"rust "async runtime" OR tokio"#,
            r#"("rust async" OR "tokio runtime") -java"#,
            r#""error handling" language:rust stars:>100 created:2024-01-01..2024-06-30"#,
            r#"title:"release notes" OR body:"changelog""#,
            r#"-"from scratch" +tutorial"#,
            r#""São Paulo" OR "Zürich""#,
        ] {
            assert!(search(q), "{q}");
        }
    }

    #[test]
    fn injections_are_not() {
        for q in [
            r#"" OR "1"="1"#,
            r#"admin" OR "1"="1" --"#,
            r#""a" or "1""#,
            r#"" OR 1 OR ""#,
            r#"x "is not null or q like" y"#,
            r#"x "is not null or binary" y"#,
            r#"x "is not null or date" y"#,
            r#"x "union select password from users where _utf8mb4" y"#,
            r#""a";drop table users"#,
            r#""a" OR sleep(5)"#,
            r#""a" #"#,
            r#""a" --"#,
            r#""a" /* x */ OR id"#,
            r#"1" OR "a"#,
            r#""a" OR 'b'"#,
            r#"("a" OR "b""#,
            r#""a")) OR (("b""#,
            "no phrase OR at all",
        ] {
            assert!(!search(q), "{q}");
        }
    }
}
