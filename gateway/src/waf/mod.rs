//! Attack-signature detection with anomaly scoring, in the spirit of
//! ModSecurity + the OWASP Core Rule Set, but matched over *decoded values*
//! rather than raw request bytes.
//!
//! [`inspect`] extracts the values of a request ([`extract`]): URI path,
//! query and form fields (names and values), JSON strings and keys, XML text
//! and attribute values, multipart parts, and the headers but credentials,
//! forwarding and standard negotiation/caching ones (never Authorization,
//! X-Api-Key or X-Forwarded-*). Each
//! value is decoded to a fixed point ([`decode`]) and matched against the
//! signature tables ([`rules`]), judged by the SQL lexer ([`sqltok`]) and
//! libinjection's tokenizing detectors ([`tokenized`]), and its URLs' hosts
//! checked for internal addresses ([`ssrf`]). Every rule that fires on a
//! value adds its score once; a request with a value whose total reaches
//! the threshold is an attack (see [`Inspection::score`]). A value's
//! verdict depends on nothing else, so those on short values are remembered
//! per thread ([`verdicts`]).
//!
//! All work is bounded (by the body limit, or a stream's tighter caps in
//! [`extract::InspectionLimits`]; at most [`decode::MAX_ROUNDS`] decode
//! rounds; linear-time regexes), nothing panics on input, and there is no
//! `unsafe`. A request beyond a stream's caps is not inspected in part: the
//! [`Inspection`] says it is [`Inspection::uninspectable`], and the gateway
//! refuses it.

pub mod corpus;
pub mod decode;
pub mod exclusions;
pub mod extract;
mod filters;
mod inert;
pub(crate) mod locality;
mod multipart;
mod nested;
mod offsite;
mod quoting;
mod rich_text;
pub mod rules;
mod search;
pub mod sqltok;
mod ssrf;
mod svg;
pub mod tokenized;
mod verdicts;
mod views;

use rich_text::Shown;
use rules::{ENGINE, View};
use views::Views;

/// Anomaly score at which a request is blocked. One critical signature (5)
/// suffices; weaker ones (3, 2) must corroborate each other.
pub const DEFAULT_THRESHOLD: u32 = 5;

/// Attack class of a rule. Labels are bounded, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Sqli,
    Nosql,
    Ldap,
    Xss,
    Rce,
    Lfi,
    Rfi,
    Php,
    Java,
    Template,
    Protocol,
    Ssrf,
    Generic,
}

impl Class {
    pub const ALL: [Class; 13] = [
        Class::Sqli,
        Class::Nosql,
        Class::Ldap,
        Class::Xss,
        Class::Rce,
        Class::Lfi,
        Class::Rfi,
        Class::Php,
        Class::Java,
        Class::Template,
        Class::Protocol,
        Class::Ssrf,
        Class::Generic,
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Class::Sqli => "sqli",
            Class::Nosql => "nosql",
            Class::Ldap => "ldap",
            Class::Xss => "xss",
            Class::Rce => "rce",
            Class::Lfi => "lfi",
            Class::Rfi => "rfi",
            Class::Php => "php",
            Class::Java => "java",
            Class::Template => "template",
            Class::Protocol => "protocol",
            Class::Ssrf => "ssrf",
            Class::Generic => "generic",
        }
    }
}

/// Where a matched value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    Path,
    Query,
    Body,
    Header,
    /// A multipart part's file name: what a server may store the upload as.
    FileName,
}

impl Location {
    pub const ALL: [Location; 5] =
        [Location::Path, Location::Query, Location::Body, Location::Header, Location::FileName];

    pub fn label(&self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Body => "body",
            Location::Header => "header",
            Location::FileName => "filename",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: u32,
    pub class: Class,
    pub score: u32,
    /// Where the rule first fired.
    pub location: Location,
    /// The field it fired in (a query argument's name, a JSON key's path
    /// from the root, a header's name..., at most 64 characters), where
    /// the value has one: what an operator names in an exclusion.
    pub field: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    /// The highest anomaly score of one value: the sum of the rules that
    /// fired on it (and on what is nested in it). Weak signs in unrelated
    /// values do not add up: a 100-issue JSON document with a `'word' into`
    /// in one comment and a `/usr/bin/ruby` in another is not an attack,
    /// and an injection has to work from one value.
    pub score: u32,
    /// One per rule that fired, in order of first match.
    pub findings: Vec<Finding>,
    /// The cap the request went beyond: only part of it was inspected, so
    /// no score says it is harmless.
    pub uninspectable: Option<extract::Cap>,
}

impl Inspection {
    pub fn rule_ids(&self) -> Vec<u32> {
        self.findings.iter().map(|f| f.rule).collect()
    }

    pub fn blocked(&self, threshold: u32) -> bool {
        self.score >= threshold
    }

    /// Whether a blocking stream refuses the request: blocked, or beyond a
    /// cap, which is never passed unread.
    pub fn refused(&self, threshold: u32) -> bool {
        self.blocked(threshold) || self.uninspectable.is_some()
    }

    /// Distinct classes that fired, for metrics and logs.
    pub fn classes(&self) -> Vec<Class> {
        let mut c: Vec<Class> = self.findings.iter().map(|f| f.class).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    /// Takes in the findings on one value: its score counts if it is the
    /// highest, its rules join the list once.
    fn merge_value(&mut self, value: Inspection) {
        self.score = self.score.max(value.score);
        for finding in value.findings {
            if !self.findings.iter().any(|f| f.rule == finding.rule) {
                self.findings.push(finding);
            }
        }
    }

    fn add(&mut self, rule: &rules::Rule, location: Location) {
        self.add_finding(Finding {
            rule: rule.id,
            class: rule.class,
            score: rule.score,
            location,
            field: None,
        });
    }

    /// Takes back the findings of one class, and their scores.
    fn drop_class(&mut self, class: Class) {
        self.drop_where(|f| f.class == class);
    }

    /// Takes back the findings of some rules, and their scores.
    fn drop_rules(&mut self, ids: &[u32]) {
        self.drop_where(|f| ids.contains(&f.rule));
    }

    fn drop_where(&mut self, taken: impl Fn(&Finding) -> bool) {
        self.findings.retain(|f| !taken(f));
        self.score = self.findings.iter().map(|f| f.score).fold(0, u32::saturating_add);
    }

    /// A rule counts once, however many values or views it fires on.
    fn add_finding(&mut self, finding: Finding) {
        if self.findings.iter().any(|f| f.rule == finding.rule) {
            return;
        }
        self.score = self.score.saturating_add(finding.score);
        self.findings.push(finding);
    }
}

/// One request as the gateway sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestView<'a> {
    /// URI path (no query). Inspected as one value: traversal, restricted
    /// files and injections smuggled into path segments.
    pub path: Option<&'a str>,
    /// Raw query string, without the `?`.
    pub query: Option<&'a str>,
    /// (lowercase name, value).
    pub headers: &'a [(&'a str, &'a str)],
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Compiles the rules now rather than on the first request (a debug build
/// takes over a second; a release build some milliseconds).
pub fn compile_rules() {
    std::sync::LazyLock::force(&ENGINE);
}

/// Inspects every value of one request. Never panics; cost is bounded by
/// the request's size.
pub fn inspect(req: &RequestView<'_>) -> Inspection {
    inspect_within(req, extract::InspectionLimits::default())
}

/// Inspects one request within a stream's caps: what they allow, and
/// whether the request went beyond them.
pub fn inspect_within(req: &RequestView<'_>, limits: extract::InspectionLimits) -> Inspection {
    inspect_for(req, limits, &exclusions::NONE)
}

/// Inspects one request as a stream says: within its caps, and without
/// the findings its exclusions take from the fields they name.
pub fn inspect_for(
    req: &RequestView<'_>,
    limits: extract::InspectionLimits,
    exclusions: &exclusions::Exclusions,
) -> Inspection {
    let extracted = extract::values_for(req, limits, exclusions);
    let mut result = Inspection { uninspectable: extracted.exceeded, ..Inspection::default() };
    let host = req.headers.iter().find(|(name, _)| *name == "host").map(|&(_, value)| value);
    for value in &extracted.list {
        // Off-site URLs count in query arguments only, and not where a
        // browser is sent next; see [`offsite`].
        let site = host
            .filter(|_| value.location == Location::Query && value.url_role != extract::UrlRole::Navigation)
            .map(|host| offsite::Site { host, names_a_file: value.url_role == extract::UrlRole::Inclusion });
        let one = match site {
            // The verdict depends on the request's host too: not remembered.
            Some(_) => inspect_one(value, site),
            None => {
                verdicts::remembered_or(&value.bytes, value.location, value.form, || inspect_one(value, None))
            }
        };
        let mut one = exclusions.apply(value.location, value.field_bits, one);
        if !one.findings.is_empty() {
            let field = value.name.label(&extracted.list);
            one.findings.iter_mut().for_each(|f| f.field.clone_from(&field));
        }
        result.merge_value(one);
    }
    result
}

/// The verdict on one extracted value: decoded, and what it nests.
fn inspect_one(value: &extract::Value<'_>, site: Option<offsite::Site<'_>>) -> Inspection {
    let decoded = decode::fixed_point(&value.bytes, value.form);
    let mut one = Inspection::default();
    let shown = if value.form { Shown::FormEncoded(&value.bytes) } else { Shown::AsIs(&value.bytes) };
    inspect_document(&decoded, shown, value.location, site, &mut one);
    if let Some(inner) = smuggled_pair_value(&value.bytes, &decoded) {
        inspect_value(inner, Shown::AsIs(inner), value.location, site, &mut one);
    }
    for reading in
        [nested::stray_percents_dropped(&decoded), nested::controls_as_spaces(&decoded)].into_iter().flatten()
    {
        inspect_value(&reading, Shown::AsIs(&reading), value.location, site, &mut one);
    }
    for payload in nested::data_url_payloads(&decoded) {
        inspect_value(&payload, Shown::AsIs(&payload), value.location, site, &mut one);
    }
    // Base64 as a whole value, where state and sessions travel. In bodies
    // only a field's (short, one line): there base64 carries files too
    // (GitHub's API returns whole source files so), which are data, and
    // reading them as text would block code.
    let in_query = matches!(value.location, Location::Query | Location::Header);
    if (in_query || decoded.len() <= nested::MAX_BODY_BASE64)
        && let Some(payload) = nested::base64_text(&decoded)
        && (in_query || !payload.contains(&b'\n'))
    {
        let shown = Shown::AsIs(&payload);
        inspect_document(&decode::fixed_point(&payload, false), shown, value.location, site, &mut one);
    }
    one
}

/// A value, and when it is a JSON document its keys and strings one by one:
/// the document's own syntax (quotes, `:`, `null`, numbers) is what SQL's
/// signs read, so for the whole of it they are not taken; an injection
/// begins in one of its strings. Nor are markup's signs alone (a tag, a
/// comment, a link): markup is shown from one string, judged on its own.
/// A document with more strings than are taken out is judged whole.
fn inspect_document(
    decoded: &[u8],
    shown: Shown<'_>,
    location: Location,
    site: Option<offsite::Site<'_>>,
    result: &mut Inspection,
) {
    let nested::JsonStrings { strings, complete } = nested::json_strings(decoded);
    let mut whole = Inspection::default();
    inspect_value(decoded, shown, location, site, &mut whole);
    if complete {
        whole.drop_class(Class::Sqli);
        if rich_text::markup_alone(&whole.findings) {
            whole.drop_rules(rich_text::MARKUP_SIGNS);
        }
    }
    whole.findings.into_iter().for_each(|finding| result.add_finding(finding));
    for inner in strings {
        inspect_value(inner.as_bytes(), Shown::AsIs(inner.as_bytes()), location, site, result);
    }
}

/// Runs every rule view and the SQL lexer over one decoded value, and the
/// off-site URL check when the request's own host is given. `shown` is the
/// value as an application keeps and shows it, for the markup check.
/// In a long value, weak signs count only where they sit together
/// ([`locality`]).
fn inspect_value(
    decoded: &[u8],
    shown: Shown<'_>,
    location: Location,
    site: Option<offsite::Site<'_>>,
    result: &mut Inspection,
) {
    let views = Views::new(decoded, location);
    let mut here = Inspection::default();
    for (scan, text) in views.scans() {
        for rule in ENGINE.matches(scan, text, location, views.is_prose()) {
            here.add(rule, location);
        }
    }
    // A quote then a comment (1010) is an injection's only where the
    // quote leaves a string open; prose closes the quotes it opens.
    if here.findings.iter().any(|f| f.rule == rules::QUOTE_THEN_COMMENT)
        && !quoting::breaks_out_before_comment(views.get(View::Sql))
    {
        here.drop_rules(&[rules::QUOTE_THEN_COMMENT]);
    }
    if sqltok::looks_like_sql(views.get(View::Sql)) {
        here.add(&rules::SQL_SHAPE, location);
    }
    for rule in tokenized::judge(decoded, location) {
        here.add(rule, location);
    }
    // A search query's phrases are quotes beside words (`"not found" OR
    // "missing"`); see [`search`].
    if here.findings.iter().any(|f| search::QUOTE_SIGNS.contains(&f.rule))
        && search::is_search_query(views.get(View::Raw))
    {
        here.drop_rules(search::QUOTE_SIGNS);
    }
    // A query filter an API takes (`state = "ACTIVE" AND env = "prod"`)
    // is written with SQL's words; see [`filters`].
    if here.findings.iter().any(|f| f.class == Class::Sqli) && filters::is_query_filter(views.get(View::Raw))
    {
        here.drop_class(Class::Sqli);
    }
    // An SVG icon of shapes alone runs nothing; see [`svg`].
    if here.findings.iter().any(|f| f.class == Class::Xss) && svg::is_inert_svg(decoded) {
        here.drop_class(Class::Xss);
    }
    // Rich text a sanitizer keeps: its markup alone is no sign; see
    // [`rich_text`]. Beside another sign of script it still counts.
    if rich_text::markup_alone(&here.findings) && rich_text::is_sanitized_html(shown) {
        here.drop_rules(rich_text::MARKUP_SIGNS);
    }
    if ssrf::targets_internal(views.get(View::Norm), views.get(View::Raw), location) {
        here.add(&ssrf::INTERNAL_URL, location);
    }
    if site.is_some_and(|site| offsite::points_off_site(views.get(View::Norm), site)) {
        here.add(&rules::OFFSITE_URL, location);
    }
    let here = locality::weak_signs_together(decoded, location, views.is_prose(), here);
    for finding in here.findings {
        result.add_finding(finding);
    }
    if let Some(head) = views.prose_head() {
        inspect_value(head.as_bytes(), Shown::AsIs(head.as_bytes()), location, site, result);
    }
}

/// A whole form pair sent percent-encoded (`pay%3D%26%26(...`) decodes to
/// `name=value` in one value, where signatures anchored at the start of a
/// value would see the name first: the part after `=`, inspected as a value
/// of its own. Only when the `=` itself came encoded (`%3d`), and not in a
/// query filter of several comparisons (`type%3D%22vm%22%20AND%20...`),
/// whose `=` compares.
fn smuggled_pair_value<'d>(raw: &[u8], decoded: &'d [u8]) -> Option<&'d [u8]> {
    let encoded_equals = decode::contains_ignore_ascii_case(raw, b"%3d");
    if !encoded_equals || std::str::from_utf8(decoded).is_ok_and(filters::is_joined_query_filter) {
        return None;
    }
    let eq = decoded.iter().position(|&b| b == b'=')?;
    let name = decoded.get(..eq)?;
    let is_name = (1..=64).contains(&name.len()) && name.iter().all(|&b| extract::field_name_byte(b));
    if is_name { decoded.get(eq + 1..).filter(|v| !v.is_empty()) } else { None }
}

/// Property checked by the `waf_inspect` fuzz target and by the corpus
/// replay in `tests/waf_corpus.rs`: any input, split into request parts,
/// is inspected without panicking and with a consistent result.
///
/// Input layout: `content-type \n query \n header-value \n body`.
pub fn fuzz_check(data: &[u8]) {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let ct = parts.next().and_then(|b| std::str::from_utf8(b).ok());
    let query = parts.next().and_then(|b| std::str::from_utf8(b).ok());
    let header = parts.next().and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let headers = [("user-agent", header), ("cookie", header), ("x-custom", header)];
    let req = RequestView { path: query, query, headers: &headers, content_type: ct, body };
    let ins = inspect(&req);
    let sum: u32 = ins.findings.iter().map(|f| f.score).sum();
    let highest = ins.findings.iter().map(|f| f.score).max().unwrap_or(0);
    assert!(
        highest <= ins.score && ins.score <= sum,
        "score is one value's: between its highest finding and the sum"
    );
    let mut ids = ins.rule_ids();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ins.findings.len(), "a rule counts once");
    // Exclusions only take findings away, and only their own.
    let excluded = inspect_for(&req, extract::InspectionLimits::default(), &FUZZ_EXCLUSIONS);
    assert!(excluded.score <= ins.score, "an exclusion never adds to a score");
    assert!(excluded.findings.iter().all(|f| ids.contains(&f.rule)), "nor a finding");
}

/// Exclusions of each kind (by field, by location, of every rule), over
/// field names the fuzzer finds quickly.
static FUZZ_EXCLUSIONS: std::sync::LazyLock<exclusions::Exclusions> = std::sync::LazyLock::new(|| {
    use exclusions::Exclusion;
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect();
    exclusions::Exclusions::new(vec![
        Exclusion {
            fields: names(&["a", "q", "x-custom"]),
            classes: vec![Class::Sqli, Class::Rce],
            ..Exclusion::default()
        },
        Exclusion { fields: names(&["b", "*.id", "a.b"]), ..Exclusion::default() },
        Exclusion {
            locations: vec![Location::Header],
            rules: vec![tokenized::XSS.id],
            ..Exclusion::default()
        },
    ])
    .unwrap_or_default()
});

#[cfg(test)]
mod tests;
