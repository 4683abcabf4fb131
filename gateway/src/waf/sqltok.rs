//! A small SQL lexer in the spirit of libinjection: a value is split into
//! SQL tokens and judged on its shape rather than on fixed strings. Prose is
//! mostly plain words; an injected fragment is mostly keywords, operators,
//! quotes and function calls, even when it is short (`1=1`, `IS NULL`,
//! `concat(`).
//!
//! Linear in the value, no allocation but the lowercase word being looked up.

/// Functions whose name followed by `(` is SQL rather than prose.
const FUNCS: &[&str] = &[
    "abs",
    "ascii",
    "avg",
    "benchmark",
    "bin",
    "cast",
    "ceil",
    "ceiling",
    "char",
    "char_length",
    "chr",
    "coalesce",
    "compress",
    "concat",
    "concat_ws",
    "conv",
    "convert",
    "cos",
    "count",
    "current_user",
    "database",
    "date",
    "day",
    "db_name",
    "decode",
    "elt",
    "encode",
    "exp",
    "extractvalue",
    "field",
    "find_in_set",
    "floor",
    "format",
    "greatest",
    "group_concat",
    "hex",
    "iif",
    "if",
    "ifnull",
    "insert",
    "instr",
    "isnull",
    "json_extract",
    "json_keys",
    "jsonb_pretty",
    "lcase",
    "least",
    "left",
    "length",
    "ln",
    "load_file",
    "locate",
    "log",
    "lower",
    "lpad",
    "ltrim",
    "max",
    "md5",
    "mid",
    "min",
    "minute",
    "mod",
    "month",
    "now",
    "nullif",
    "nvl",
    "oct",
    "ord",
    "overlay",
    "pg_sleep",
    "pi",
    "position",
    "pow",
    "power",
    "quarter",
    "rand",
    "random",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "rpad",
    "rtrim",
    "schema",
    "schema_name",
    "sha1",
    "sha2",
    "sign",
    "sin",
    "sleep",
    "space",
    "sqrt",
    "starts_with",
    "strcmp",
    "substr",
    "substring",
    "sum",
    "sysdate",
    "tan",
    "trim",
    "ucase",
    "unhex",
    "unistr",
    "updatexml",
    "upper",
    "user",
    "uuid",
    "values",
    "version",
    "year",
];

/// Operator keywords: they relate operands.
const OP_KW: &[&str] = &[
    "and", "or", "xor", "not", "like", "rlike", "regexp", "glob", "between", "is", "in", "div", "null",
    "sounds", "escape", "collate", "notnull", "isnull",
];

/// Statement keywords.
const STMT_KW: &[&str] = &[
    "select",
    "union",
    "from",
    "where",
    "having",
    "order",
    "group",
    "by",
    "limit",
    "offset",
    "insert",
    "into",
    "values",
    "update",
    "set",
    "delete",
    "drop",
    "alter",
    "create",
    "table",
    "exec",
    "execute",
    "declare",
    "case",
    "when",
    "then",
    "else",
    "end",
    "as",
    "join",
    "except",
    "intersect",
    "waitfor",
    "delay",
    "truncate",
    "procedure",
    "returns",
    "varchar",
    "nvarchar",
    "jsonb",
];

#[derive(Default, Debug)]
struct Shape {
    words: u32,
    nums: u32,
    op_kw: u32,
    stmt_kw: u32,
    funcs: u32,
    /// `=`, `<`, `>`, `!=`, `||`, `&&`, `::`, `<@`, ...
    cmp: u32,
    quotes: u32,
    /// Closed `'...'` or `"..."` literals of letters and spaces alone.
    quoted_words: u32,
    comments: u32,
    semis: u32,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'$' | b'.')
}

fn is_quote(c: char) -> bool {
    matches!(c, '\'' | '"' | '`' | '\u{2018}' | '\u{2019}' | '\u{00b4}' | '\u{201c}' | '\u{201d}')
}

/// Every verdict of [`looks_like_sql`] needs at most this many plain words,
/// so lexing stops at the next one: prose is decided at its second word.
const MAX_WORDS: u32 = 1;

fn lex(text: &str) -> Shape {
    let mut s = Shape::default();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if s.words > MAX_WORDS {
            break;
        }
        if b.is_ascii_whitespace() || b == b',' || b == b'(' || b == b')' {
            i += 1;
            continue;
        }
        // `<div></div>`, `<select>`: markup, not `<`, `div` and `>`.
        if let Some(len) = bare_tag_len(bytes.get(i..).unwrap_or_default()) {
            i += len;
            continue;
        }
        if is_word_byte(b) {
            let start = i;
            while bytes.get(i).is_some_and(|&c| is_word_byte(c)) {
                i += 1;
            }
            // Letters joined by hyphens are one word: a language or region
            // tag (`or-IN`, `IN-AS`) or a compound, never two keywords.
            if b.is_ascii_alphabetic() {
                while bytes.get(i) == Some(&b'-') && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                    while bytes.get(i).is_some_and(|&c| is_word_byte(c)) {
                        i += 1;
                    }
                }
            }
            let word = text.get(start..i).unwrap_or_default().trim_matches('.');
            let next = bytes.get(i..).unwrap_or_default().iter().find(|c| !c.is_ascii_whitespace());
            if word.is_empty() {
                continue;
            }
            if word.bytes().all(|c| c.is_ascii_digit() || c == b'.') || word.starts_with("0x") {
                s.nums += 1;
            } else if next == Some(&b'(') && FUNCS.contains(&word) {
                s.funcs += 1;
            } else if OP_KW.contains(&word) {
                s.op_kw += 1;
            } else if STMT_KW.contains(&word) {
                s.stmt_kw += 1;
            } else {
                s.words += 1;
            }
            continue;
        }
        if let Some(len) = text_mark_len(bytes, i) {
            i += len;
            continue;
        }
        let Some(c) = text.get(i..).and_then(|r| r.chars().next()) else { break };
        let len = c.len_utf8();
        // A backquoted name is a word, as libinjection reads MySQL's
        // identifiers (and as Markdown's code spans and reStructuredText's
        // literals are: `Rename \`Foo\` into \`Bar\``, ``` ``pip`` ```),
        // not a string literal; but a qualified one (\`db\`.\`table\`) is
        // SQL's alone.
        if let Some((name, span)) =
            backquoted(bytes, i).filter(|&(_, span)| !qualified_name(bytes, i, i + span - 1))
        {
            // `1`=`1`: a number, backquoted, is no word of prose either.
            if name.iter().all(u8::is_ascii_digit) {
                s.nums += 1;
            } else {
                s.words += 1;
            }
            i += span;
            continue;
        }
        if is_quote(c) {
            s.quotes += 1;
            // A string literal is one token, whatever it holds.
            let rest = text.get(i + len..).unwrap_or_default();
            if let Some(end) = rest.find(c).filter(|&e| e <= 200) {
                let inside = rest.get(..end).unwrap_or_default();
                if c != '`'
                    && inside.bytes().filter(u8::is_ascii_alphabetic).count() >= 2
                    && inside.bytes().all(|b| b.is_ascii_alphabetic() || b == b' ')
                {
                    s.quoted_words += 1;
                }
                i += len + end + len;
                s.quotes += 1;
                continue;
            }
        } else if b == b';' {
            s.semis += 1;
        } else if let Some(len) = number_format_len(bytes.get(i..).unwrap_or_default()) {
            // `#,##0.00`: an ICU/Excel number pattern, not a `#` comment.
            i += len;
            continue;
        } else if b == b'#' || (b == b'-' && bytes.get(i + 1) == Some(&b'-')) {
            s.comments += 1;
            i += 1;
        } else if matches!(b, b'=' | b'<' | b'>' | b'!' | b'|' | b'&' | b':' | b'?' | b'~' | b'^') {
            let start = i;
            while bytes.get(i).is_some_and(|c| b"=<>!|&:?~^@-".contains(c)) {
                i += 1;
            }
            let op = text.get(start..i).unwrap_or_default();
            // A lone `:`, `?`, `!` or `~` is punctuation in prose.
            if !matches!(op, ":" | "?" | "!" | "~" | "!!" | "?!" | "!?" | "^") {
                s.cmp += 1;
            }
            continue;
        } else if !c.is_alphanumeric() {
            // Other punctuation: neutral.
        } else {
            // Non-ASCII letters: a word of prose.
            s.words += 1;
            i += len;
            while let Some(ch) = text.get(i..).and_then(|r| r.chars().next()) {
                if !(ch.is_alphanumeric() || ch == '.') {
                    break;
                }
                i += ch.len_utf8();
            }
            continue;
        }
        i += len;
    }
    s
}

/// The length of a text mark at `at`: a code fence's backquotes (three
/// or more, which quote no SQL identifier), a heading's `#`s opening the
/// value, before a space (`## Installation`, not a `#` comment), or a rule
/// line of four or more dashes (`+------+`, a title's underline, not a `--`
/// comment). (Lines are joined by the normalisation, so only the first
/// heading is seen as one.)
fn text_mark_len(bytes: &[u8], at: usize) -> Option<usize> {
    let rest = bytes.get(at..)?;
    let first = *rest.first()?;
    let len = rest.iter().take_while(|&&c| c == first).count();
    match first {
        b'`' if len >= 3 => Some(len),
        b'#' if at == 0 && len <= 6 && rest.get(len) == Some(&b' ') => Some(len),
        b'-' if len >= 4 => Some(len),
        _ => None,
    }
}

/// The name between one or two backquotes at `at` and a run of as many
/// closing ones, and the whole span's length; `None` when none closes it
/// within 200 bytes or nothing is between.
fn backquoted(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let ticks = bytes.get(at..)?.iter().take_while(|&&b| b == b'`').count();
    let open = at + ticks;
    let close = super::quoting::closing_run(bytes, open, ticks, 201).filter(|_| (1..=2).contains(&ticks))?;
    let name = bytes.get(open..close).filter(|name| !name.is_empty())?;
    Some((name, close + ticks - at))
}

/// Whether the backquoted name from `open` to `close` (its two backquotes)
/// is joined by a `.` to another one, before or after it.
fn qualified_name(bytes: &[u8], open: usize, close: usize) -> bool {
    let after = bytes.get(close + 1..close + 3) == Some(b".`");
    let before = open.checked_sub(2).and_then(|at| bytes.get(at..open)) == Some(b"`.");
    after || before
}

/// The length of a bare HTML tag at the start of `rest` (`<b>`, `</div>`,
/// `<br/>`): a name of letters and digits, no attribute. SQL compares with
/// `<` and `>` around operands and spaces, never around a lone keyword.
fn bare_tag_len(rest: &[u8]) -> Option<usize> {
    let name_at = 1 + usize::from(rest.get(1) == Some(&b'/'));
    let name = rest.get(name_at..)?.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
    let close_at = name_at + name;
    let close = match rest.get(close_at..)? {
        [b'>', ..] => 1,
        [b'/', b'>', ..] if name_at == 1 => 2,
        _ => return None,
    };
    let starts_with_letter = rest.get(name_at).is_some_and(u8::is_ascii_alphabetic);
    (rest.first() == Some(&b'<') && starts_with_letter).then_some(close_at + close)
}

/// The length of a number pattern (`#,##0.00`, `#0.###`) at the start of
/// `rest`: `#` and `0` placeholders, grouping and decimal marks, with at
/// least one of each placeholder. `None` when `rest` does not start with one.
fn number_format_len(rest: &[u8]) -> Option<usize> {
    let len = rest.iter().take_while(|c| matches!(c, b'#' | b'0' | b',' | b'.')).count();
    let run = rest.get(..len)?;
    (rest.first() == Some(&b'#') && len >= 3 && run.contains(&b'0')).then_some(len)
}

/// Microsoft's JSON date (`/Date(1573516185258)/`, `\/Date(1573171200000+0000)\/`),
/// which ASP.NET, WCF and the APIs built on them write for every date: a
/// function call to the lexer, and data.
fn is_json_date(text: &str) -> bool {
    let text = text.trim();
    let inner = text.strip_prefix("\\/").or_else(|| text.strip_prefix('/'));
    let inner = inner.and_then(|t| t.strip_suffix("\\/").or_else(|| t.strip_suffix('/')));
    let Some(call) = inner.and_then(|t| t.strip_prefix("date(")).and_then(|t| t.strip_suffix(')')) else {
        return false;
    };
    let millis = call.strip_prefix('-').unwrap_or(call);
    let (millis, offset) = match millis.find(['+', '-']) {
        Some(at) => millis.split_at(at),
        None => (millis, ""),
    };
    let digits = |t: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    };
    digits(millis, 1..=16) && (offset.is_empty() || digits(offset.get(1..).unwrap_or_default(), 4..=4))
}

/// Whether a normalised value (lowercase, comments stripped) is shaped like
/// an injected SQL fragment rather than data or prose.
pub fn looks_like_sql(text: &str) -> bool {
    if text.len() > 2048 || is_json_date(text) {
        return false;
    }
    let s = lex(text);
    let kinds = [s.op_kw + s.stmt_kw, s.funcs, s.cmp, s.quotes, s.comments, s.semis]
        .iter()
        .filter(|&&n| n > 0)
        .count();
    let sql = s.op_kw + s.stmt_kw + s.funcs + s.cmp + s.quotes + s.comments + s.semis + s.nums;
    // `concat(`, `now(`, `select(user(`: function calls and nothing else.
    if s.funcs >= 1 && s.words == 0 {
        return true;
    }
    // `Is it "color" or "colour"?`, `Select "Monthly" or "Annual" billing`:
    // quoted words joined by keywords, and nothing else of SQL, are prose.
    let quotes_are_words = s.quotes > 0 && s.quotes == 2 * s.quoted_words;
    if quotes_are_words && s.cmp + s.funcs + s.comments + s.semis + s.nums == 0 {
        return false;
    }
    // `IS NULL`, `not regexp`, `42 like 42`, `1=1`, `'a'='a'`: operators and
    // operands only, no word of prose.
    // Not the alternatives of prose ("and/or"): keywords joined by `/`.
    if s.words == 0
        && s.op_kw >= 1
        && (s.op_kw - 1 + s.cmp + s.quotes + s.stmt_kw) >= 1
        && !slashed_words(text)
    {
        return true;
    }
    if s.words == 0 && s.cmp + s.op_kw >= 1 && (tautology(text) || true_inequality(text)) {
        return true;
    }
    // Longer fragments: at least two kinds of SQL syntax and at most one
    // plain word among them.
    s.words <= 1 && kinds >= 2 && sql >= 5
}

/// `1=1`, `'a'='a'`, `42 like 42`: the same operand on both sides of an
/// equality, which only an injected condition writes.
/// Letters joined by `/` and nothing else (`and/or`, `AND/OR/NOT`).
fn slashed_words(text: &str) -> bool {
    let text = text.trim();
    text.contains('/') && text.split('/').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphabetic()))
}

fn tautology(text: &str) -> bool {
    ["<=>", "==", "=", " like "].iter().any(|op| {
        text.split_once(op).is_some_and(|(l, r)| {
            let l = l.trim().trim_start_matches(|c: char| !c.is_alphanumeric() && !is_quote(c));
            let r = r.trim().trim_end_matches([')', ';', '-', '#']);
            let r = r.trim();
            !l.is_empty() && l == r
        })
    })
}

/// `11!=1`, `1 <> 2`: two different numbers compared for inequality, the
/// other always-true condition (`11!=11` is always false, and no probe).
fn true_inequality(text: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    ["!=", "<>"].iter().any(|op| {
        text.split_once(op).is_some_and(|(l, r)| {
            let (l, r) = (l.trim(), r.trim());
            number(l) && number(r) && l != r
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{is_json_date, looks_like_sql};

    #[test]
    fn fragments() {
        for f in [
            "concat (",
            "now(",
            "is null",
            "42 like 42",
            "1=1",
            "11!=1",
            "'1'='1'",
            "1 union select null, 2 --",
            "select(user(",
            "or '{\"b\":2}'::jsonb <@ '{\"a\":1}'",
            "or '[1,2]' ? '1'",
            "from `db`.`t` limit",
            "`1`=`1`",
            "1 or-1=1",
            "1 or 1=1#,",
            "1 or 1=1 # x",
            "1<2 or 2>1",
            "x<>1 or 1=1 <b>",
        ] {
            assert!(looks_like_sql(f), "{f}");
        }
    }

    #[test]
    fn json_dates_are_data() {
        for date in ["/date(1573516185258)/", "\\/date(1573171200000+0000)\\/", "/date(-1000-0500)/"] {
            assert!(is_json_date(date) && !looks_like_sql(date), "{date}");
        }
        for other in ["/date(now())/", "date(1)", "/date(1) or 1=1/", "/date(1+1)/"] {
            assert!(!is_json_date(other), "{other}");
        }
        assert!(looks_like_sql("date(now())"));
    }

    #[test]
    fn prose_and_data() {
        for p in [
            "select",
            "order by",
            "like",
            "o'brien",
            "r$ 1.299,90",
            "2024-01-01",
            "12 x 3 = 36",
            "11!=11",
            "time (utc)",
            "please select the union members from the list",
            "and/or",
            "<div></div>",
            "<select></select>",
            "<table><tr><td>1</td></tr></table>",
            "it's the customer's choice: select one option (or more)",
            "+55 (11) 98765-4321",
            "https://example.com/a?x=1&y=2",
            "sean.o'brien@example.ie",
            "is it \"color\" or \"colour\"?",
            "select \"monthly\" or \"annual\" billing.",
            "answer 'true' or 'false'.",
            "or-in",
            "in-as",
            "is-in",
            "#,##0.00\u{a0}\u{a4};(#,##0.00\u{a0}\u{a4})",
            "\u{a4}#,##0.00;(\u{a4}#,##0.00)",
            "## installation\n\n```sh\n$ npm install body-parser\n```",
            "+------------+ | disclaimer | +------------+",
            "rename `tokenizer::set_fragment_mode` into `enable_fragment_mode`.",
            "`limit` methods `into_inner`, `get_ref`, `get_mut`, `limit`, and `set_limit` (#325).",
            "rename `ioevent` -> `event`",
            "===============\n``referencing``\n===============",
            "* ``matchobject.starts([group])``",
        ] {
            assert!(!looks_like_sql(p), "{p}");
        }
    }
}
