//! Attributes that run nothing where markup is shown: inline CSS made of
//! properties and plain values (`style="color: rgb(255, 0, 0); font-size:
//! 14px"`) and raster images inline (`src="data:image/png;base64,..."`).
//! Rich-text editors and HTML e-mail write them on almost every element;
//! libinjection's HTML parser flags any `style` attribute and any `data:`
//! URL, since both can carry code (`expression(...)`,
//! `url(javascript:...)`, `data:text/html`). Those that cannot are blanked
//! before it judges a value; every other sign reads the value as written,
//! and an event handler or a script URL beside them is judged as before.

use super::decode::{contains_ignore_ascii_case, strip_prefix_ignore_ascii_case};
use std::borrow::Cow;

/// Words that give CSS a way to run or fetch something: IE's expressions
/// and behaviours, Mozilla's bindings, `url(...)` and `image(...)`,
/// `@import`, and script schemes.
const CSS_CODE: &[&[u8]] = &[
    b"expression",
    b"url",
    b"image",
    // Not `import` alone: `!important` is the commonest word of inline CSS.
    b"@import",
    b"behavior",
    b"behaviour",
    b"binding",
    b"script",
    b"vbscript",
];

/// Raster image types, which a browser decodes and never runs.
const RASTER: &[&[u8]] = &[b"png", b"jpeg", b"jpg", b"gif", b"webp", b"avif", b"bmp", b"x-icon"];

/// `input` with every inert `style` and `src` attribute (see the module's
/// documentation) replaced by spaces; borrowed when there is none.
pub fn without_inert_attributes(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut at = 0;
    while let Some(found) = next_attribute(input, at) {
        if found.inert {
            let blanked = out.get_or_insert_with(|| input.to_vec());
            if let Some(span) = blanked.get_mut(found.start..found.end) {
                span.fill(b' ');
            }
        }
        at = found.end;
    }
    out.map_or(Cow::Borrowed(input), Cow::Owned)
}

struct Attribute {
    start: usize,
    end: usize,
    inert: bool,
}

/// The next `style="..."` or `src="..."` from `from` on: its name after a
/// space or `/` (an attribute, not `mystyle=`), a quoted value, closed.
fn next_attribute(input: &[u8], from: usize) -> Option<Attribute> {
    let mut at = from;
    loop {
        let rest = input.get(at..)?;
        let offset = memchr::memchr2(b's', b'S', rest)?;
        let start = at + offset;
        at = start + 1;
        let boundary = start
            .checked_sub(1)
            .and_then(|i| input.get(i))
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'/');
        if !boundary {
            continue;
        }
        let Some((name, after_name)) = [&b"style"[..], b"src"].into_iter().find_map(|name| {
            strip_prefix_ignore_ascii_case(rest.get(offset..)?, name).map(|_| (name, start + name.len()))
        }) else {
            continue;
        };
        let Some(value_at) = value_start(input, after_name) else { continue };
        // Unclosed, the rest of the value is inside it: nothing further.
        let quote = *input.get(value_at)?;
        let len = input.get(value_at + 1..).and_then(|v| v.iter().position(|&b| b == quote))?;
        let value = input.get(value_at + 1..value_at + 1 + len).unwrap_or_default();
        let inert = if name == b"style" { inert_css(value) } else { raster_data_url(value) };
        return Some(Attribute { start, end: value_at + len + 2, inert });
    }
}

/// Where the quoted value of an attribute whose name ends at `at` opens:
/// `\s*=\s*` then `"` or `'`.
fn value_start(input: &[u8], at: usize) -> Option<usize> {
    let skip =
        |i: usize| i + input.get(i..).map_or(0, |r| r.iter().take_while(|b| b.is_ascii_whitespace()).count());
    let eq = skip(at);
    (input.get(eq) == Some(&b'=')).then_some(())?;
    let quote = skip(eq + 1);
    matches!(input.get(quote), Some(b'"' | b'\'')).then_some(quote)
}

/// Declarations of properties and plain values: letters, digits, spaces and
/// `#%.,:;()!/+-_` only, and none of [`CSS_CODE`]'s words.
pub(super) fn inert_css(value: &[u8]) -> bool {
    value.iter().all(|b| b.is_ascii_alphanumeric() || b.is_ascii_whitespace() || b"#%.,:;()!/+-_".contains(b))
        && !CSS_CODE.iter().any(|word| contains_ignore_ascii_case(value, word))
}

/// `data:image/<raster>;base64,<base64>`.
pub(super) fn raster_data_url(value: &[u8]) -> bool {
    let Some(rest) = strip_prefix_ignore_ascii_case(value, b"data:image/") else { return false };
    RASTER.iter().any(|kind| {
        strip_prefix_ignore_ascii_case(rest, kind)
            .and_then(|r| strip_prefix_ignore_ascii_case(r, b";base64,"))
            .is_some_and(|b64| {
                b64.iter().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b) || b.is_ascii_whitespace())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::without_inert_attributes;

    fn blanked(html: &str) -> String {
        String::from_utf8_lossy(&without_inert_attributes(html.as_bytes())).into_owned()
    }

    #[test]
    fn plain_css_and_raster_images_are_blanked() {
        let css = r#"<p style="color: rgb(255, 0, 0);">x</p>"#;
        assert_eq!(blanked(css), format!("<p {}>x</p>", " ".repeat(css.len() - 9)));
        assert!(!blanked(r#"<img src="data:image/png;base64,iVBORw0KGgo=" alt="">"#).contains("data:"));
        assert!(!blanked(r#"<span style='font-family: Arial, sans-serif'>"#).contains("style"));
        assert!(!blanked(r#"<span style="border: none !important;">"#).contains("style"));
    }

    #[test]
    fn css_and_urls_that_can_run_code_stay() {
        for html in [
            r#"<div style="width:expression(alert(1))">"#,
            r#"<div style="background:url(javascript:alert(1))">"#,
            r#"<div style="-moz-binding:url(x.xml#a)">"#,
            r#"<div style="x:\65xpression(alert(1))">"#,
            r#"<div style="color:red" onclick="alert(1)">"#,
            r#"<img src="data:image/svg+xml;base64,PHN2Zz4=">"#,
            r#"<iframe src="data:text/html;base64,PHNjcmlwdD4=">"#,
            r#"<img src="javascript:alert(1)">"#,
        ] {
            let out = blanked(html);
            assert!(
                out.contains("expression")
                    || out.contains("url(")
                    || out.contains("binding")
                    || out.contains("\\65")
                    || out.contains("onclick")
                    || out.contains("data:")
                    || out.contains("javascript"),
                "{html} -> {out}"
            );
        }
        // Not an attribute: a name glued to another word, or unquoted.
        assert!(blanked(r#"<p mystyle="color:red">"#).contains("mystyle"));
        assert!(blanked("<p style=color:red>").contains("style"));
    }
}
