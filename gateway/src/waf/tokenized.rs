//! libinjection's detectors: a value is tokenized as SQL in each quoting
//! context (bare, after `'`, after `"`) and the folded token types matched
//! against fingerprints of known injections; for XSS it is parsed as HTML
//! in each context (text, attribute values) and judged by the tags,
//! attributes and URLs it would create. Both generalise beyond the strings
//! the signature tables were written for, which is why they are here.
//!
//! The detectors are libinjection 3.9.2's, through a patched copy of the
//! `libinjectionrs` port (`third_party/libinjectionrs/PATCHES.md`), whose
//! verdicts `tests/waf_libinjection.rs` compares with the C library's.

use super::rules::{CRITICAL, Rule, View, rule};
use super::{Class, Location, decode};
use std::borrow::Cow;

/// libinjection's SQLi verdict (the rule id the access log carries), asked
/// only of a value with something of SQL about it: a quote, a comment or a
/// keyword an injection needs. The tokenizer reads prose as SQL too
/// (`pkg (1.0-1) unstable; urgency=medium` is `nok(1`): on the tuning part,
/// its verdicts on values without those were never what told an attack
/// (scored 0, 4 or 5, every attack verdict was the same) but were wrong on
/// 0.3% of Debian's prose; and not asking saves its cost on most values.
pub static SQLI: Rule = rule(1200, Class::Sqli, CRITICAL, View::Raw, "");

/// libinjection's XSS verdict, asked only of a value with markup or a
/// script URL (`style=color:red` alone is no attack).
pub static XSS: Rule = rule(2200, Class::Xss, CRITICAL, View::Raw, "");

/// The XSS parser's cost grows with the markup it meets (~0.5 ms per KiB of
/// `<`); a long value is judged in overlapping windows instead, so the cost
/// stays linear and every payload shorter than the overlap is seen whole.
const XSS_WINDOW: usize = 4096;
const XSS_OVERLAP: usize = 2048;

/// The rules a decoded value triggers. The path is not judged: routes
/// (`/v1/ingest/a-b`) are not data, and traversal rules read it.
pub fn judge(decoded: &[u8], location: Location) -> impl Iterator<Item = &'static Rule> {
    let judged = location != Location::Path && worth_judging(decoded);
    let input = if judged { without_nul(decoded) } else { Cow::Borrowed(&[][..]) };
    let sql_input = if judged { without_path_globs(&input) } else { Cow::Borrowed(&[][..]) };
    let sqli = judged && sql_anchor(&sql_input) && !number_mask(&sql_input) && sqli_in(&sql_input);
    let xss = judged
        && markup_anchor(&input)
        && xss_in(&super::inert::without_inert_attributes(&without_processing_instructions(&input)));
    [(sqli, &SQLI), (xss, &XSS)].into_iter().filter_map(|(hit, rule)| hit.then_some(rule))
}

/// Words without which no SQL injection reads or changes data; with the
/// quotes and comments, what makes a value worth a [`SQLI`] verdict.
const SQL_WORDS: [&[u8]; 24] = [
    b"select",
    b"union",
    b"insert",
    b"update",
    b"delete",
    b"drop",
    b"exec",
    b"execute",
    b"sleep",
    b"benchmark",
    b"waitfor",
    b"or",
    b"and",
    b"xor",
    b"having",
    b"order",
    b"group",
    b"like",
    b"null",
    b"into",
    b"load_file",
    b"information_schema",
    b"declare",
    b"case",
];

fn sql_anchor(input: &[u8]) -> bool {
    if memchr::memchr3(b'\'', b'"', b'`', input).is_some()
        || memchr::memchr2(b'#', b'@', input).is_some()
        || decode::contains_ignore_ascii_case(input, b"--")
        || decode::contains_ignore_ascii_case(input, b"/*")
    {
        return true;
    }
    input.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_')).any(is_sql_word)
}

/// One of [`SQL_WORDS`], in any case.
fn is_sql_word(word: &[u8]) -> bool {
    const LONGEST: usize = "information_schema".len();
    let mut lower = [0u8; LONGEST];
    let Some(into) = lower.get_mut(..word.len()).filter(|_| word.len() >= 2) else { return false };
    into.copy_from_slice(word);
    into.make_ascii_lowercase();
    SQL_WORDS.contains(&&*into)
}

/// A phone or number mask (`(050) ###-##-##`, `+7 (###) ###-####`): digits,
/// spaces, `()+-.` and placeholders in runs of two or more. A `#` alone
/// would be MySQL's comment (`1) #`); runs of them are Faker's and
/// libphonenumber's digit placeholders.
fn number_mask(input: &[u8]) -> bool {
    let mask_byte =
        |b: &u8| b.is_ascii_digit() || matches!(b, b'#' | b' ' | b'(' | b')' | b'+' | b'-' | b'.');
    input.iter().all(mask_byte)
        && input.windows(2).any(|w| w == b"##")
        && input.split(|&b| b != b'#').all(|run| run.is_empty() || run.len() >= 2)
}

fn markup_anchor(input: &[u8]) -> bool {
    let has = |needle: &[u8]| decode::contains_ignore_ascii_case(input, needle);
    memchr::memchr(b'<', input).is_some()
        || (memchr::memchr(b':', input).is_some() && (has(b"script:") || has(b"data:")))
        || (memchr::memchr(b'(', input).is_some() && has(b"expression("))
}

/// A value of letters, digits and `_` alone is one SQL token and no markup:
/// neither detector can fire on it (checked over a dictionary in the tests),
/// and such values are most of what an API carries.
fn worth_judging(decoded: &[u8]) -> bool {
    !decoded.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The C library reads NUL as whitespace where the port does not
/// (PATCHES.md): `1'\0or\01=1` must tokenize as it would in C.
fn without_nul(decoded: &[u8]) -> Cow<'_, [u8]> {
    if decoded.contains(&0) {
        Cow::Owned(decoded.iter().map(|&b| if b == 0 { b' ' } else { b }).collect())
    } else {
        Cow::Borrowed(decoded)
    }
}

/// `<?xml version="1.0"?>` and `<?xml-stylesheet ...?>` are what XML
/// documents open with; a browser reads them as bogus comments, never as
/// markup, but the XSS detector flags them. Those are removed before
/// judging; any other `<?` stays (inside an attribute, `<? " onfocus=...>`
/// breaks out), and the PHP rules read `<?php`.
fn without_processing_instructions(input: &[u8]) -> Cow<'_, [u8]> {
    let opens = |w: &[u8]| decode::strip_prefix_ignore_ascii_case(w, b"<?xml").is_some();
    if !decode::contains_ignore_ascii_case(input, b"<?xml") {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.windows(5).position(opens) {
        out.extend_from_slice(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        match after.windows(2).position(|w| w == b"?>") {
            Some(end) => rest = after.get(end + 2..).unwrap_or_default(),
            None => {
                // Unclosed: judged as written.
                out.extend_from_slice(rest.get(start..).unwrap_or_default());
                rest = &[];
            }
        }
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// libinjection's SQLi verdict, but for a symbol quoted in text. Its
/// weakest fingerprint, `sos` (a string, an operator, a string), is what
/// prose that quotes one symbol reads as from inside a string: "Use `"*"`
/// to include all fields", "escaping `'+'`", "the `'='` copy will fail".
/// On the tuning part no attack was told by that verdict alone (every one
/// it fired on was blocked by other rules) while it refused Debian
/// changelog lines and GitHub issue bodies; quotes of a kind that each
/// enclose an operator alone are read as quoted symbols.
///
/// And for words alone: a sentence of letters, spaces and `.,!?:` reads as
/// keywords and barewords ("What is the use case for this" is `nTEnn`:
/// USE, CASE). Made of words only, an injection still needs a logic
/// operator, a UNION, a GROUP/HAVING/ORDER clause or a variable
/// (`x union select null`, `a or null is null`, `x having true`); a
/// fingerprint without one is not taken. LIMIT folds as a clause too, but
/// alone it is prose's word ("Thrown when the limit on the number of
/// objects": `nknBn`): a clause needs BY or HAVING ([`clause_word`]). Of
/// the corpus's values of words alone (2,286, both parts), libinjection
/// flagged none, attack or benign.
///
/// And for a lone `@` ([`bare_at_signs`]), which it reads as a variable.
/// (Path globs' `/*` are no comments: [`without_path_globs`].)
///
/// And for a number before a comment (`1c`: `1 --`, `-1#`): libinjection
/// folds arithmetic, so "20% off -- today only" (`20 % off`) reads as a
/// number too. A word between the number and the comment is prose.
/// Beyond this length a `sos` reading is text quoting words on both sides
/// of an operator ("`SNAPSHOT` and/or `CONTINUOUS`" in an API's
/// documentation): the detector folds whole paragraphs into its strings.
const SOS_PROSE: usize = 512;

fn sqli_in(input: &[u8]) -> bool {
    let verdict = libinjectionrs::detect_sqli(input);
    let fingerprint = verdict.fingerprint.as_ref().map_or("", |f| f.as_str());
    verdict.is_injection()
        && !(fingerprint == "sos" && (quotes_a_symbol(input) || input.len() > SOS_PROSE))
        && (!words_alone(input)
            || fingerprint.contains(['U', '&', 'v'])
            || (fingerprint.contains('B') && clause_word(input)))
        && !(fingerprint == "1c" && word_before_comment(input))
        && !(fingerprint.contains('v') && bare_at_signs(input))
}

/// `input` with the stars of path globs as a letter (`projects/*/locations/*`,
/// `src/*.rs`, `feature/*`, `!node_modules/**`: a name, `/`, then one star
/// before a `/`, a `.`, the end, a space, a quote or a closing bracket, or
/// two before the end, a space or a quote). libinjection reads `/*` as a
/// comment, and resource names, branch patterns and file rules are written
/// so, in values and in the prose that documents them; an injection's
/// comment follows a string or a keyword's space (`admin'/*`, `1 /* x */`),
/// and `/**/` between words (`union/**/select`) stays a comment.
fn without_path_globs(input: &[u8]) -> Cow<'_, [u8]> {
    let glob_star = |at: usize| {
        let name_before = at
            .checked_sub(2)
            .and_then(|i| input.get(i))
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"_.-}".contains(b));
        let stars = input.get(at..).unwrap_or_default().iter().take_while(|&&b| b == b'*').count();
        let after = input.get(at + stars).copied();
        let ends_a_name =
            |b: Option<u8>| b.is_none_or(|b| b.is_ascii_whitespace() || b"\"'`,)]".contains(&b));
        let fits = match stars {
            1 => ends_a_name(after) || matches!(after, Some(b'/' | b'.')),
            2 => ends_a_name(after),
            _ => false,
        };
        (name_before && fits).then_some(stars)
    };
    let mut out: Option<Vec<u8>> = None;
    for slash in memchr::memmem::find_iter(input, b"/*") {
        if let Some(stars) = glob_star(slash + 1) {
            let blanked = out.get_or_insert_with(|| input.to_vec());
            if let Some(run) = blanked.get_mut(slash + 1..slash + 1 + stars) {
                run.fill(b'x');
            }
        }
    }
    out.map_or(Cow::Borrowed(input), Cow::Owned)
}

/// Whether the value has an `@` and every one names nothing: no letter,
/// digit, `_`, `@`, `$`, `.` or quote after it. libinjection reads a lone
/// `@` as a variable, so a password such as `Summer2024!@#` is `novc`; an
/// injection uses a variable by its name (`@q`, `@@version`). (`v` is also
/// how libinjection folds `NULL`, judged as before.)
fn bare_at_signs(input: &[u8]) -> bool {
    let named =
        |at: usize| input.get(at + 1).is_some_and(|c| c.is_ascii_alphanumeric() || b"_@$.`'\"".contains(c));
    let mut ats = memchr::memchr_iter(b'@', input).peekable();
    ats.peek().is_some() && !ats.any(named)
}

/// Whether a word of three letters or more comes before the first `--`,
/// `#` or `/*`.
fn word_before_comment(input: &[u8]) -> bool {
    let comment = [&b"--"[..], b"#", b"/*"]
        .iter()
        .filter_map(|marker| memchr::memmem::find(input, marker))
        .min()
        .unwrap_or(input.len());
    let before = input.get(..comment).unwrap_or_default();
    before.split(|b| !b.is_ascii_alphabetic()).any(|word| word.len() >= 3)
}

/// Whether one of the words is BY or HAVING (GROUP BY, ORDER BY, HAVING).
fn clause_word(input: &[u8]) -> bool {
    input
        .split(|b| !b.is_ascii_alphabetic())
        .any(|word| word.eq_ignore_ascii_case(b"by") || word.eq_ignore_ascii_case(b"having"))
}

/// Letters, whitespace and sentence punctuation (`.,!?:`) only.
fn words_alone(input: &[u8]) -> bool {
    input.iter().all(|b| b.is_ascii_alphabetic() || b.is_ascii_whitespace() || b".,!?:".contains(b))
}

/// Whether the value's `'` (or `"`) pair up, each pair enclosing one or
/// two operator characters and nothing else, in text: "'-' and '+' are
/// accepted". A value of quoted symbols alone (`'-'`, `'&'`) is no text but
/// the login bypass (`WHERE name=''-''` compares with 0).
fn quotes_a_symbol(input: &[u8]) -> bool {
    let text = input.iter().any(|b| b.is_ascii_alphanumeric());
    text && [b'\'', b'"'].into_iter().any(|quote| {
        let at: Vec<usize> = memchr::memchr_iter(quote, input).collect();
        !at.is_empty()
            && at.len().is_multiple_of(2)
            && at.chunks_exact(2).all(|pair| {
                let inside = input.get(pair[0] + 1..pair[1]).unwrap_or_default();
                // Glued to words on both sides it joins them (`1'-'1`).
                let word_at =
                    |i: Option<usize>| i.and_then(|i| input.get(i)).is_some_and(u8::is_ascii_alphanumeric);
                let joins = word_at(pair[0].checked_sub(1)) && word_at(Some(pair[1] + 1));
                (1..=2).contains(&inside.len())
                    && inside.iter().all(|b| b"+-*/%=<>!|&^~".contains(b))
                    && !joins
            })
    })
}

fn xss_in(input: &[u8]) -> bool {
    if !input.iter().any(|b| matches!(b, b'<' | b'>' | b'"' | b'\'' | b'`' | b'=' | b':')) {
        // Without these no tag, attribute or URL scheme can start: the
        // detector has nothing to judge (and would spend time saying so).
        return false;
    }
    if input.len() <= XSS_WINDOW {
        return libinjectionrs::detect_xss(input).is_injection();
    }
    let step = XSS_WINDOW - XSS_OVERLAP;
    (0..input.len())
        .step_by(step)
        // A window starting within the last overlap lies inside the previous one.
        .take_while(|start| start + XSS_OVERLAP < input.len())
        .any(|start| {
            let end = (start + XSS_WINDOW).min(input.len());
            input.get(start..end).is_some_and(|w| libinjectionrs::detect_xss(w).is_injection())
        })
}

/// Property checked by the `waf_tokenized` fuzz target and its corpus
/// replay: any input is judged without panicking, the same way twice, with
/// at most one verdict per detector, and a NUL byte weighs as a space.
pub fn fuzz_check(data: &[u8]) {
    let ids = |d: &[u8]| judge(d, Location::Body).map(|r| r.id).collect::<Vec<_>>();
    let first = ids(data);
    assert_eq!(first, ids(data), "deterministic");
    assert!(
        first.len() <= 2 && first.windows(2).all(|w| w[0] / 1000 != w[1] / 1000),
        "one verdict per detector"
    );
    let spaced: Vec<u8> = data.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
    if worth_judging(data) == worth_judging(&spaced) {
        assert_eq!(first, ids(&spaced), "NUL is a space");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(value: &str) -> Vec<u32> {
        judge(value.as_bytes(), Location::Query).map(|r| r.id).collect()
    }

    #[test]
    fn values_without_anchors_are_not_judged() {
        assert!(
            libinjectionrs::detect_sqli(b"xcb-util-cursor (0.1.4-1) unstable; urgency=medium").is_injection()
        );
        assert!(ids("xcb-util-cursor (0.1.4-1) unstable; urgency=medium").is_empty());
        assert!(ids("style=color:red;background:white").is_empty());
        assert!(ids(r#"<?xml version="1.0" encoding="UTF-8"?><order><id>12345</id></order>"#).is_empty());
        assert_eq!(ids(r#"<?xml version="1.0"?><svg onload=alert(1)>"#), [2200]);
        assert_eq!(ids("<?xml y?><img src=x onerror=alert(1)>"), [2200]);
        assert!(ids(r#"<? " autofocus onfocus=alert(1) x=">"#).contains(&2200), "only XML declarations go");
    }

    #[test]
    fn number_masks_are_no_comments() {
        for mask in ["(050) ###-##-##", "(098) ### ####", "(024) ### ####"] {
            assert!(libinjectionrs::detect_sqli(mask.as_bytes()).is_injection(), "libinjection flags {mask}");
            assert!(ids(mask).is_empty(), "{mask}");
        }
        for comment in ["1) #", "1 ) ) #", "1)#"] {
            assert_eq!(ids(comment), [1200], "{comment}");
        }
    }

    #[test]
    fn finds_what_signatures_miss() {
        assert_eq!(ids("1' OR '1'='1"), [1200]);
        assert_eq!(ids("-1 UNION ALL SELECT NULL,NULL--"), [1200]);
        assert_eq!(ids("1'\0or\x001=1-- -"), [1200], "NUL is whitespace, as in C");
        assert_eq!(ids("<img src=x onerror=alert(1)>"), [2200]);
        assert!(ids("<svg/onload=prompt`1`>").contains(&2200));
    }

    #[test]
    fn a_quoted_symbol_in_text_is_no_injection() {
        for text in [
            r#"Required. The fields to return. Use "*" to include all fields."#,
            "- Fix syntax of dversionmangle by escaping '+'",
            "but now the '=' copy will fail if the ROIs differ",
            "Only lowercase characters, numbers and '-' are accepted. The '-' character cannot be the first.",
        ] {
            assert!(libinjectionrs::detect_sqli(text.as_bytes()).is_injection(), "libinjection flags {text}");
            assert!(ids(text).is_empty(), "{text}");
        }
        // Other quotes, or more than a symbol between them, are judged.
        assert_eq!(ids("x'||'y' or '1'='1"), [1200]);
        assert_eq!(ids("1' OR '1'='1"), [1200]);
        // Quoted symbols alone are the login bypass list's, not text.
        for bypass in ["'-'", "'&'", "\"*\"", "'^'", "1'-'1", "x'+'y"] {
            assert_eq!(ids(bypass), [1200], "{bypass}");
        }
    }

    #[test]
    fn a_long_text_quoting_words_around_an_operator_is_no_injection() {
        let filler = "The recovery point will be determined by the value you choose. ".repeat(8);
        let doc =
            format!("<p>{filler} Valid values: \"<code>SNAPSHOT</code>\" and/or \"<code>X</code>\".</p>");
        assert!(libinjectionrs::detect_sqli(doc.as_bytes()).is_injection(), "libinjection flags it");
        assert!(ids(&doc).is_empty());
        assert_eq!(ids("x'||'y"), [1200]);
    }

    #[test]
    fn words_alone_need_what_an_injection_of_words_needs() {
        let prose = "What is the use case for this";
        assert!(libinjectionrs::detect_sqli(prose.as_bytes()).is_injection(), "libinjection flags it");
        assert!(ids(prose).is_empty());
        assert!(ids("The use case most closely describing the audio content to be recognized.").is_empty());
        // LIMIT folds as a clause; prose says "the limit".
        let limit = "Thrown when the limit on the number of objects or operations has been exceeded.";
        assert!(libinjectionrs::detect_sqli(limit.as_bytes()).is_injection(), "libinjection flags it");
        assert!(ids(limit).is_empty());
        for attack in
            ["x union select null", "anything OR x IS NULL", "admin or null is null", "x having true"]
        {
            assert_eq!(ids(attack), [1200], "{attack}");
        }
    }

    #[test]
    fn a_percentage_before_a_dash_is_no_comment() {
        for text in ["100% satisfied -- 5 stars", "5% discount -- buy now", "20%off -- today only"] {
            assert!(libinjectionrs::detect_sqli(text.as_bytes()).is_injection(), "libinjection flags {text}");
            assert!(ids(text).is_empty(), "{text}");
        }
        for attack in ["1 --", "-1 --", "1 /* x */", "0x41 -- -", "1e3--"] {
            assert_eq!(ids(attack), [1200], "{attack}");
        }
    }

    #[test]
    fn a_path_glob_is_no_comment() {
        for glob in [
            "feature/*",
            "docker/*",
            "src/**",
            "refs/heads/release-1.2/*",
            "!node_modules/**",
            "organizations/*/environments/*/traceConfig",
            "Use the structure \"organizations/*/environments/*/traceConfig\".",
            "in the format 'projects/*/locations/*/backups/'.",
            "src/*/mod.rs and tests/*.rs",
        ] {
            assert!(ids(glob).is_empty(), "{glob}");
        }
        for attack in
            ["admin'/*", "1 or 1=1/*", "x' or 1=1 /*", "1 union/**/select 1,2", "x'/**/or/**/1=1-- "]
        {
            assert_eq!(ids(attack), [1200], "{attack}");
        }
    }

    #[test]
    fn a_lone_at_sign_is_no_variable() {
        for password in ["SomeKindOfPassword123!@#", "Summer2024!@#"] {
            assert!(
                libinjectionrs::detect_sqli(password.as_bytes()).is_injection(),
                "libinjection flags {password}"
            );
            assert!(ids(password).is_empty(), "{password}");
        }
        for attack in ["1;declare @q varchar(99);exec master.dbo.xp_dirtree @q;--", "1 or @@version#"] {
            assert_eq!(ids(attack), [1200], "{attack}");
        }
    }

    #[test]
    fn passes_plain_text_and_routes() {
        for benign in
            ["hello world", "O'Reilly", "user@example.com", "a < b and c > d", "https://example.com/a?b=c"]
        {
            assert!(ids(benign).is_empty(), "{benign}");
        }
        assert_eq!(judge(b"/v1/1' or '1'='1", Location::Path).count(), 0);
    }

    #[test]
    fn single_words_are_never_judged_injections() {
        // Why `worth_judging` may skip them: no keyword, number or short
        // word, in either case, is an injection.
        let keywords = [
            "select",
            "UNION",
            "sleep",
            "0x41",
            "or",
            "script",
            "alert",
            "null",
            "drop",
            "exec",
            "benchmark",
        ];
        let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').chain(['_']).collect();
        let short = alphabet.iter().flat_map(|a| alphabet.iter().map(move |b| format!("{a}{b}")));
        for w in
            keywords.iter().map(|k| k.to_string()).chain(alphabet.iter().map(char::to_string)).chain(short)
        {
            assert!(!libinjectionrs::detect_sqli(w.as_bytes()).is_injection(), "{w}");
            assert!(!libinjectionrs::detect_xss(w.as_bytes()).is_injection(), "{w}");
        }
    }

    #[test]
    fn long_values_are_judged_in_windows() {
        let mut long = "lorem ipsum = dolor ".repeat(1000);
        long.push_str("<script>alert(1)</script>");
        long.push_str(&"x".repeat(5000));
        assert_eq!(ids(&long), [2200]);
        let mut at_boundary = "a=b ".repeat(511);
        at_boundary.push_str("<img src=x onerror=alert(1)>");
        at_boundary.push_str(&" c".repeat(3000));
        assert!(ids(&at_boundary).contains(&2200));
    }
}
