//! A body read as its media type says: JSON, forms, multipart and XML by
//! their parsers, anything else as one text.

use super::form::{keys_are_names, pairs};
use super::{Cap, Field, FieldName, Values};
use crate::waf::{Location, multipart};
use std::borrow::Cow;

/// Reads a body according to its media type.
pub(super) fn typed_body<'a>(
    out: &mut Values<'a>,
    body: Cow<'a, [u8]>,
    content_type: Option<&str>,
    allow_multipart: bool,
) {
    let ct = content_type.unwrap_or_default();
    let media = media_type(ct);
    if media == "application/json" || media.ends_with("+json") {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(doc) => json(out, doc),
            Err(_) => out.push_cow(Location::Body, body, false),
        }
    } else if media == "application/x-www-form-urlencoded" {
        pairs(out, Location::Body, body);
    } else if media.starts_with("multipart/") && allow_multipart {
        match header_param(ct, "boundary") {
            Some(b) if !b.is_empty() => multipart(out, &body, b),
            _ => out.push_cow(Location::Body, body, false),
        }
    } else if media.ends_with("/xml") || media.ends_with("+xml") {
        xml(out, Location::Body, &body);
    } else if media.is_empty() {
        // No declared type: clients that omit it almost always send a form.
        // A trailing line break (curl and most tools add one) is not a
        // multi-line body.
        let trimmed_len = body.trim_ascii_end().len();
        let trimmed = body.get(..trimmed_len).unwrap_or_default();
        if trimmed.contains(&b'=') && !trimmed.contains(&b'\n') && keys_are_names(trimmed) {
            let form = match body {
                Cow::Borrowed(b) => Cow::Borrowed(b.get(..trimmed_len).unwrap_or_default()),
                Cow::Owned(mut b) => {
                    b.truncate(trimmed_len);
                    Cow::Owned(b)
                }
            };
            pairs(out, Location::Body, form);
        } else {
            out.push_cow(Location::Body, body, true);
        }
    } else {
        out.push_cow(Location::Body, body, false);
    }
}

/// Every string value and object key of a JSON document, iteratively (no
/// recursion on input). Structure deeper than the stream follows is not
/// skipped: the request is marked as beyond [`Cap::Depth`]. A `prototype`
/// key inside a `constructor` object is given as the path
/// `constructor.prototype` too: prototype pollution that no key alone shows.
/// A value is under every key above it (for a stream's exclusions, which
/// name it by its path from the root: kept only where a stream has them).
fn json<'a>(out: &mut Values<'a>, doc: serde_json::Value) {
    out.within(|out| json_within(out, doc));
}

fn json_within<'a>(out: &mut Values<'a>, doc: serde_json::Value) {
    let root: Option<std::rc::Rc<[u8]>> = None;
    let mut stack = vec![(doc, 0usize, false, out.field.clone(), root)];
    while let Some((v, depth, in_constructor, field, path)) = stack.pop() {
        if out.full() {
            break;
        }
        let nested = matches!(v, serde_json::Value::Array(_) | serde_json::Value::Object(_));
        if nested && depth >= out.limits.max_depth {
            out.exceed(Cap::Depth);
            break;
        }
        out.field = field;
        match v {
            serde_json::Value::String(s) => out.push_cow(Location::Body, Cow::Owned(s.into_bytes()), false),
            serde_json::Value::Array(items) => {
                let field = &out.field;
                stack.extend(
                    items.into_iter().rev().map(|i| (i, depth + 1, false, field.clone(), path.clone())),
                );
            }
            serde_json::Value::Object(map) => {
                let Field { bits, name: around_name } = out.field.clone();
                for (k, item) in map {
                    let key_path = key_path(out, path.as_deref(), k.as_bytes());
                    let named_here =
                        key_path.as_ref().map_or(0, |p| out.exclusions.json_bits(p, k.as_bytes()));
                    out.field.bits = bits | named_here;
                    if in_constructor && k == "prototype" {
                        out.push_key(Cow::Borrowed(b"constructor.prototype"), &around_name);
                    }
                    let constructor = k == "constructor";
                    // A key names itself and what is under it.
                    let name = out
                        .push_key(Cow::Owned(k.into_bytes()), &around_name)
                        .unwrap_or_else(|| around_name.clone());
                    let field = Field { bits: out.field.bits, name };
                    stack.push((item, depth + 1, constructor, field, key_path));
                }
            }
            _ => {}
        }
    }
}

/// The path of the key `key` under `parent` (keys joined by dots), where the
/// stream's exclusions name fields; `None` where they do not (no cost).
fn key_path(out: &Values<'_>, parent: Option<&[u8]>, key: &[u8]) -> Option<std::rc::Rc<[u8]>> {
    if !out.exclusions.by_field() {
        return None;
    }
    Some(match parent {
        Some(parent) => [parent, b".", key].concat().into(),
        None => key.into(),
    })
}

/// Bytes entity references may add to an XML document beyond its own
/// length: feeds and DocBook name a word or a URL so, a few bytes a time.
pub const EXPANSION_SLACK: usize = 64 * 1024;

/// The data of an XML document, read by quick-xml: text (with its character
/// and entity references as written, in one piece), CDATA, attribute
/// values, processing instructions, and the DOCTYPE, where XXE entities are
/// declared (see [`super::doctype`]). Element and attribute names are the
/// schema's markup, not data, except in XHTML, SVG and MathML, whose tags
/// are judged as written; comments reach no application. What does not
/// parse is inspected raw from where parsing stopped: never skipped. Text is under its elements,
/// an attribute value under its element and its name (for a stream's
/// exclusions). A reference to one of the DOCTYPE's literal entities reads
/// as its literal, up to [`EXPANSION_SLACK`] past the document's own size;
/// beyond, the request is past [`Cap::EntityExpansion`].
fn xml(out: &mut Values<'_>, location: Location, doc: &[u8]) {
    out.within(|out| xml_within(out, location, doc));
}

fn xml_within(out: &mut Values<'_>, location: Location, doc: &[u8]) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_reader(doc);
    reader.config_mut().check_end_names = false;
    let mut text = Vec::new();
    // The literal entities the DOCTYPE declares, by name (a map: a body
    // may declare thousands and refer to them thousands of times).
    let mut entities: std::collections::HashMap<Vec<u8>, Vec<u8>> = Default::default();
    // What references may add to the text: a 100 KB literal referred to
    // 20,000 times in a 160 KB body would otherwise be 2 GB here, and in
    // the application's parser after us.
    let mut expansion_left = doc.len().saturating_add(EXPANSION_SLACK);
    // The fields of the elements around, innermost last.
    let mut open = Vec::new();
    let owned = |s: Cow<'_, str>| Cow::Owned(s.into_owned().into_bytes());
    loop {
        if out.full() {
            return;
        }
        let position = usize::try_from(reader.buffer_position()).unwrap_or(0);
        let (markup, event) = match reader.read_resolved_event() {
            Ok((namespace, event)) => {
                let start = match &event {
                    Event::Start(e) | Event::Empty(e) => Some(e),
                    _ => None,
                };
                (start.filter(|e| judged_as_markup(&namespace, e)).map(markup_tag), Ok(event))
            }
            Err(error) => (None, Err(error)),
        };
        if !matches!(event, Ok(Event::Text(_) | Event::GeneralRef(_))) {
            out.push_cow(location, Cow::Owned(std::mem::take(&mut text)), false);
        }
        if let Some(tag) = markup {
            out.push_cow(location, Cow::Owned(tag), false);
        }
        match event {
            Ok(Event::Text(t)) => text.extend_from_slice(t.into_inner().as_bytes()),
            Ok(Event::GeneralRef(r)) => match entities.get(r.as_bytes()) {
                Some(literal) if literal.len() > expansion_left => return out.exceed(Cap::EntityExpansion),
                Some(literal) => {
                    expansion_left -= literal.len();
                    text.extend_from_slice(literal);
                }
                None => {
                    text.push(b'&');
                    text.extend_from_slice(r.as_bytes());
                    text.push(b';');
                }
            },
            Ok(Event::CData(c)) => out.push_cow(location, owned(c.into_inner()), false),
            Ok(Event::DocType(d)) => {
                let doctype = d.into_inner();
                match super::doctype::plain_entities(&doctype) {
                    Some(declared) => {
                        for (name, literal) in declared {
                            out.push_cow(location, Cow::Owned(literal.as_bytes().to_vec()), false);
                            entities.insert(name.as_bytes().to_vec(), literal.as_bytes().to_vec());
                        }
                    }
                    None => out.push_cow(location, owned(doctype), false),
                }
            }
            // A processing instruction keeps its markup (`<?xml-stylesheet
            // href=".."?>`): the rules read it as written.
            Ok(Event::PI(p)) => {
                out.push_cow(location, Cow::Owned(format!("<?{}?>", p.into_inner()).into_bytes()), false)
            }
            Ok(Event::Start(e)) => {
                let element = xml_attributes(out, location, &e);
                open.push(std::mem::replace(&mut out.field, element));
            }
            Ok(Event::Empty(e)) => {
                xml_attributes(out, location, &e);
            }
            Ok(Event::End(_)) => {
                if let Some(around) = open.pop() {
                    out.field = around;
                }
            }
            Ok(Event::Eof) => return,
            Ok(Event::Comment(_) | Event::Decl(_)) => {}
            Err(_) => {
                let rest = doc.get(position..).unwrap_or_default();
                out.push_cow(location, Cow::Owned(rest.to_vec()), false);
                return;
            }
        }
    }
}

/// XHTML, SVG and MathML: the namespaces whose elements a browser renders
/// and runs (an Atom entry's `<content type="xhtml">`, an SVG in a
/// document). There, element and attribute names are markup a page shows.
const MARKUP_NAMESPACES: &[&str] = &[XHTML, SVG, "http://www.w3.org/1998/Math/MathML"];
const XHTML: &str = "http://www.w3.org/1999/xhtml";
const SVG: &str = "http://www.w3.org/2000/svg";

/// Whether the tag of `element`, in `namespace`, is judged as HTML: in a
/// markup namespace, unless it is an SVG shape that runs nothing (see
/// [`crate::waf::svg`]), which an icon is made of.
fn judged_as_markup(
    namespace: &quick_xml::name::ResolveResult<'_>,
    element: &quick_xml::events::BytesStart<'_>,
) -> bool {
    let quick_xml::name::ResolveResult::Bound(namespace) = namespace else { return false };
    let namespace = namespace.into_inner();
    MARKUP_NAMESPACES.contains(&namespace) && !(namespace == SVG && crate::waf::svg::inert_element(element))
}

/// A start tag as written (`<h:iframe src="...">`), for the XSS signs to
/// judge as HTML: in a markup namespace, the tag is what the page gets.
/// Without its namespace declarations: `xmlns` put it there and is judged
/// no further (an `xmlns` in HTML is a sign of a smuggled namespace).
fn markup_tag(element: &quick_xml::events::BytesStart<'_>) -> Vec<u8> {
    let mut tag = format!("<{}", element.name().as_ref());
    for attribute in element.attributes().with_checks(false).flatten() {
        let name = attribute.key.as_ref();
        if name != "xmlns" && !name.starts_with("xmlns:") {
            tag += &format!(" {name}=\"{}\"", attribute.value);
        }
    }
    tag.push('>');
    tag.into_bytes()
}

/// An element's attribute values, each under the element and named by
/// its attribute; the element's field.
fn xml_attributes<'a>(
    out: &mut Values<'a>,
    location: Location,
    element: &quick_xml::events::BytesStart<'_>,
) -> Field<'a> {
    let element_name = element.local_name().into_inner().as_bytes().to_vec();
    let bits = out.field.bits | out.exclusions.field_bits(location, &element_name);
    out.within(|out| {
        for attribute in element.attributes().with_checks(false).flatten() {
            let name = attribute.key.local_name().into_inner().as_bytes().to_vec();
            out.field = Field {
                bits: bits | out.exclusions.field_bits(location, &name),
                name: FieldName::Text(Cow::Owned(name), false),
            };
            out.push_cow(location, Cow::Owned(attribute.value.into_owned().into_bytes()), false);
        }
    });
    Field { bits, name: FieldName::Text(Cow::Owned(element_name), false) }
}

/// multipart/form-data, read by `multer` (the parser of axum and of most
/// Rust servers, so parts are what a backend would see): each part's field
/// name, file name and body, the body read according to the part's own
/// content type, one level deep. Where multer stops on malformed input, the
/// whole body is inspected raw from there: never skipped.
fn multipart(out: &mut Values<'_>, body: &[u8], boundary: &str) {
    let parsed = multipart::read(body, boundary);
    for part in &parsed.parts {
        if out.full() {
            return;
        }
        let name = part.name.as_deref().unwrap_or_default();
        out.under(Location::Body, Cow::Owned(name.as_bytes().to_vec()), false, |out| {
            out.push_cow(Location::Body, Cow::Owned(name.as_bytes().to_vec()), false);
            for file_name in &part.file_names {
                out.push_cow(Location::FileName, Cow::Owned(file_name.clone().into_bytes()), false);
            }
            if let Some(content) = &part.content {
                typed_body(out, Cow::Owned(content.to_vec()), part.content_type.as_deref(), false);
            }
        });
    }
    if parsed.malformed {
        let (text, header_values) = multipart::without_framing(body, boundary);
        for value in header_values {
            out.push_cow(Location::Body, Cow::Owned(value), false);
        }
        out.push_cow(Location::Body, Cow::Owned(text), false);
    }
}

/// Value of `param=` in a header such as Content-Type, unquoted.
pub(crate) fn header_param<'h>(header: &'h str, param: &str) -> Option<&'h str> {
    parameters(header).skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(param).then(|| v.trim().trim_matches('"'))
    })
}

/// A header's `;`-separated parts, a `;` inside a quoted string (RFC 9110
/// 5.6.4, with `\` escapes) kept in its part: `filename="x.jpg;.php"` is
/// one file name to PHP, Go and Python, and must be one to the WAF too.
fn parameters(header: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(header);
    std::iter::from_fn(move || {
        let text = rest?;
        let (mut quoted, mut escaped) = (false, false);
        let end = text.char_indices().find_map(|(i, c)| {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ';' if !quoted => return Some(i),
                _ => {}
            }
            None
        });
        rest = end.and_then(|i| text.get(i + 1..));
        Some(end.and_then(|i| text.get(..i)).unwrap_or(text))
    })
}

/// Media type without parameters, lowercased.
fn media_type(ct: &str) -> String {
    ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}
