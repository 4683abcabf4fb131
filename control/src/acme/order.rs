//! Orders, authorizations, challenges and certificates (RFC 8555 §7.4–7.5):
//! an order is placed under a profile, its identifiers proven by
//! challenges, finalized with a CSR that must ask for exactly them, and its
//! certificate downloaded as a PEM chain.

use super::identifiers::{self, validated_name};
use super::problem::{AcmeResult, Kind, Problem};
use super::request::Signed;
use super::{Acme, Reply, ReplyBody, ari, objects, random_id};
use crate::issuance::IssueError;
use crate::registry::AcmeIssue;
use crate::registry::acme::{Authz, Challenge, Identifier, Order};
use cartorio_pkix::csr::VerifiedCsr;
use cartorio_platform::clock::unix_seconds;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewOrderRequest {
    identifiers: Vec<Identifier>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    replaces: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FinalizeRequest {
    csr: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuthzUpdate {
    status: String,
}

const HOUR: i64 = 3600;
const WEEK: i64 = 7 * 24 * HOUR;

/// The challenges offered for an identifier: a wildcard only by DNS, an IP
/// address never by DNS (RFC 8738 §7).
fn challenge_types(id: &Identifier, wildcard: bool) -> &'static [&'static str] {
    match (id.kind.as_str(), wildcard) {
        ("ip", _) => &["http-01", "tls-alpn-01"],
        (_, true) => &["dns-01"],
        _ => &["http-01", "tls-alpn-01", "dns-01"],
    }
}

fn new_authz(order: &Order, id: &Identifier, expires_at: i64) -> anyhow::Result<(Authz, Vec<Challenge>)> {
    let (name, wildcard) = validated_name(id);
    let authz = Authz {
        id: random_id(12)?,
        order_id: order.id.clone(),
        account_id: order.account_id.clone(),
        identifier: Identifier { kind: id.kind.clone(), value: name.to_owned() },
        wildcard,
        status: "pending".into(),
        expires_at,
    };
    let challenges = challenge_types(id, wildcard)
        .iter()
        .map(|kind| {
            Ok(Challenge {
                id: random_id(12)?,
                authz_id: authz.id.clone(),
                kind: (*kind).to_owned(),
                token: random_id(32)?,
                status: "pending".into(),
                validated_at: None,
                error: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((authz, challenges))
}

/// Refuses an order past the account's or its domains' rate limits.
async fn check_limits(acme: &Acme, account_id: &str, ids: &[Identifier], renewal: bool) -> AcmeResult<()> {
    let limits = acme.config().limits.clone();
    let now = unix_seconds();
    let owner = account_id.to_owned();
    // A renewal (ARI `replaces`) is exempt from the per-domain limit.
    let mut domains: Vec<String> =
        if renewal { Vec::new() } else { ids.iter().map(identifiers::registered_domain).collect() };
    domains.sort();
    domains.dedup();
    let (recent, counts) = acme
        .store(move |s| {
            let recent = s.orders_since(&owner, now - HOUR)?;
            let counts = domains
                .into_iter()
                .map(|d| Ok((s.issued_since(&d, now - WEEK)?, d)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((recent, counts))
        })
        .await?;
    if recent >= limits.orders_per_account_per_hour {
        let detail =
            format!("at most {} new orders per account per hour", limits.orders_per_account_per_hour);
        return Err(Problem::rate_limited(detail, 600));
    }
    if let Some((_, domain)) = counts.iter().find(|(n, _)| *n >= limits.certificates_per_domain_per_week) {
        let detail = format!(
            "at most {} certificates per registered domain per week: {domain} has had them",
            limits.certificates_per_domain_per_week
        );
        return Err(Problem::rate_limited(detail, 3600));
    }
    Ok(())
}

pub async fn new_order(acme: &Acme, request: Signed) -> AcmeResult<Reply> {
    let account = request.account()?.clone();
    let body: NewOrderRequest = request.payload()?;
    if body.not_before.is_some() || body.not_after.is_some() {
        return Err(Problem::malformed(
            "notBefore and notAfter are not supported: the profile sets the validity",
        ));
    }
    let limit = acme.config().limits.identifiers_per_order;
    if body.identifiers.is_empty() || body.identifiers.len() > limit {
        return Err(Problem::new(
            Kind::RejectedIdentifier,
            format!("an order names 1 to {limit} identifiers"),
        ));
    }
    let mut ids = body.identifiers.iter().map(identifiers::canonical).collect::<AcmeResult<Vec<_>>>()?;
    ids.sort_by(|a, b| (&a.kind, &a.value).cmp(&(&b.kind, &b.value)));
    ids.dedup();
    let profile_name = body.profile.unwrap_or_else(|| acme.config().default_profile.clone());
    let profile = acme.profile(&profile_name).ok_or_else(|| {
        let offered: Vec<&String> = acme.profiles().keys().collect();
        Problem::new(Kind::InvalidProfile, format!("no profile {profile_name:?} here (offered: {offered:?})"))
    })?;
    identifiers::check_policy(profile, &ids)?;
    if let Some(replaces) = &body.replaces {
        ari::check_replaces(acme, &account, replaces, &ids).await?;
    }
    check_limits(acme, &account.id, &ids, body.replaces.is_some()).await?;
    let now = unix_seconds();
    let order = Order {
        id: random_id(12)?,
        account_id: account.id.clone(),
        status: "pending".into(),
        expires_at: now + acme.config().order_lifetime_secs,
        identifiers: ids.clone(),
        profile: profile_name,
        error: None,
        serial: None,
        replaces: body.replaces,
        created_at: now,
    };
    let authz_expiry = now + acme.config().authz_lifetime_secs;
    let authzs =
        ids.iter().map(|id| new_authz(&order, id, authz_expiry)).collect::<anyhow::Result<Vec<_>>>()?;
    let authz_ids: Vec<String> = authzs.iter().map(|(a, _)| a.id.clone()).collect();
    let stored = order.clone();
    acme.store(move |s| s.create_order(&stored, &authzs)).await?;
    metrics::counter!("cartorio_acme_orders_created_total").increment(1);
    let location = acme.urls().order(&order.id);
    Ok(Reply::json(201, objects::order(&order, &authz_ids, acme.urls())).located(location))
}

/// An order the signer owns.
async fn owned_order(acme: &Acme, request: &Signed, id: &str) -> AcmeResult<(Order, Vec<String>)> {
    let account = request.account()?.id.clone();
    let (id, now) = (id.to_owned(), unix_seconds());
    let found = acme
        .store(move |s| {
            let Some(order) = s.order(&id, now)? else { return Ok(None) };
            let authzs = s.order_authzs(&id)?.into_iter().map(|a| a.id).collect();
            Ok(Some((order, authzs)))
        })
        .await?;
    let (order, authzs) = found.ok_or_else(Problem::not_found)?;
    if order.account_id != account {
        return Err(Problem::unauthorized("this order belongs to another account"));
    }
    Ok((order, authzs))
}

pub async fn order(acme: &Acme, request: Signed, id: &str) -> AcmeResult<Reply> {
    request.expect_post_as_get()?;
    let (order, authzs) = owned_order(acme, &request, id).await?;
    let retry_after = poll_again(&order.status);
    Ok(Reply { retry_after, ..Reply::json(200, objects::order(&order, &authzs, acme.urls())) })
}

/// While something is pending, when to ask again (RFC 8555 §8.2): a
/// validation takes milliseconds here, and clients that read Retry-After
/// (lego) otherwise wait 5 s.
fn poll_again(status: &str) -> Option<u64> {
    matches!(status, "pending" | "processing").then_some(1)
}

fn bad_csr(detail: impl Into<String>) -> Problem {
    Problem::new(Kind::BadCsr, detail)
}

pub async fn finalize(acme: &Acme, request: Signed, id: &str) -> AcmeResult<Reply> {
    let (order, authzs) = owned_order(acme, &request, id).await?;
    let body: FinalizeRequest = request.payload()?;
    if order.status != "ready" {
        return Err(Problem::new(
            Kind::OrderNotReady,
            format!("the order is {}; it can be finalized once ready", order.status),
        ));
    }
    let der = super::jws::b64(&body.csr).map_err(|_| bad_csr("the CSR is not base64url"))?;
    let csr = VerifiedCsr::from_pem_or_der(&der).map_err(|e| bad_csr(e.to_string()))?;
    if csr.spki() == request.key().spki().as_slice() {
        return Err(bad_csr("the certificate's key must not be the account key"));
    }
    let profile = acme.profile(&order.profile).cloned().ok_or_else(|| {
        Problem::internal(&anyhow::anyhow!(
            "order {} names profile {} no longer offered",
            order.id,
            order.profile
        ))
    })?;
    let approved = match crate::profile::check(&profile, &csr) {
        Ok(approved) => approved,
        Err(refusal) => {
            acme.control().audit_refusal(&refusal).await;
            return Err(bad_csr(refusal.to_string()));
        }
    };
    identifiers::csr_matches(&approved, &order.identifiers)?;
    let moving = order.id.clone();
    if !acme.store(move |s| s.order_processing(&moving)).await? {
        return Err(Problem::new(Kind::OrderNotReady, "the order is being finalized already"));
    }
    let link = AcmeIssue {
        account: order.account_id.clone(),
        order: order.id.clone(),
        domains: {
            let mut d: Vec<String> = order.identifiers.iter().map(identifiers::registered_domain).collect();
            d.sort();
            d.dedup();
            d
        },
    };
    let ca = acme.control().issuing_ca(Some(&profile.issuer)).map_err(|e| Problem::internal(&e.into()))?;
    let issued = acme.control().sign_and_commit(csr, profile, ca, Some(link)).await;
    let issued = match issued {
        Ok(issued) => issued,
        Err(error) => {
            let problem = match error {
                IssueError::BadRequest(d) | IssueError::Unknown(d) => bad_csr(d),
                IssueError::Refused(r) => bad_csr(r.to_string()),
                IssueError::Internal(e) => Problem::internal(&e),
            };
            let (failed, doc) = (order.id.clone(), problem.to_json().to_string());
            acme.store(move |s| s.order_failed(&failed, &doc)).await?;
            return Err(problem);
        }
    };
    metrics::counter!("cartorio_acme_certificates_issued_total").increment(1);
    tracing::info!(
        account = order.account_id,
        order = order.id,
        serial = issued.serial,
        "ACME order finalized"
    );
    let done = Order { status: "valid".into(), serial: Some(issued.serial), ..order };
    let location = acme.urls().order(&done.id);
    Ok(Reply::json(200, objects::order(&done, &authzs, acme.urls())).located(location))
}

/// An authorization the signer owns, with its challenges.
async fn owned_authz(acme: &Acme, request: &Signed, id: &str) -> AcmeResult<(Authz, Vec<Challenge>)> {
    let account = request.account()?.id.clone();
    let (id, now) = (id.to_owned(), unix_seconds());
    let found = acme
        .store(move |s| {
            let Some(authz) = s.authz(&id, now)? else { return Ok(None) };
            let challenges = s.challenges(&id)?;
            Ok(Some((authz, challenges)))
        })
        .await?;
    let (authz, challenges) = found.ok_or_else(Problem::not_found)?;
    held_by(&authz, &account)?;
    Ok((authz, challenges))
}

/// Only the account an authorization belongs to may see or act on it.
fn held_by(authz: &Authz, account: &str) -> AcmeResult<()> {
    if authz.account_id != account {
        return Err(Problem::unauthorized("this authorization belongs to another account"));
    }
    Ok(())
}

/// POST to an authorization: fetch it, or deactivate it.
pub async fn authz(acme: &Acme, request: Signed, id: &str) -> AcmeResult<Reply> {
    let (mut authz, challenges) = owned_authz(acme, &request, id).await?;
    if !request.is_post_as_get() {
        let update: AuthzUpdate = request.payload()?;
        if update.status != "deactivated" {
            return Err(Problem::malformed("an authorization can only be deactivated"));
        }
        let target = authz.id.clone();
        acme.store(move |s| s.deactivate_authz(&target)).await?;
        if matches!(authz.status.as_str(), "pending" | "valid") {
            authz.status = "deactivated".into();
        }
    }
    let retry_after = poll_again(&authz.status);
    Ok(Reply { retry_after, ..Reply::json(200, objects::authz(&authz, &challenges, acme.urls())) })
}

/// POST to a challenge: `{}` asks for its validation (once); a POST-as-GET
/// fetches it.
pub async fn challenge(acme: &Acme, request: Signed, id: &str) -> AcmeResult<Reply> {
    let account = request.account()?.id.clone();
    let (lookup, now) = (id.to_owned(), unix_seconds());
    let found = acme
        .store(move |s| {
            let Some(challenge) = s.challenge(&lookup)? else { return Ok(None) };
            Ok(s.authz(&challenge.authz_id, now)?.map(|authz| (challenge, authz)))
        })
        .await?;
    let (challenge, authz) = found.ok_or_else(Problem::not_found)?;
    held_by(&authz, &account)?;
    let mut shown = challenge;
    if !request.is_post_as_get() {
        let _: serde_json::Map<String, serde_json::Value> = request.payload()?;
        let (target, now) = (shown.id.clone(), unix_seconds());
        if acme.store(move |s| s.challenge_processing(&target, now)).await? {
            shown.status = "processing".into();
            acme.validator().start(acme.clone(), shown.id.clone());
        } else if authz.status != "pending" && shown.status == "pending" {
            return Err(Problem::malformed(format!("the authorization is {}", authz.status)));
        }
    }
    let mut reply = Reply::json(200, objects::challenge(&shown, acme.urls()));
    reply.links.push(format!("<{}>;rel=\"up\"", acme.urls().authz(&authz.id)));
    reply.retry_after = poll_again(&shown.status);
    Ok(reply)
}

fn pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A certificate as a PEM chain (RFC 8555 §7.4.2): the leaf and its issuing
/// CA; the alternate (`/1`) also carries the root, for clients that want
/// the whole path.
pub async fn certificate(acme: &Acme, serial: &str, alternate: u32) -> AcmeResult<Reply> {
    let Some(serial) = crate::normalize_serial(serial) else { return Err(Problem::not_found()) };
    let lookup = serial.clone();
    let (der, issuer) = acme.store(move |s| s.certificate(&lookup)).await?.ok_or_else(Problem::not_found)?;
    let hierarchy = &acme.control().inner.ca;
    let ca = hierarchy.issuer(&issuer).ok_or_else(Problem::not_found)?;
    let mut chain = pem(&der) + &pem(&ca.cert);
    match alternate {
        0 => {}
        1 => chain += &pem(&hierarchy.root_der),
        _ => return Err(Problem::not_found()),
    }
    let mut reply = Reply { body: ReplyBody::Pem(chain), ..Reply::json(200, serde_json::Value::Null) };
    let other = if alternate == 0 {
        format!("{}/1", acme.urls().certificate(&serial))
    } else {
        acme.urls().certificate(&serial)
    };
    reply.links.push(format!("<{other}>;rel=\"alternate\""));
    Ok(reply)
}
