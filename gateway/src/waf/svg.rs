//! Inline SVG icons, which APIs carry in JSON (an app's or a label's icon,
//! an exported drawing): markup the XSS signs and libinjection's HTML
//! parser flag by its tag alone (`<svg` opens many a payload:
//! `<svg onload=alert(1)>`). A value that parses, with quick-xml, as one
//! SVG document of shapes, gradients and text only, with no event handler,
//! link, script, style sheet, animation, foreign content, entity or
//! reference to anything outside itself, runs nothing where it is shown.
//! So does such a document as a `data:image/svg+xml,` URL, the placeholder
//! avatars and images APIs return. Anything else is judged as markup, as
//! before.

use quick_xml::events::{BytesStart, Event};

/// Elements that draw, group or paint and can neither run script nor
/// fetch: no `script`, `style`, `a`, `use`, `image`, `foreignObject`,
/// `animate`/`set` (which rewrite attributes), `feImage`, `metadata`.
const INERT_ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "path",
    "circle",
    "rect",
    "line",
    "polyline",
    "polygon",
    "ellipse",
    "defs",
    "lineargradient",
    "radialgradient",
    "stop",
    "title",
    "desc",
    "text",
    "tspan",
    "clippath",
    "mask",
    "symbol",
    "pattern",
    "marker",
    "filter",
    "fegaussianblur",
    "feoffset",
    "feblend",
    "fecolormatrix",
    "feflood",
    "fecomposite",
    "femerge",
    "femergenode",
    "fedropshadow",
    "femorphology",
];

/// The namespaces an SVG document declares; any other (XHTML's among them)
/// brings elements of another language in.
const SVG_NAMESPACES: &[&[u8]] = &[b"http://www.w3.org/2000/svg", b"http://www.w3.org/1999/xlink"];

/// Longest value judged: icons are small.
const MAX_SVG: usize = 64 * 1024;

/// Whether `value` is one inert SVG document (see the module's
/// documentation) and nothing else.
pub fn is_inert_svg(value: &[u8]) -> bool {
    let value = without_svg_data_url_prefix(value.trim_ascii());
    let opens_svg = super::decode::strip_prefix_ignore_ascii_case(value, b"<svg").is_some();
    if !opens_svg || value.len() > MAX_SVG {
        return false;
    }
    let mut reader = quick_xml::Reader::from_reader(value);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                roots += usize::from(depth == 0);
                depth += 1;
                if !inert_element(&e) {
                    return false;
                }
            }
            Ok(Event::Empty(e)) => {
                roots += usize::from(depth == 0);
                if !inert_element(&e) {
                    return false;
                }
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Text(t)) => {
                if depth == 0 && !t.as_ref().trim_ascii().is_empty() {
                    return false;
                }
            }
            Ok(Event::Comment(_)) => {}
            Ok(Event::Eof) => return depth == 0 && roots == 1,
            // Entities and character references, CDATA, processing
            // instructions, a DOCTYPE: none is needed to draw an icon.
            Ok(_) | Err(_) => return false,
        }
    }
}

/// The document of a `data:image/svg+xml[;parameters],` URL written as
/// text (a base64 one decodes elsewhere: `nested::data_url_payloads`);
/// anything else as it is.
fn without_svg_data_url_prefix(value: &[u8]) -> &[u8] {
    let Some(rest) = super::decode::strip_prefix_ignore_ascii_case(value, b"data:image/svg+xml") else {
        return value;
    };
    let Some(comma) = rest.iter().position(|&b| b == b',') else { return value };
    let (parameters, document) = rest.split_at(comma);
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b';' | b'=' | b'-' | b'.' | b'_' | b' ');
    let textual =
        parameters.iter().all(plain) && !super::decode::contains_ignore_ascii_case(parameters, b"base64");
    match document.get(1..) {
        Some(document) if textual => document.trim_ascii(),
        _ => value,
    }
}

/// An element of [`INERT_ELEMENTS`] whose attributes are presentation only.
/// By its local name: a prefix is SVG's only where `xmlns:` binds it so,
/// and an `xmlns` of any other namespace is no presentation attribute.
pub(in crate::waf) fn inert_element(element: &BytesStart<'_>) -> bool {
    let name = element.local_name().into_inner().as_bytes();
    let known = INERT_ELEMENTS.iter().any(|known| name.eq_ignore_ascii_case(known.as_bytes()));
    known
        && element.attributes().with_checks(true).all(|attribute| {
            attribute.is_ok_and(|a| inert_attribute(a.key.into_inner().as_bytes(), a.value.as_bytes()))
        })
}

/// Not an event handler, not a link (`href`, `xlink:href`, `src`), not a
/// namespace other than SVG's; a value without entities, script URLs or
/// `url()` references other than to a fragment (`fill="url(#grad)"`).
fn inert_attribute(name: &[u8], value: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    let local = name.rsplit(|&b| b == b':').next().unwrap_or_default();
    if local.starts_with(b"on") || matches!(local, b"href" | b"src" | b"action" | b"formaction") {
        return false;
    }
    if name.starts_with(b"xmlns") && !SVG_NAMESPACES.contains(&value) {
        return false;
    }
    let has = |needle: &[u8]| super::decode::contains_ignore_ascii_case(value, needle);
    let outside_reference = value.windows(4).enumerate().any(|(at, w)| {
        w.eq_ignore_ascii_case(b"url(")
            && value.get(at + 4..).is_none_or(|rest| !rest.trim_ascii_start().starts_with(b"#"))
    });
    !(value.contains(&b'&') || has(b"script") || has(b"expression") || has(b"@import") || outside_reference)
}

#[cfg(test)]
mod tests {
    use super::is_inert_svg;

    #[test]
    fn icons_are_inert() {
        for icon in [
            r##"<svg width="24" height="24" viewBox="0 0 24 24"><circle cx="12" cy="12" r="10" fill="#f00"/></svg>"##,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M12 2L2 7l10 5 10-5-10-5z"/></svg>"#,
            r##"data:image/svg+xml;charset=UTF-8,<svg xmlns="http://www.w3.org/2000/svg" width="10" height="8"><rect width="100%" height="100%" fill="#ccde5d"/><text x="5" y="4" font-size="20" text-anchor="middle" fill="white">10x8</text></svg>"##,
            r##"<svg xmlns="http://www.w3.org/2000/svg"><!-- icon --><defs><linearGradient id="g"><stop offset="0" stop-color="#000"/></linearGradient></defs><rect width="10" height="10" fill="url(#g)" style="opacity:.5"/><title>Logo</title></svg>"##,
        ] {
            assert!(is_inert_svg(icon.as_bytes()), "{icon}");
        }
    }

    #[test]
    fn svg_that_runs_or_fetches_is_not() {
        for svg in [
            "<svg onload=alert(1)>",
            "<svg/onload=alert(1)>",
            r#"<svg><script>alert(1)</script></svg>"#,
            r#"<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>"#,
            r#"<svg><rect onmouseover="alert(1)"/></svg>"#,
            r#"<svg><animate onbegin="alert(1)" attributeName="x"/></svg>"#,
            r#"<svg><set attributeName="onmouseover" to="alert(1)"/></svg>"#,
            r#"<svg><use href="data:image/svg+xml,x#y"/></svg>"#,
            r#"<svg><foreignObject><iframe src="javascript:alert(1)"/></foreignObject></svg>"#,
            r#"<svg xmlns:x="http://www.w3.org/1999/xhtml"><x:script>alert(1)</x:script></svg>"#,
            r#"<svg><rect style="background:url(javascript:alert(1))"/></svg>"#,
            r#"<svg><rect fill="url(//evil.example/x)"/></svg>"#,
            r#"<svg><style>@import "//evil.example/x.css";</style></svg>"#,
            r#"<svg><text>&lt;script&gt;</text></svg>"#,
            r#"<svg></svg><img src=x onerror=alert(1)>"#,
            r#"<svg><rect/></svg> and then <b>text</b>"#,
            r#"<svg><g><rect/></svg>"#,
            "<svg><![CDATA[<script>alert(1)</script>]]></svg>",
            "x<svg></svg>",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "data:text/html,<svg><rect/></svg>",
            "data:image/svg+xml;base64,<svg><rect/></svg>",
            "data:image/svg+xml;x=<b>,<svg><rect/></svg>",
        ] {
            assert!(!is_inert_svg(svg.as_bytes()), "{svg}");
        }
    }
}
