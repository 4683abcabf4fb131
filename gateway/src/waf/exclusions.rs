//! A stream's rule exclusions: what its operator knows a field may carry.
//! An API whose `readme` field holds Markdown with shell snippets, or whose
//! `callback_url` names another site, is tuned the way CRS deployments are
//! (`SecRuleRemoveById`, `SecRuleUpdateTargetById ... !ARGS:readme`): by
//! naming the fields, the locations and the rules or classes that do not
//! apply there. Every other value is inspected by every rule.
//!
//! An exclusion matches a finding when the finding's value is under one of
//! its `fields` (a query or form argument, a JSON path from the document's
//! root with keys joined by dots and arrays passed through, an XML element
//! or attribute, a multipart part, a cookie or a header; `*.key` for a key
//! at any depth; none named: every value), in one of its `locations` (none: all)
//! and the rule is one of its `rules` or `classes` (none named: every rule,
//! and the value is not inspected at all). A finding an exclusion matches
//! does not count; the value's score is what remains.
//!
//! Which exclusions name a value's fields is worked out while the request
//! is read ([`Exclusions::field_bits`], one bit per exclusion), so a stream
//! without exclusions pays nothing and one with them compares names once
//! per field, not once per finding.

use super::{Class, Finding, Inspection, Location, rules};

/// Exclusions a stream may have: one bit each in a value's field bits.
pub const MAX: usize = 64;

/// One exclusion as configured, checked by [`Exclusions::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusion {
    /// Field names, exact (headers: any case). Empty: every value.
    pub fields: Vec<String>,
    /// Empty: every location.
    pub locations: Vec<Location>,
    /// Rule ids. With `classes` both empty: every rule.
    pub rules: Vec<u32>,
    pub classes: Vec<Class>,
}

impl Exclusion {
    fn every_rule(&self) -> bool {
        self.rules.is_empty() && self.classes.is_empty()
    }

    fn covers(&self, finding: &Finding) -> bool {
        self.every_rule() || self.rules.contains(&finding.rule) || self.classes.contains(&finding.class)
    }

    /// A flat name: a query or form argument, a header, a cookie, a part,
    /// an XML element or attribute (`*.` changes nothing there).
    fn names(&self, location: Location, name: &[u8]) -> bool {
        self.fields.iter().map(|field| field.strip_prefix("*.").unwrap_or(field)).any(
            |field| match location {
                Location::Header => field.as_bytes().eq_ignore_ascii_case(name),
                _ => field.as_bytes() == name,
            },
        )
    }

    /// A JSON key at `path` from the document's root: the path itself, or
    /// `*.key` at any depth. A key elsewhere does not borrow an exclusion
    /// (`{"user": {"readme": ...}}` is not the `readme` field).
    fn names_json(&self, path: &[u8], key: &[u8]) -> bool {
        self.fields.iter().any(|field| match field.strip_prefix("*.") {
            Some(anywhere) => anywhere.as_bytes() == key,
            None => field.as_bytes() == path,
        })
    }
}

/// A stream's exclusions, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    list: Vec<Exclusion>,
    /// Whether any exclusion names fields: only then are names compared.
    by_field: bool,
}

/// No exclusions: every rule reads every value.
pub static NONE: Exclusions = Exclusions { list: Vec::new(), by_field: false };

impl Exclusions {
    /// Checks each exclusion: at most [`MAX`], each naming something (an
    /// exclusion of every rule everywhere is `mode = "off"`, said so), and
    /// every rule id one the WAF has, so a typo does not pass silently.
    pub fn new(list: Vec<Exclusion>) -> Result<Self, String> {
        if list.len() > MAX {
            return Err(format!("{} exclusions; at most {MAX}", list.len()));
        }
        for (i, exclusion) in list.iter().enumerate() {
            let everywhere = exclusion.fields.is_empty() && exclusion.locations.is_empty();
            if everywhere && exclusion.every_rule() {
                return Err(format!(
                    "exclusion {i} names no field, location, rule or class: it would turn the WAF off (mode = \"off\" says so)"
                ));
            }
            if let Some(unknown) = exclusion.rules.iter().find(|id| !rules::known(**id)) {
                return Err(format!("exclusion {i}: no rule {unknown}"));
            }
            if exclusion.fields.iter().any(|f| f.strip_prefix("*.").unwrap_or(f).is_empty()) {
                return Err(format!("exclusion {i}: an empty field name"));
            }
        }
        let by_field = list.iter().any(|e| !e.fields.is_empty());
        Ok(Self { list, by_field })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether any exclusion names fields (the reader then tracks names).
    pub(crate) fn by_field(&self) -> bool {
        self.by_field
    }

    /// One bit per exclusion naming `name` (decoded) in `location`.
    pub(crate) fn field_bits(&self, location: Location, name: &[u8]) -> u64 {
        let name = name.trim_ascii();
        self.bits_where(|exclusion| exclusion.names(location, name))
    }

    /// One bit per exclusion naming the JSON key `key` at `path` (keys
    /// from the root joined by dots).
    pub(crate) fn json_bits(&self, path: &[u8], key: &[u8]) -> u64 {
        self.bits_where(|exclusion| exclusion.names_json(path, key))
    }

    fn bits_where(&self, names: impl Fn(&Exclusion) -> bool) -> u64 {
        if !self.by_field {
            return 0;
        }
        self.list
            .iter()
            .enumerate()
            .filter(|(_, exclusion)| names(exclusion))
            .fold(0, |bits, (i, _)| bits | (1 << i))
    }

    /// The exclusions that apply to a value in `location` under the fields
    /// `bits` names.
    fn applying(&self, location: Location, bits: u64) -> impl Iterator<Item = &Exclusion> {
        self.list.iter().enumerate().filter_map(move |(i, exclusion)| {
            let field = exclusion.fields.is_empty() || bits & (1 << i) != 0;
            let place = exclusion.locations.is_empty() || exclusion.locations.contains(&location);
            (field && place).then_some(exclusion)
        })
    }

    /// Whether no rule reads a value there: it need not be inspected.
    pub(crate) fn skips(&self, location: Location, bits: u64) -> bool {
        !self.list.is_empty() && self.applying(location, bits).any(Exclusion::every_rule)
    }

    /// The findings on one value that no exclusion covers, and their score.
    pub(crate) fn apply(&self, location: Location, bits: u64, value: Inspection) -> Inspection {
        if self.list.is_empty() || value.findings.is_empty() {
            return value;
        }
        let excluded = |finding: &Finding| self.applying(location, bits).any(|e| e.covers(finding));
        let findings: Vec<Finding> = value.findings.into_iter().filter(|f| !excluded(f)).collect();
        let score = findings.iter().map(|f| f.score).sum();
        Inspection { score, findings, uninspectable: value.uninspectable }
    }
}

/// A location by its configuration name (the metric and log label).
pub fn location_named(name: &str) -> Option<Location> {
    Location::ALL.into_iter().find(|l| l.label() == name)
}

/// A class by its configuration name (the metric and log label).
pub fn class_named(name: &str) -> Option<Class> {
    Class::ALL.into_iter().find(|c| c.label() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: u32, class: Class, score: u32) -> Finding {
        Finding { rule, class, score, location: Location::Body, field: None }
    }

    fn inspection(findings: Vec<Finding>) -> Inspection {
        Inspection { score: findings.iter().map(|f| f.score).sum(), findings, uninspectable: None }
    }

    fn exclusion(fields: &[&str], rules: &[u32], classes: &[Class]) -> Exclusion {
        Exclusion {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            locations: Vec::new(),
            rules: rules.to_vec(),
            classes: classes.to_vec(),
        }
    }

    #[test]
    fn a_field_exclusion_drops_its_rules_there_and_nowhere_else() {
        let ex = Exclusions::new(vec![exclusion(&["readme"], &[3022], &[Class::Sqli])]).expect("valid");
        let bits = ex.field_bits(Location::Body, b"readme");
        assert_eq!(bits, 1);
        assert_eq!(ex.field_bits(Location::Body, b"README"), 0, "body names are exact");
        let value = || {
            inspection(vec![
                finding(3022, Class::Rce, 5),
                finding(1200, Class::Sqli, 5),
                finding(2200, Class::Xss, 5),
            ])
        };
        let kept = ex.apply(Location::Body, bits, value());
        assert_eq!((kept.score, kept.rule_ids()), (5, vec![2200]));
        assert_eq!(ex.apply(Location::Body, 0, value()), value(), "other fields keep every finding");
        assert!(!ex.skips(Location::Body, bits), "other rules still read it");
    }

    #[test]
    fn locations_and_headers() {
        let mut by_location = exclusion(&[], &[5010], &[]);
        by_location.locations = vec![Location::Query];
        let mut header = exclusion(&["X-Signature"], &[], &[]);
        header.locations = vec![Location::Header];
        let ex = Exclusions::new(vec![by_location, header]).expect("valid");
        let offsite = || inspection(vec![finding(5010, Class::Rfi, 5)]);
        assert_eq!(ex.apply(Location::Query, 0, offsite()).score, 0);
        assert_eq!(ex.apply(Location::Body, 0, offsite()).score, 5);
        let bits = ex.field_bits(Location::Header, b"x-signature");
        assert_eq!(bits, 2, "header names in any case");
        assert!(ex.skips(Location::Header, bits), "every rule excluded: not inspected");
        assert!(!ex.skips(Location::Body, bits), "a header exclusion says nothing of bodies");
    }

    /// The field bits each value is read with, by value.
    fn bits_by_value(req: &crate::waf::RequestView<'_>, ex: &Exclusions) -> Vec<(String, u64)> {
        let limits = crate::waf::extract::InspectionLimits::default();
        let got = crate::waf::extract::values_for(req, limits, ex);
        got.list.iter().map(|v| (String::from_utf8_lossy(&v.bytes).into_owned(), v.field_bits)).collect()
    }

    /// The field each value is named by, by value.
    fn names_by_value(req: &crate::waf::RequestView<'_>) -> Vec<(String, Option<String>)> {
        let limits = crate::waf::extract::InspectionLimits::default();
        let got = crate::waf::extract::values_for(req, limits, &NONE);
        let text = |v: &crate::waf::extract::Value<'_>| String::from_utf8_lossy(&v.bytes).into_owned();
        got.list.iter().map(|v| (text(v), v.name.label(&got.list))).collect()
    }

    #[test]
    fn values_are_under_the_fields_around_them() {
        let ex = Exclusions::new(vec![
            exclusion(&["docs"], &[3022], &[]),
            exclusion(&["note"], &[3022], &[]),
            exclusion(&["X-Sig"], &[3022], &[]),
        ])
        .expect("valid");
        let json = br#"{"docs": {"readme": ["a", {"k": "b"}]}, "other": "c", "note": "d"}"#;
        let req = crate::waf::RequestView {
            path: Some("/p"),
            query: Some("no%74e=e&x=f"),
            headers: &[("x-sig", "g"), ("cookie", "note=h; y=i")],
            content_type: Some("application/json"),
            body: json,
        };
        let got = bits_by_value(&req, &ex);
        for (value, bits) in [
            ("/p", 0),
            ("no%74e", 2),
            ("e", 2),
            ("x", 0),
            ("f", 0),
            ("docs", 1),
            ("readme", 1),
            ("a", 1),
            ("b", 1),
            ("other", 0),
            ("c", 0),
            ("d", 2),
            ("g", 4),
            ("h", 2),
            ("i", 0),
        ] {
            assert!(got.contains(&(value.to_string(), bits)), "{value} {bits} in {got:?}");
        }
        let names = names_by_value(&req);
        for (value, name) in [
            ("/p", None),
            ("no%74e", Some("note")),
            ("e", Some("note")),
            ("b", Some("docs.readme.k")),
            ("a", Some("docs.readme")),
        ]
        .into_iter()
        .chain([
            ("readme", Some("docs.readme")),
            ("docs", Some("docs")),
            ("g", Some("x-sig")),
            ("h", Some("note")),
            ("i", Some("y")),
        ]) {
            assert!(
                names.contains(&(value.to_string(), name.map(str::to_string))),
                "{value} {name:?} in {names:?}"
            );
        }
        let xml = br#"<r><note lang="en">t<b>u</b></note><x note="v">w</x></r>"#;
        let req = crate::waf::RequestView {
            content_type: Some("application/xml"),
            body: xml,
            ..Default::default()
        };
        let got = bits_by_value(&req, &ex);
        assert_eq!(got, [("en", 2), ("t", 2), ("u", 2), ("v", 2), ("w", 0)].map(|(v, b)| (v.to_string(), b)));
        let multipart = b"--B\r\nContent-Disposition: form-data; name=\"docs\"\r\n\r\nz\r\n--B--\r\n";
        let req = crate::waf::RequestView {
            content_type: Some("multipart/form-data; boundary=B"),
            body: multipart,
            ..Default::default()
        };
        assert_eq!(bits_by_value(&req, &ex), [("docs".to_string(), 1), ("z".to_string(), 1)]);
    }

    #[test]
    fn an_upload_part_kept_to_its_body_still_has_its_file_name_read() {
        let mut body_only = exclusion(&["upload"], &[], &[]);
        body_only.locations = vec![Location::Body];
        let multipart = b"--B\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"shell.php\"\r\n\r\n<?php system($_GET['c']); ?>\r\n--B--\r\n";
        let req = crate::waf::RequestView {
            content_type: Some("multipart/form-data; boundary=B"),
            body: multipart,
            ..Default::default()
        };
        let limits = crate::waf::extract::InspectionLimits::default();
        for (ex, file_name_read) in [(exclusion(&["upload"], &[], &[]), false), (body_only, true)] {
            let ex = Exclusions::new(vec![ex]).expect("valid");
            let values = crate::waf::extract::values_for(&req, limits, &ex).list;
            assert_eq!(
                values.iter().map(|v| v.location).collect::<Vec<_>>(),
                if file_name_read { vec![Location::FileName] } else { vec![] }
            );
            assert_eq!(
                crate::waf::inspect_for(&req, limits, &ex).blocked(crate::waf::DEFAULT_THRESHOLD),
                file_name_read
            );
        }
    }

    #[test]
    fn json_fields_are_paths_from_the_root() {
        let ex = Exclusions::new(vec![
            exclusion(&["readme"], &[3022], &[]),
            exclusion(&["package.readme"], &[3022], &[]),
            exclusion(&["*.note"], &[3022], &[]),
        ])
        .expect("valid");
        let body = br#"{"readme": "r1", "package": {"readme": "r2", "items": [{"note": "n1"}]}, "user": {"readme": "r3"}}"#;
        let got = bits_by_value(&json_request(body), &ex);
        for (value, bits) in [("r1", 1), ("r2", 2), ("n1", 4), ("r3", 0), ("package", 0)] {
            assert!(got.contains(&(value.to_string(), bits)), "{value} {bits} in {got:?}");
        }
    }

    fn json_request(body: &[u8]) -> crate::waf::RequestView<'_> {
        crate::waf::RequestView { content_type: Some("application/json"), body, ..Default::default() }
    }

    #[test]
    fn an_excluded_field_passes_and_the_rest_is_still_judged() {
        use crate::waf::{DEFAULT_THRESHOLD, inspect_for};
        let limits = crate::waf::extract::InspectionLimits::default();
        let readme = "Install with `curl -sSL https://x.example/i.sh | sh`, then `rm -rf ~/.cache/x`.";
        let body = serde_json::json!({"name": "x", "readme": readme}).to_string();
        let flagged = inspect_for(&json_request(body.as_bytes()), limits, &NONE);
        assert!(flagged.blocked(DEFAULT_THRESHOLD), "{flagged:?}");
        let ex = Exclusions::new(vec![exclusion(&["readme"], &[], &flagged.classes())]).expect("valid");
        let passed = inspect_for(&json_request(body.as_bytes()), limits, &ex);
        assert_eq!((passed.score, passed.findings.len()), (0, 0), "{passed:?}");
        let attack = serde_json::json!({"name": "1' UNION SELECT password FROM users--", "readme": readme});
        let attack = attack.to_string();
        let found = inspect_for(&json_request(attack.as_bytes()), limits, &ex);
        assert!(found.blocked(DEFAULT_THRESHOLD));
        assert!(found.findings.iter().all(|f| f.field.as_deref() == Some("name")), "{found:?}");
        assert!(flagged.findings.iter().all(|f| f.field.as_deref() == Some("readme")), "{flagged:?}");
    }

    #[test]
    fn what_cannot_be_checked_is_refused() {
        assert!(Exclusions::new(vec![Exclusion::default()]).is_err(), "every rule everywhere is mode off");
        assert!(Exclusions::new(vec![exclusion(&["a"], &[99999], &[])]).is_err(), "unknown rule");
        assert!(Exclusions::new(vec![exclusion(&[""], &[], &[])]).is_err(), "empty field");
        assert!(Exclusions::new(vec![exclusion(&["*."], &[], &[])]).is_err(), "empty key at any depth");
        assert!(Exclusions::new(vec![exclusion(&["a"], &[], &[]); MAX + 1]).is_err(), "too many");
        assert!(Exclusions::new(vec![exclusion(&["a"], &[], &[]); MAX]).is_ok());
        assert_eq!(location_named("query"), Some(Location::Query));
        assert_eq!(class_named("rce"), Some(Class::Rce));
        assert_eq!(class_named("RCE"), None);
    }
}
