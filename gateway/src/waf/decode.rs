//! Decoders that undo the encodings attackers use to hide payloads from
//! signature matching. Every decoder is a pure function that never makes its
//! input longer, so iterating them to a fixed point is bounded by the input.

use std::borrow::Cow;

/// How many decode rounds a value gets: enough for double and triple
/// encoding, small enough to keep the cost linear in practice.
pub const MAX_ROUNDS: usize = 3;

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses exactly `n` hex digits at the start of `s`.
fn hex_n(s: &[u8], n: usize) -> Option<u32> {
    let digits = s.get(..n)?;
    digits.iter().try_fold(0u32, |acc, &b| Some(acc * 16 + u32::from(hex_val(b)?)))
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Percent-decoding, including IIS-style `%uXXXX`. `plus_is_space` is set for
/// query strings and form bodies, where `+` encodes a space. Malformed escapes
/// are kept literally, as servers do.
pub fn percent(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%' {
            let rest = input.get(i + 1..).unwrap_or_default();
            if let Some(v) = hex_n(rest, 2) {
                out.push(v as u8);
                i += 3;
                continue;
            }
            if matches!(rest.first(), Some(b'u' | b'U'))
                && let Some(c) = hex_n(rest.get(1..).unwrap_or_default(), 4).and_then(char::from_u32)
            {
                push_char(&mut out, c);
                i += 6;
                continue;
            }
        }
        out.push(if b == b'+' && plus_is_space { b' ' } else { b });
        i += 1;
    }
    out
}

/// Named entities worth knowing: the ones that spell out syntax characters.
/// Matched case-insensitively because payloads like `$&LBRACE;` work in
/// lenient decoders.
const NAMED: &[(&str, char)] = &[
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", ' '),
    ("tab", '\t'),
    ("newline", '\n'),
    ("lpar", '('),
    ("rpar", ')'),
    ("lbrace", '{'),
    ("rbrace", '}'),
    ("lcub", '{'),
    ("rcub", '}'),
    ("lsqb", '['),
    ("rsqb", ']'),
    ("lbrack", '['),
    ("rbrack", ']'),
    ("colon", ':'),
    ("semi", ';'),
    ("comma", ','),
    ("period", '.'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("excl", '!'),
    ("dollar", '$'),
    ("num", '#'),
    ("percnt", '%'),
    ("plus", '+'),
    ("equals", '='),
    ("quest", '?'),
    ("grave", '`'),
    ("ast", '*'),
    ("lowbar", '_'),
    ("verbar", '|'),
    ("vert", '|'),
    ("hat", '^'),
    ("commat", '@'),
];

/// Decodes one entity starting after the `&`; returns the char and the number
/// of bytes consumed after the `&`.
fn entity(rest: &[u8]) -> Option<(char, usize)> {
    if rest.first() == Some(&b'#') {
        let (radix, start) = match rest.get(1) {
            Some(b'x' | b'X') => (16u32, 2),
            _ => (10u32, 1),
        };
        let mut value: u32 = 0;
        let mut end = start;
        while let Some(d) = rest.get(end).and_then(|&b| char::from(b).to_digit(radix)) {
            // Saturate: leading zeros are common padding, huge values are junk.
            value = value.saturating_mul(radix).saturating_add(d).min(0x11_0000);
            end += 1;
        }
        if end == start {
            return None;
        }
        if rest.get(end) == Some(&b';') {
            end += 1;
        }
        return char::from_u32(value).map(|c| (c, end));
    }
    let name_len = rest.iter().take(9).take_while(|b| b.is_ascii_alphabetic()).count();
    if rest.get(name_len) != Some(&b';') {
        return None;
    }
    let name = rest.get(..name_len)?;
    NAMED.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name)).map(|&(_, c)| (c, name_len + 1))
}

/// HTML/XML character references: named (common), decimal and hex.
pub fn html_entities(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'&'
            && let Some((c, used)) = entity(input.get(i + 1..).unwrap_or_default())
        {
            push_char(&mut out, c);
            i += 1 + used;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Backslash escapes from JavaScript, JSON, Java and C: `\uXXXX`, `\u{X..}`
/// and `\xXX`.
pub fn backslash_escapes(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'\\' {
            let rest = input.get(i + 1..).unwrap_or_default();
            match rest.first() {
                Some(b'u' | b'U') => {
                    let after = rest.get(1..).unwrap_or_default();
                    if let Some(c) = hex_n(after, 4).and_then(char::from_u32) {
                        push_char(&mut out, c);
                        i += 6;
                        continue;
                    }
                    if after.first() == Some(&b'{') {
                        let len = after.iter().skip(1).take(6).take_while(|&&d| hex_val(d).is_some()).count();
                        if len > 0
                            && after.get(1 + len) == Some(&b'}')
                            && let Some(c) =
                                hex_n(after.get(1..).unwrap_or_default(), len).and_then(char::from_u32)
                        {
                            push_char(&mut out, c);
                            i += 4 + len;
                            continue;
                        }
                    }
                }
                Some(b'x' | b'X') => {
                    if let Some(v) = hex_n(rest.get(1..).unwrap_or_default(), 2) {
                        out.push(v as u8);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Slashes and dots that servers' "best fit" mappings (IIS among them) or
/// path normalisers turn into `/`, `\` and `.`: division slash, set minus,
/// fraction slash, reverse solidus operator, small reverse solidus, one dot
/// leader, small full stop, and IIS's private-use %uEFC8 and %uF025.
const SEPARATOR_LOOKALIKES: [([u8; 3], u8); 9] = [
    ([0xE2, 0x88, 0x95], b'/'),
    ([0xE2, 0x88, 0x96], b'\\'),
    ([0xE2, 0x81, 0x84], b'/'),
    ([0xE2, 0xA7, 0xB5], b'\\'),
    ([0xEF, 0xB9, 0xA8], b'\\'),
    ([0xE2, 0x80, 0xA4], b'.'),
    ([0xEF, 0xB9, 0x92], b'.'),
    ([0xEE, 0xBF, 0x88], b'/'),
    ([0xEF, 0x80, 0xA5], b'\\'),
];

/// Maps ASCII lookalikes back to ASCII: fullwidth forms (U+FF01..U+FF5E),
/// overlong two-byte UTF-8 (`C0 AE` for `.`), and three- and four-byte
/// overlongs (`E0 80 AE`, `F0 80 80 AE`).
/// These are what path and filter bypasses rely on.
pub fn ascii_lookalikes(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let b1 = input.get(i + 1).copied().unwrap_or(0);
        let b2 = input.get(i + 2).copied().unwrap_or(0);
        let cont = |x: u8| x & 0xC0 == 0x80;
        if (b == 0xC0 || b == 0xC1) && cont(b1) {
            out.push(((b & 0x1F) << 6) | (b1 & 0x3F));
            i += 2;
            continue;
        }
        if b == 0xE0 && b1 & 0xE0 == 0x80 && cont(b2) {
            let v = (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
            if v < 0x80 {
                out.push(v as u8);
                i += 3;
                continue;
            }
        }
        let b3 = input.get(i + 3).copied().unwrap_or(0);
        if b == 0xF0 && b1 == 0x80 && b2 & 0xFE == 0x80 && cont(b3) {
            out.push(((b2 & 0x01) << 6) | (b3 & 0x3F));
            i += 4;
            continue;
        }
        // Ideographic full stops (U+3002 and halfwidth U+FF61): IDNA maps
        // them to the `.` between a host's labels.
        if (b == 0xE3 && b1 == 0x80 && b2 == 0x82) || (b == 0xEF && b1 == 0xBD && b2 == 0xA1) {
            out.push(b'.');
            i += 3;
            continue;
        }
        if let Some(&(_, ascii)) = SEPARATOR_LOOKALIKES.iter().find(|(utf8, _)| *utf8 == [b, b1, b2]) {
            out.push(ascii);
            i += 3;
            continue;
        }
        // An overlong lead byte before ASCII. IIS's decoder took the low
        // six bits of the next byte whatever its top two (`%c1%1c` is
        // `\`: CVE-2000-0884), so a separator made so is one; other
        // decoders drop the invalid byte (`..%c0/` is `../`).
        if (b == 0xC0 || b == 0xC1) && b1 < 0x80 {
            let masked = ((b & 0x1F) << 6) | (b1 & 0x3F);
            if matches!(masked, b'.' | b'/' | b'\\') {
                out.push(masked);
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        // U+FF01..U+FF5E is EF BC 81..EF BD 9E.
        if b == 0xEF && (b1 == 0xBC || b1 == 0xBD) && cont(b2) {
            let cp = 0xF000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
            if (0xFF01..=0xFF5E).contains(&cp) {
                out.push((cp - 0xFEE0) as u8);
                i += 3;
                continue;
            }
        }
        // Circled letters U+24B6..U+24E9 (E2 92 B6 .. E2 93 A9): Ⓐ-Ⓩ, ⓐ-ⓩ;
        // circled digits ①-⑨ (U+2460..U+2468) and ⓪ (U+24EA), which URL
        // parsers' IDNA mapping turns into a host's digits.
        if b == 0xE2 && (0x91..=0x93).contains(&b1) && cont(b2) {
            let cp = 0x2000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
            if (0x2460..=0x2468).contains(&cp) {
                out.push(b'1' + (cp - 0x2460) as u8);
                i += 3;
                continue;
            }
            if cp == 0x24EA {
                out.push(b'0');
                i += 3;
                continue;
            }
            if (0x24B6..=0x24CF).contains(&cp) {
                out.push(b'a' + (cp - 0x24B6) as u8);
                i += 3;
                continue;
            }
            if (0x24D0..=0x24E9).contains(&cp) {
                out.push(b'a' + (cp - 0x24D0) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// One round of every decoder.
fn round(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let v = percent(input, plus_is_space);
    let v = html_entities(&v);
    let v = backslash_escapes(&v);
    ascii_lookalikes(&v)
}

/// Whether any decoder could change `input`: each acts only at `%`, `&`,
/// `\`, a form's `+` or a lead byte of the multi-byte lookalikes (all at or
/// above 0xC0). Most values have none, and the round of four decoders that
/// proved it (four allocations and a comparison) was about 7% of the
/// gateway's CPU under load (perf, benches/gateway_peers.sh).
fn decodable(input: &[u8], plus_is_space: bool) -> bool {
    input.iter().any(|&b| matches!(b, b'%' | b'&' | b'\\') || b >= 0xC0 || (plus_is_space && b == b'+'))
}

/// Applies every decoder until nothing changes, at most [`MAX_ROUNDS`] times.
/// `+` means space only in the first round of form/query values: a `+` that
/// came out of `%2B` is a literal plus.
pub fn fixed_point(input: &[u8], plus_is_space: bool) -> Cow<'_, [u8]> {
    if !decodable(input, plus_is_space) {
        return Cow::Borrowed(input);
    }
    let mut cur = input.to_vec();
    for n in 0..MAX_ROUNDS {
        let next = round(&cur, plus_is_space && n == 0);
        if next == cur {
            break;
        }
        cur = next;
    }
    Cow::Owned(cur)
}

/// Whether `needle` (ASCII) occurs in `hay`, in any case. memchr finds the
/// candidates for its first byte: most values have none, and a byte-by-byte
/// window scan of every value was a tenth of the WAF's time on 1 KiB events.
pub fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lower, upper, hay).any(|at| {
        hay.get(at + 1..at + 1 + rest.len()).is_some_and(|candidate| candidate.eq_ignore_ascii_case(rest))
    })
}

/// `hay` after `prefix` (ASCII) at its start, in any case; `None` when it
/// does not start so.
pub fn strip_prefix_ignore_ascii_case<'a>(hay: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    hay.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .and_then(|_| hay.get(prefix.len()..))
}

/// Lowercases, drops NULs and other control characters except line breaks,
/// and compresses runs of whitespace to one space: the canonical form most
/// signatures are written against. (SQL Server's reading of controls as
/// spaces is a view of its own: `nested::controls_as_spaces`.)
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        // ASCII, nearly all of what is inspected, without the Unicode
        // tables: lowercasing through `char::to_lowercase` was a sixth of
        // the gateway's CPU under load.
        if c.is_ascii() {
            let b = c as u8;
            match b {
                b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => {
                    if !in_space {
                        out.push(' ');
                    }
                    in_space = true;
                }
                0x00..=0x1f | 0x7f => {}
                _ => {
                    in_space = false;
                    out.push(char::from(b.to_ascii_lowercase()));
                }
            }
            continue;
        }
        if c.is_whitespace() || c == '\u{0b}' {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
            continue;
        }
        if c.is_control() {
            continue;
        }
        in_space = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// Replaces SQL block comments with a space (a MySQL `/*! */` keeps its
/// body) so `UNION/**/SELECT` reads as `UNION SELECT`. Line comments stay:
/// they are themselves a signal.
pub fn strip_sql_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("/*") {
        out.push_str(rest.get(..pos).unwrap_or_default());
        out.push(' ');
        let after = rest.get(pos + 2..).unwrap_or_default();
        if let Some(body) = after.strip_prefix('!') {
            // MySQL executable comment: keep the body, drop the version number.
            let body = body.trim_start_matches(|c: char| c.is_ascii_digit());
            let end = body.find("*/").unwrap_or(body.len());
            out.push_str(body.get(..end).unwrap_or_default());
            out.push(' ');
            rest = body.get(end + 2..).unwrap_or_default();
        } else {
            rest = match after.find("*/") {
                Some(end) => after.get(end + 2..).unwrap_or_default(),
                None => "",
            };
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_needle_in_any_case() {
        assert!(contains_ignore_ascii_case(b"x DaTa:text/html", b"data:"));
        assert!(contains_ignore_ascii_case(b"a%3Db", b"%3d"));
        assert!(!contains_ignore_ascii_case(b"dat", b"data:"), "a candidate at the end");
        assert!(!contains_ignore_ascii_case(b"d\xc3\xa1ta:", b"data:"));
        assert!(contains_ignore_ascii_case(b"", b""));
    }

    fn s(v: impl AsRef<[u8]>) -> String {
        String::from_utf8_lossy(v.as_ref()).into_owned()
    }

    #[test]
    fn normalizing_ascii_takes_the_same_path_as_unicode_text() {
        // What the per-char Unicode path gives, for every ASCII octet.
        let reference = |text: &str| {
            let mut out = String::new();
            let mut in_space = false;
            for c in text.chars() {
                if c.is_whitespace() || c == '\u{0b}' {
                    if !in_space {
                        out.push(' ');
                    }
                    in_space = true;
                } else if !c.is_control() {
                    in_space = false;
                    out.extend(c.to_lowercase());
                }
            }
            out
        };
        let all: String = (0u8..0x80).map(char::from).collect();
        for text in [all.as_str(), "SeLeCt\t\t*  FROM\x0b\x0cx\u{85}Ä\u{a0} \u{0}ǅ", "  a\r\n b "] {
            assert_eq!(normalize(text), reference(text), "{text:?}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(s(percent(b"a%20b+c%zz%", true)), "a b c%zz%");
        assert_eq!(s(percent(b"a+b", false)), "a+b");
        assert_eq!(s(percent(b"%u003cscript%U003E", false)), "<script>");
        assert_eq!(s(percent(b"%u00", false)), "%u00");
    }

    #[test]
    fn entity_decoding() {
        assert_eq!(s(html_entities(b"&lt;a&GT; &#60;&#x3C;&#X3c &#0000000123; &LBRACE;")), "<a> <<< { {");
        assert_eq!(s(html_entities(b"AT&T &unknown; &#;")), "AT&T &unknown; &#;");
        assert_eq!(s(html_entities(b"&#99999999999999999;")), "&#99999999999999999;");
    }

    #[test]
    fn escape_decoding() {
        assert_eq!(s(backslash_escapes(br"\u003c\x3e\u{24}\u12")), "<>$\\u12");
        assert_eq!(s(backslash_escapes(br"C:\Users\x")), r"C:\Users\x");
    }

    #[test]
    fn lookalike_decoding() {
        assert_eq!(s(ascii_lookalikes(&[0xC0, 0xAE, 0xC0, 0xAF])), "./");
        assert_eq!(s(ascii_lookalikes(&[b'.', b'.', 0xC1, 0x1C, b'x'])), "..\\x", "IIS's %c1%1c");
        assert_eq!(s(ascii_lookalikes(&[b'.', b'.', 0xC0, b'/'])), "../", "a lone lead byte");
        assert_eq!(s(ascii_lookalikes(&[0xF0, 0x80, 0x80, 0xAE, 0xE0, 0x80, 0xAF])), "./");
        assert_eq!(s(ascii_lookalikes("𐀀".as_bytes())), "𐀀", "a real four-byte character stays");
        assert_eq!(s(ascii_lookalikes("ｓｃｒｉｐｔ".as_bytes())), "script");
        assert_eq!(s(ascii_lookalikes("é".as_bytes())), "é");
        assert_eq!(s(ascii_lookalikes("①②⑦.⓪.⓪.①".as_bytes())), "127.0.0.1");
        assert_eq!(s(ascii_lookalikes("169。254｡169．254".as_bytes())), "169.254.169.254");
        assert_eq!(s(ascii_lookalikes("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ ⑩ 。".as_bytes())), "localhost ⑩ .");
        assert_eq!(s(ascii_lookalikes("..∕..∖\u{efc8}\u{f025}".as_bytes())), "../..\\/\\");
        assert_eq!(s(ascii_lookalikes(&[b'.', b'.', 0xC0, b'/'])), "../");
    }

    #[test]
    fn values_without_a_decodable_byte_skip_the_decoders() {
        for (input, plus) in [(&b"plain text, 100 = 100"[..], true), (b"a+b", false), (b"<script>", true)] {
            assert!(!decodable(input, plus));
            assert_eq!(*fixed_point(input, plus), *round(input, plus));
        }
        for (input, plus) in [(&b"%41"[..], false), (b"&lt;", false), (b"\\x41", false), (b"a+b", true)] {
            assert!(decodable(input, plus));
        }
        assert!(decodable("ｓ".as_bytes(), false));
        assert!(decodable(&[0xC0, 0xAE], false));
    }

    #[test]
    fn fixed_point_stops() {
        assert_eq!(s(fixed_point(b"%253Cscript%253E", false)), "<script>");
        assert_eq!(s(fixed_point(b"%25252525253C", false)), "%25253C");
        assert_eq!(s(fixed_point(b"plain text", true)), "plain text");
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize("SeLeCt \t\n  *\0 FROM"), "select * from");
        assert_eq!(normalize("SEL\0EC\x05T\x7f"), "select", "what strips controls reads this");
        assert_eq!(strip_sql_comments("union/**/select/*!50000all*/x -- y"), "union select all x -- y");
        assert_eq!(strip_sql_comments("a/* open"), "a ");
    }
}
