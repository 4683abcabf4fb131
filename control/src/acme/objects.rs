//! The server's URLs and the JSON objects of RFC 8555 §7.1 as clients see
//! them: account, order, authorization, challenge.

use crate::registry::acme::{Account, Authz, Challenge, Order};
use serde_json::{Value, json};

/// Every URL the server hands out, under one base.
#[derive(Debug, Clone)]
pub struct Urls {
    base: String,
}

impl Urls {
    pub fn new(base: String) -> Self {
        Self { base }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn directory(&self) -> String {
        self.path("/acme/directory")
    }
    pub fn new_account(&self) -> String {
        self.path("/acme/new-account")
    }
    pub fn account(&self, id: &str) -> String {
        self.path(&format!("/acme/acct/{id}"))
    }
    pub fn order(&self, id: &str) -> String {
        self.path(&format!("/acme/order/{id}"))
    }
    pub fn finalize(&self, id: &str) -> String {
        self.path(&format!("/acme/order/{id}/finalize"))
    }
    pub fn authz(&self, id: &str) -> String {
        self.path(&format!("/acme/authz/{id}"))
    }
    pub fn challenge(&self, id: &str) -> String {
        self.path(&format!("/acme/chall/{id}"))
    }
    pub fn certificate(&self, serial: &str) -> String {
        self.path(&format!("/acme/cert/{serial}"))
    }
    /// The id an account URL names, if it is one of ours.
    pub fn account_id<'a>(&self, url: &'a str) -> Option<&'a str> {
        url.strip_prefix(&self.base)?.strip_prefix("/acme/acct/").filter(|id| !id.contains('/'))
    }
}

/// RFC 3339, whole seconds, UTC.
pub fn time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn problem(text: Option<&str>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

pub fn account(a: &Account, urls: &Urls) -> Value {
    let mut doc = json!({
        "status": a.status,
        "contact": a.contact,
        "orders": format!("{}/orders", urls.account(&a.id)),
    });
    if let Some(kid) = &a.eab_kid {
        doc["externalAccountBinding"] = json!({"kid": kid});
    }
    doc
}

pub fn order(o: &Order, authzs: &[String], urls: &Urls) -> Value {
    let mut doc = json!({
        "status": o.status,
        "expires": time(o.expires_at),
        "identifiers": o.identifiers,
        "authorizations": authzs.iter().map(|id| urls.authz(id)).collect::<Vec<_>>(),
        "finalize": urls.finalize(&o.id),
        "profile": o.profile,
    });
    if let Some(serial) = &o.serial {
        doc["certificate"] = urls.certificate(serial).into();
    }
    if let Some(error) = problem(o.error.as_deref()) {
        doc["error"] = error;
    }
    if let Some(replaces) = &o.replaces {
        doc["replaces"] = replaces.as_str().into();
    }
    doc
}

pub fn challenge(c: &Challenge, urls: &Urls) -> Value {
    let mut doc = json!({
        "type": c.kind,
        "url": urls.challenge(&c.id),
        "status": c.status,
        "token": c.token,
    });
    if let Some(at) = c.validated_at.filter(|_| c.status == "valid") {
        doc["validated"] = time(at).into();
    }
    if let Some(error) = problem(c.error.as_deref()) {
        doc["error"] = error;
    }
    doc
}

pub fn authz(a: &Authz, challenges: &[Challenge], urls: &Urls) -> Value {
    // A valid authorization lists the challenge that made it so; an
    // invalid one, the one that failed (RFC 8555 §7.1.4).
    let shown: Vec<Value> = challenges
        .iter()
        .filter(|c| match a.status.as_str() {
            "valid" => c.status == "valid",
            "invalid" => c.status == "invalid",
            _ => true,
        })
        .map(|c| challenge(c, urls))
        .collect();
    let mut doc = json!({
        "identifier": a.identifier,
        "status": a.status,
        "expires": time(a.expires_at),
        "challenges": shown,
    });
    if a.wildcard {
        doc["wildcard"] = true.into();
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_and_account_urls_are_recognised() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        let urls = Urls::new("https://127.0.0.1:8444".into());
        assert_eq!(urls.account_id("https://127.0.0.1:8444/acme/acct/abc"), Some("abc"));
        assert_eq!(urls.account_id("https://127.0.0.1:8444/acme/acct/abc/orders"), None);
        assert_eq!(urls.account_id("https://other/acme/acct/abc"), None);
    }
}
