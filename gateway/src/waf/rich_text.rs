//! Rich text as a sanitizer keeps it. APIs carry user content rendered to
//! HTML beside its source (Reddit's `body_html`, `<!-- SC_OFF --><div
//! class="md"><p>...`; a CMS's article body; an e-mail's HTML part): tags,
//! comments and links, which the markup signs (a common tag, a comment, a
//! link to another host) add up to an attack. A value whose markup is all
//! of the kind HTML sanitizers keep by default (bleach's, ammonia's:
//! formatting elements, links and images to web addresses, plain CSS), with
//! no event handler, script URL, form, frame, template expression or
//! anything a browser would parse another way, runs nothing where it is
//! shown; for it those signs count nothing. Every other sign (a script
//! sink, a script URL, libinjection's verdict, SQL, commands) counts as
//! before, so markup around a payload for another context does not hide it.

use super::decode::{self, contains_ignore_ascii_case};
use super::inert::{inert_css, raster_data_url};
use super::{Class, Finding};
use std::borrow::Cow;

/// The rules that read markup alone: a common tag (2007), a comment or
/// declaration (2013), a link or image to another host (2015).
pub const MARKUP_SIGNS: &[u32] = &[2007, 2013, 2015];

/// Whether the XSS findings on a value are markup signs alone, and some.
pub fn markup_alone(findings: &[Finding]) -> bool {
    let mut xss = findings.iter().filter(|f| f.class == Class::Xss).peekable();
    xss.peek().is_some() && xss.all(|f| MARKUP_SIGNS.contains(&f.rule))
}

/// Elements that format, structure or link text, as sanitizers allow them:
/// none that runs (`script`), fetches a document (`iframe`, `object`),
/// submits (`form`, `input`, `button`), styles the page (`style`, `link`),
/// or rewrites the document (`base`, `meta`, `svg`, `math`, `template`).
#[rustfmt::skip]
const ELEMENTS: &[&str] = &[
    "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote", "br",
    "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt",
    "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i",
    "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp",
    "section", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
];

/// Attributes of presentation and text, and `id` (headings' anchors in a
/// table of contents). Not `name` (forms' and frames' names clobber a
/// page's globals), `data-*` (script gadgets of frameworks), `on*`,
/// `action`, `srcdoc`, `xmlns`.
#[rustfmt::skip]
const PLAIN_ATTRIBUTES: &[&str] = &[
    "abbr", "align", "alt", "bgcolor", "border", "cellpadding", "cellspacing", "class", "color", "colspan",
    "datetime", "dir", "face", "headers", "height", "hreflang", "id", "lang", "loading", "nowrap", "open",
    "rel", "reversed", "role", "rowspan", "scope", "size", "span", "start", "summary", "target", "title",
    "translate", "type", "valign", "value", "width",
];

/// Schemes a link or image may name; any other (`javascript:`, `data:`,
/// `vbscript:`) makes the value more than text.
const SCHEMES: &[&[u8]] = &[b"http", b"https", b"mailto", b"tel"];

/// Longest value judged: a long article.
const MAX_RICH_TEXT: usize = 256 * 1024;

/// A value as an application keeps and shows it: a query or form field
/// percent-decoded once, any other as received. Its text's character
/// references are text where it is shown (`<code>&lt;T&gt;</code>`), where
/// the signs read them decoded; those in its attributes a browser decodes.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    FormEncoded(&'a [u8]),
    AsIs(&'a [u8]),
}

impl Shown<'_> {
    fn bytes(&self) -> Cow<'_, [u8]> {
        match *self {
            Shown::FormEncoded(encoded) => Cow::Owned(decode::percent(encoded, true)),
            Shown::AsIs(value) => Cow::Borrowed(value),
        }
    }
}

/// Whether `shown` is text with markup of the kind sanitizers keep, and at
/// least one tag of it; see the module's documentation.
pub fn is_sanitized_html(shown: Shown<'_>) -> bool {
    let value = shown.bytes();
    let value = value.as_ref();
    if value.len() > MAX_RICH_TEXT || contains_ignore_ascii_case(value, b"{{") {
        return false;
    }
    let mut tags = 0usize;
    let mut at = 0;
    while let Some(offset) = value.get(at..).and_then(|rest| memchr::memchr(b'<', rest)) {
        let start = at + offset;
        let Some(rest) = value.get(start..) else { return false };
        // `<` before a space or a digit is text (`a < b`, `<3`).
        let opens_markup =
            rest.get(1).is_some_and(|&b| b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?'));
        if !opens_markup {
            at = start + 1;
            continue;
        }
        let Some(len) = comment_len(rest).or_else(|| tag_len(rest)) else { return false };
        tags += 1;
        at = start + len;
    }
    tags > 0
}

/// `<!-- words -->`: a comment with no markup inside and no IE condition
/// (`<!--[if IE]>`).
fn comment_len(rest: &[u8]) -> Option<usize> {
    let body = rest.strip_prefix(b"<!--")?;
    let end = body.windows(3).position(|w| w == b"-->")?;
    let inner = body.get(..end)?;
    let plain = !inner.iter().any(|b| matches!(b, b'<' | b'>' | b'[' | b']')) && !inner.starts_with(b">");
    plain.then_some(4 + end + 3)
}

/// A start or end tag of [`ELEMENTS`] with allowed attributes; its length.
fn tag_len(rest: &[u8]) -> Option<usize> {
    let mut at = 1;
    let end_tag = rest.get(at) == Some(&b'/');
    at += usize::from(end_tag);
    let name_len = rest.get(at..)?.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
    let name = rest.get(at..at + name_len)?;
    if !ELEMENTS.iter().any(|known| name.eq_ignore_ascii_case(known.as_bytes())) {
        return None;
    }
    at += name_len;
    loop {
        at += spaces(rest.get(at..)?);
        match rest.get(at..)? {
            [b'>', ..] => return Some(at + 1),
            [b'/', b'>', ..] => return Some(at + 2),
            _ if end_tag => return None,
            _ => {}
        }
        let (name, value, len) = attribute(rest.get(at..)?)?;
        if !allowed_attribute(name, value) {
            return None;
        }
        at += len;
    }
}

/// One `name`, `name=value`, `name="value"` or `name='value'`: its name,
/// value and length. A value with markup, a quote or a backtick in it is
/// refused: nothing shown as text needs one there, and parsers differ.
fn attribute(rest: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    let name_len =
        rest.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':')).count();
    let name = rest.get(..name_len).filter(|n| n.first().is_some_and(u8::is_ascii_alphabetic))?;
    let mut at = name_len + spaces(rest.get(name_len..)?);
    if rest.get(at) != Some(&b'=') {
        return Some((name, b"", name_len));
    }
    at += 1;
    at += spaces(rest.get(at..)?);
    let (value, len) = match rest.get(at)? {
        &quote @ (b'"' | b'\'') => {
            let body = rest.get(at + 1..)?;
            let close = body.iter().position(|&b| b == quote)?;
            (body.get(..close)?, close + 2)
        }
        _ => {
            let body = rest.get(at..)?;
            let len = body.iter().take_while(|b| !b.is_ascii_whitespace() && **b != b'>').count();
            (body.get(..len)?, len)
        }
    };
    let marked = value.iter().any(|b| matches!(b, b'<' | b'>' | b'`' | b'"' | b'\''));
    (!marked && len > 0).then_some((name, value, at + len))
}

fn spaces(rest: &[u8]) -> usize {
    rest.iter().take_while(|b| b.is_ascii_whitespace()).count()
}

/// An allowed name whose value, as a browser decodes it, is harmless.
fn allowed_attribute(name: &[u8], value: &[u8]) -> bool {
    let value = decode::fixed_point(value, false);
    let value = value.as_ref();
    let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
    if is("href") || is("cite") {
        return web_address(value);
    }
    if is("src") {
        return web_address(value) || raster_data_url(value);
    }
    if is("style") {
        return inert_css(value);
    }
    let aria = name.len() > 5 && name.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"aria-"));
    aria || PLAIN_ATTRIBUTES.iter().any(|known| is(known))
}

/// A relative reference, or an absolute one in one of [`SCHEMES`]. Browsers
/// drop tabs and line breaks inside a URL and spaces around it, so the
/// scheme is read without them (`java\tscript:`).
fn web_address(value: &[u8]) -> bool {
    if unknown_reference(value) {
        return false;
    }
    let compact: Vec<u8> = value.iter().copied().filter(|&b| b > b' ').collect();
    let scheme_end = compact.iter().position(|&b| matches!(b, b':' | b'/' | b'?' | b'#'));
    match scheme_end {
        Some(colon) if compact.get(colon) == Some(&b':') => {
            let scheme = compact.get(..colon).unwrap_or_default();
            SCHEMES.iter().any(|known| scheme.eq_ignore_ascii_case(known))
        }
        _ => true,
    }
}

/// A character reference the decoder left (it knows `&colon;`, not HTML's
/// two thousand other names), which a browser may turn into a scheme's
/// colon (`javascript&#x3a;`, `javascript&Colon;`).
fn unknown_reference(value: &[u8]) -> bool {
    value.iter().enumerate().filter(|(_, b)| **b == b'&').any(|(at, _)| {
        let rest = value.get(at + 1..).unwrap_or_default();
        let name = rest.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        rest.first() == Some(&b'#') || (name > 0 && rest.get(name) == Some(&b';'))
    })
}

#[cfg(test)]
mod tests {
    use super::Shown;

    fn is_sanitized_html(html: &[u8]) -> bool {
        super::is_sanitized_html(Shown::AsIs(html))
    }

    #[test]
    fn rendered_rich_text_is_kept() {
        for html in [
            r#"<!-- SC_OFF --><div class="md"><p>I'll have a <a href="https://www.reddit.com/r/x/wiki">tree of pages</a> for the wiki</p>
</div><!-- SC_ON -->"#,
            r#"<p>Hello <a href="/u/someone">u/someone</a>!</p><ul><li>one</li><li><strong>two</strong></li></ul>"#,
            r#"<table><thead><tr><th align="left">a</th></tr></thead><tbody><tr><td>1 < 2</td></tr></tbody></table>"#,
            r#"<p style="color: rgb(255, 0, 0)">red</p><br/><hr /><img src="https://example.com/a.png" alt="">"#,
            r#"<a href="https://example.com/search?q=a&b=c&d=e">search</a>"#,
            r#"<blockquote><p>quoted</p></blockquote><pre><code>x = 1</code></pre><a href=mailto:a@example.com>mail</a>"#,
            "<img src=\"data:image/png;base64,iVBORw0KGgo=\" width=10>",
            "<pre><code>&lt;class &#39;praw.models.Comment&#39;&gt;</code></pre>",
        ] {
            assert!(is_sanitized_html(html.as_bytes()), "{html}");
        }
    }

    #[test]
    fn markup_that_runs_fetches_or_differs_is_not() {
        for html in [
            "<img src=x onerror=alert(1)>",
            r#"<a href="javascript:alert(1)">x</a>"#,
            "<a href=\"java\tscript:alert(1)\">x</a>",
            r#"<a href=" data:text/html,<script>">x</a>"#,
            r#"<a href="javascript&Colon2;alert(1)">x</a>"#,
            r#"<a href="javascript&#x3a;alert(1)">x</a>"#,
            r#"<a href="&#106;avascript:alert(1)">x</a>"#,
            r#"<p style="background:&#117;rl(//evil.example/x)">x</p>"#,
            "<script>alert(1)</script>",
            "<p>x</p><iframe src=https://example.com></iframe>",
            r#"<form action="https://evil.example"><input name=password></form>"#,
            r#"<a name="defaultConfig">x</a>"#,
            r#"<div data-bind="html: x">x</div>"#,
            r#"<p style="background:url(//evil.example/x)">x</p>"#,
            "<!--[if IE]><p>x</p><![endif]-->",
            "<!-- <script>alert(1)</script> -->",
            "<p>{{constructor.constructor('alert(1)')()}}</p>",
            r#"<p title="a"b">x</p>"#,
            r#"<p title="<img src=x onerror=alert(1)>">x</p>"#,
            "<p>x</p><scr<script>ipt>",
            "<p",
            "<p>unclosed <a href='https://x.example/",
            "plain text, no markup",
            "<? xml ?><p>x</p>",
            "<svg><p>x</p></svg>",
        ] {
            assert!(!is_sanitized_html(html.as_bytes()), "{html}");
        }
    }
}
