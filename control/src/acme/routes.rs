//! ACME's resources by method and path, and the checks every POST goes
//! through before its handler (media type, size, then the JWS phases of
//! [`super::request`]). Every answer gets a fresh nonce.

use super::problem::{AcmeResult, Kind, Problem};
use super::request::{self, KeyRule};
use super::{Acme, Reply, ReplyBody, account, ari, order, respond, revoke};
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::http::{Body, Handler, RequestBody};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use serde_json::json;
use std::net::SocketAddr;

/// A request body larger than this is refused (a CSR for 100 names and an
/// RSA-4096 account key fit many times over).
const MAX_BODY: usize = 64 * 1024;

#[derive(Clone)]
pub struct AcmeService {
    acme: Acme,
}

impl AcmeService {
    pub fn new(acme: Acme) -> Self {
        Self { acme }
    }
}

/// An ACME resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resource {
    Directory,
    NewNonce,
    NewAccount,
    NewOrder,
    RevokeCert,
    KeyChange,
    RenewalInfo(String),
    Account(String),
    Orders(String),
    Order(String),
    Finalize(String),
    Authz(String),
    Challenge(String),
    Certificate(String, u32),
}

/// An id in a path: what this server hands out (base64url, hex).
fn id(text: &str) -> Option<String> {
    let plausible = !text.is_empty()
        && text.len() <= 128
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    plausible.then(|| text.to_owned())
}

pub(crate) fn resource(path: &str) -> Option<Resource> {
    let rest = path.strip_prefix("/acme/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    Some(match parts.as_slice() {
        ["directory"] => Resource::Directory,
        ["new-nonce"] => Resource::NewNonce,
        ["new-account"] => Resource::NewAccount,
        ["new-order"] => Resource::NewOrder,
        ["revoke-cert"] => Resource::RevokeCert,
        ["key-change"] => Resource::KeyChange,
        ["renewal-info", cert] => Resource::RenewalInfo(id(cert)?),
        ["acct", a] => Resource::Account(id(a)?),
        ["acct", a, "orders"] => Resource::Orders(id(a)?),
        ["order", o] => Resource::Order(id(o)?),
        ["order", o, "finalize"] => Resource::Finalize(id(o)?),
        ["authz", a] => Resource::Authz(id(a)?),
        ["chall", c] => Resource::Challenge(id(c)?),
        ["cert", serial] => Resource::Certificate(id(serial)?, 0),
        ["cert", serial, alt] => Resource::Certificate(id(serial)?, alt.parse().ok()?),
        _ => return None,
    })
}

fn method_not_allowed(allowed: &str) -> Problem {
    Problem::new(Kind::MethodNotAllowed, format!("use {allowed} here"))
}

impl Handler for AcmeService {
    async fn handle(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        let path = req.uri().path().to_owned();
        if req.method() == Method::GET
            && let Some(resp) = cartorio_platform::http::common_route(&path)
        {
            return resp;
        }
        // The control plane's readiness: ACME issues through its registry and signers.
        if req.method() == Method::GET && path == "/readyz" {
            let (ready, doc) = crate::readiness::readyz(self.acme.control()).await;
            let status = if ready { http::StatusCode::OK } else { http::StatusCode::SERVICE_UNAVAILABLE };
            let mut resp = cartorio_platform::http::response(status, "application/json", doc.to_string());
            AccessNote::readiness(ready).attach(&mut resp);
            return resp;
        }
        let acme = &self.acme;
        let resource = resource(&path);
        let outcome = match resource.clone() {
            None => Err(Problem::not_found()),
            Some(resource) => dispatch(acme, resource, req).await,
        };
        let status = outcome.as_ref().map_or_else(|p| p.kind.status(), |r| r.status);
        let name = resource.as_ref().map_or("none", name_of);
        metrics::counter!("cartorio_acme_requests_total", "resource" => name, "status" => status.to_string())
            .increment(1);
        let note = match &outcome {
            Ok(_) => AccessNote::new(resource.as_ref().map_or("", name_of), "ok"),
            Err(problem) => AccessNote {
                reason: Some(problem.kind.name().to_owned()),
                ..AccessNote::new(resource.as_ref().map_or("", name_of), "problem")
            },
        };
        // The directory and renewal information are plain GETs: no nonce.
        let nonce = match resource {
            Some(Resource::Directory | Resource::RenewalInfo(_)) => None,
            _ => match acme.nonce().await {
                Ok(nonce) => Some(nonce),
                Err(problem) => return respond(Err(problem), None, acme.urls()),
            },
        };
        let mut resp = respond(outcome, nonce, acme.urls());
        note.attach(&mut resp);
        resp
    }
}

fn name_of(resource: &Resource) -> &'static str {
    match resource {
        Resource::Directory => "directory",
        Resource::NewNonce => "new-nonce",
        Resource::NewAccount => "new-account",
        Resource::NewOrder => "new-order",
        Resource::RevokeCert => "revoke-cert",
        Resource::KeyChange => "key-change",
        Resource::RenewalInfo(_) => "renewal-info",
        Resource::Account(_) => "account",
        Resource::Orders(_) => "orders",
        Resource::Order(_) => "order",
        Resource::Finalize(_) => "finalize",
        Resource::Authz(_) => "authz",
        Resource::Challenge(_) => "challenge",
        Resource::Certificate(..) => "certificate",
    }
}

async fn dispatch(acme: &Acme, resource: Resource, req: Request<RequestBody>) -> AcmeResult<Reply> {
    let method = req.method().clone();
    let get_like = method == Method::GET || method == Method::HEAD;
    match (&resource, get_like) {
        (Resource::Directory, true) => return Ok(Reply::json(200, directory(acme))),
        (Resource::NewNonce, true) => {
            let status = if method == Method::HEAD { 200 } else { 204 };
            return Ok(Reply { body: ReplyBody::Empty, ..Reply::json(status, json!(null)) });
        }
        (Resource::RenewalInfo(id), true) => return ari::renewal_info(acme, id).await,
        (Resource::Certificate(serial, alt), true) => return order::certificate(acme, serial, *alt).await,
        (Resource::Directory | Resource::NewNonce | Resource::RenewalInfo(_), false) => {
            return Err(method_not_allowed("GET"));
        }
        (_, true) => return Err(method_not_allowed("POST (POST-as-GET to fetch)")),
        (_, false) if method != Method::POST => return Err(method_not_allowed("POST")),
        _ => {}
    }
    let content_type = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if content_type != Some("application/jose+json") {
        return Err(Problem::new(Kind::UnsupportedMediaType, "ACME requests are application/jose+json"));
    }
    let query = req.uri().query().map(str::to_owned);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return Err(Problem::new(
                Kind::PayloadTooLarge,
                format!("a request is at most {MAX_BODY} octets"),
            ));
        }
    };
    let mut url = acme.urls().path(&resource_path(&resource));
    if let Some(query) = &query {
        url = format!("{url}?{query}");
    }
    let rule = match resource {
        Resource::NewAccount => KeyRule::Jwk,
        Resource::RevokeCert => KeyRule::Either,
        _ => KeyRule::Kid,
    };
    let signed = request::authenticate(acme, &url, &body, rule).await?;
    match resource {
        Resource::NewAccount => account::new_account(acme, signed).await,
        Resource::NewOrder => order::new_order(acme, signed).await,
        Resource::RevokeCert => revoke::revoke_cert(acme, signed).await,
        Resource::KeyChange => account::key_change(acme, signed, &url).await,
        Resource::Account(id) => account::account(acme, signed, &id).await,
        Resource::Orders(id) => account::orders(acme, signed, &id, query.as_deref().unwrap_or("")).await,
        Resource::Order(id) => order::order(acme, signed, &id).await,
        Resource::Finalize(id) => order::finalize(acme, signed, &id).await,
        Resource::Authz(id) => order::authz(acme, signed, &id).await,
        Resource::Challenge(id) => order::challenge(acme, signed, &id).await,
        Resource::Certificate(serial, alt) => {
            signed.expect_post_as_get()?;
            order::certificate(acme, &serial, alt).await
        }
        Resource::Directory | Resource::NewNonce | Resource::RenewalInfo(_) => Err(method_not_allowed("GET")),
    }
}

/// The path a resource is served at (what a request's JWS `url` must name).
fn resource_path(resource: &Resource) -> String {
    match resource {
        Resource::Directory => "/acme/directory".into(),
        Resource::NewNonce => "/acme/new-nonce".into(),
        Resource::NewAccount => "/acme/new-account".into(),
        Resource::NewOrder => "/acme/new-order".into(),
        Resource::RevokeCert => "/acme/revoke-cert".into(),
        Resource::KeyChange => "/acme/key-change".into(),
        Resource::RenewalInfo(id) => format!("/acme/renewal-info/{id}"),
        Resource::Account(id) => format!("/acme/acct/{id}"),
        Resource::Orders(id) => format!("/acme/acct/{id}/orders"),
        Resource::Order(id) => format!("/acme/order/{id}"),
        Resource::Finalize(id) => format!("/acme/order/{id}/finalize"),
        Resource::Authz(id) => format!("/acme/authz/{id}"),
        Resource::Challenge(id) => format!("/acme/chall/{id}"),
        Resource::Certificate(serial, 0) => format!("/acme/cert/{serial}"),
        Resource::Certificate(serial, alt) => format!("/acme/cert/{serial}/{alt}"),
    }
}

/// The directory (RFC 8555 §7.1.1), with `meta` and the renewalInfo (RFC
/// 9773) and profiles (ACME profiles extension) additions.
fn directory(acme: &Acme) -> serde_json::Value {
    let urls = acme.urls();
    let config = acme.config();
    let profiles: serde_json::Map<String, serde_json::Value> = acme
        .profiles()
        .iter()
        .map(|(name, p)| {
            let days = p.validity_secs as f64 / 86_400.0;
            let revocation =
                if p.no_revocation_info { "no revocation information (RFC 9608)" } else { "OCSP and CRL" };
            (name.clone(), json!(format!("{days} days from CA {}; {revocation}", p.issuer)))
        })
        .collect();
    let mut meta = json!({
        "externalAccountRequired": config.external_account_required,
        "profiles": profiles,
    });
    if let Some(tos) = &config.terms_of_service {
        meta["termsOfService"] = tos.as_str().into();
    }
    if let Some(website) = &config.website {
        meta["website"] = website.as_str().into();
    }
    if !config.caa_identities.is_empty() {
        meta["caaIdentities"] = json!(config.caa_identities);
    }
    json!({
        "newNonce": urls.path("/acme/new-nonce"),
        "newAccount": urls.new_account(),
        "newOrder": urls.path("/acme/new-order"),
        "revokeCert": urls.path("/acme/revoke-cert"),
        "keyChange": urls.path("/acme/key-change"),
        "renewalInfo": urls.path("/acme/renewal-info"),
        "meta": meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resources_and_nothing_else() {
        assert_eq!(resource("/acme/directory"), Some(Resource::Directory));
        assert_eq!(resource("/acme/acct/abc-_1/orders"), Some(Resource::Orders("abc-_1".into())));
        assert_eq!(resource("/acme/cert/0a1b/1"), Some(Resource::Certificate("0a1b".into(), 1)));
        assert_eq!(
            resource("/acme/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").map(|r| name_of(&r)),
            Some("renewal-info")
        );
        for path in ["/acme/acct/", "/acme/acct/a b", "/acme/order/x/y", "/directory", "/acme/cert/a/x"] {
            assert_eq!(resource(path), None, "{path}");
        }
        for r in [Resource::Finalize("o".into()), Resource::Certificate("s".into(), 1), Resource::NewOrder] {
            assert_eq!(resource(&resource_path(&r)), Some(r));
        }
    }
}
