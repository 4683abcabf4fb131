//! `a=1&b=2` text: query strings, form bodies and bodies sent without a
//! type that read as forms.

use super::{UrlRole, Values};
use crate::waf::Location;
use std::borrow::Cow;

/// `a=1&b=2` pairs; names and values both become values (under the
/// field's name), borrowed from the request when the text is.
pub(super) fn pairs<'a>(out: &mut Values<'a>, location: Location, text: Cow<'a, [u8]>) {
    for (name, joined) in repeated_fields_joined(&text) {
        out.under(location, Cow::Owned(name), true, |out| out.push_cow(location, Cow::Owned(joined), true));
    }
    match text {
        Cow::Borrowed(text) => for_each_field(text, |name, field, url_role| {
            out.under(location, Cow::Borrowed(name), true, |out| {
                out.push_value(location, Cow::Borrowed(field), true, url_role)
            })
        }),
        Cow::Owned(text) => for_each_field(&text, |name, field, url_role| {
            out.under(location, Cow::Owned(name.to_vec()), true, |out| {
                out.push_value(location, Cow::Owned(field.to_vec()), true, url_role)
            })
        }),
    }
}

/// Fields whose value is where a browser is sent next, by the standards
/// and frameworks that name them: OAuth 2.0's `redirect_uri` (RFC 6749),
/// OAuth 1.0a's `oauth_callback` (RFC 5849), OpenID Connect's
/// `post_logout_redirect_uri`, SAML's `RelayState`, CAS's `service`,
/// Django's `next`, Rails' and GitHub's `return_to`, ASP.NET's `ReturnUrl`,
/// WordPress's `redirect_to`, Google's `continue`. An authorization
/// request names the client's own site there, never the server's.
pub(super) const NAVIGATION_FIELDS: [&str; 14] = [
    "redirect_uri",
    "oauth_callback",
    "post_logout_redirect_uri",
    "relaystate",
    "service",
    "next",
    "return_to",
    "returnto",
    "returnurl",
    "return_url",
    "redirect_to",
    "redirect_url",
    "redirect",
    "continue",
];

/// Fields whose value is a link shown to people: a profile's or a
/// company's site (schema.org's `url` is too wide: `?url=` is where
/// inclusions and fetches are sent). A browser follows it when someone
/// clicks; the server stores it, and a homepage that ends in `.php` or
/// `.jsp` is still a homepage.
pub(super) const LINK_FIELDS: [&str; 7] =
    ["website", "homepage", "home_page", "web_site", "webpage", "blog", "personal_website"];

/// Fields that name a file the application opens: the parameters of the
/// inclusion flaws CRS rule 931110 lists (`_CONF[path]`,
/// `mosConfig_absolute_path`, ...) and the names such parameters usually
/// have.
pub(super) const INCLUSION_FIELDS: [&str; 26] = [
    "_conf[path]",
    "mosconfig_absolute_path",
    "_server[document_root]",
    "gallery_basedir",
    "path[docroot]",
    "appserv_root",
    "config[root_dir]",
    "include",
    "inc",
    "file",
    "filename",
    "page",
    "template",
    "tpl",
    "path",
    "dir",
    "root",
    "folder",
    "document",
    "doc",
    "module",
    "load",
    "require",
    "conf",
    "config",
    "layout",
];

/// What a URL in the field `name` is for.
fn url_role(name: &[u8]) -> UrlRole {
    // `_CONF%5Bpath%5D` is `_CONF[path]` to the application.
    let name = if name.contains(&b'%') {
        Cow::Owned(crate::waf::decode::percent(name, true))
    } else {
        Cow::Borrowed(name)
    };
    let named = |fields: &[&str]| fields.iter().any(|field| name.eq_ignore_ascii_case(field.as_bytes()));
    if named(&NAVIGATION_FIELDS) || named(&LINK_FIELDS) {
        UrlRole::Navigation
    } else if named(&INCLUSION_FIELDS) {
        UrlRole::Inclusion
    } else {
        UrlRole::Data
    }
}

/// The values of each field named more than once, joined with `,` as
/// ASP.NET joins them (`?id=1/*&id=*/union/*&id=*/select...` reaches the
/// application as one value): HTTP parameter pollution, inspected whole.
/// Each with the field's name.
fn repeated_fields_joined(text: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    /// A field's first position and its values, in order.
    type Seen<'t> = (usize, Vec<&'t [u8]>);
    let mut fields: std::collections::HashMap<&[u8], Seen<'_>> = std::collections::HashMap::new();
    for (i, pair) in text.split(|&b| b == b'&').enumerate() {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else { continue };
        let (name, value) = (pair.get(..eq).unwrap_or_default(), pair.get(eq + 1..).unwrap_or_default());
        fields.entry(name).or_insert_with(|| (i, Vec::new())).1.push(value);
    }
    let mut repeated: Vec<(&[u8], Seen<'_>)> =
        fields.into_iter().filter(|(_, (_, values))| values.len() > 1).collect();
    repeated.sort_unstable_by_key(|(_, (first, _))| *first);
    repeated.into_iter().map(|(name, (_, values))| (name.to_vec(), values.join(&b","[..]))).collect()
}

/// The names and values of `a=1&b=2`, in order, each with the field's
/// name and what a URL in it is for.
fn for_each_field<'t>(text: &'t [u8], mut field: impl FnMut(&'t [u8], &'t [u8], UrlRole)) {
    for pair in text.split(|&b| b == b'&') {
        match pair.iter().position(|&b| b == b'=') {
            Some(eq) => {
                let name = pair.get(..eq).unwrap_or_default();
                field(name, name, UrlRole::Data);
                field(name, pair.get(eq + 1..).unwrap_or_default(), url_role(name));
            }
            None => field(pair, pair, UrlRole::Data),
        }
    }
}

/// A byte of a form field name as applications name fields: letters,
/// digits and `_.-[]$`.
pub fn field_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']' | b'$')
}

/// Whether every key of an undeclared body read as a form looks like a
/// field name (also percent-encoded, `+` for a space). A body such as
/// `'admin', '1'='1'` is not a form: split at `=`, it would hide its shape.
pub(super) fn keys_are_names(body: &[u8]) -> bool {
    body.split(|&b| b == b'&').all(|pair| {
        let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
        key.iter().all(|&b| field_name_byte(b) || matches!(b, b'%' | b'+'))
    })
}
