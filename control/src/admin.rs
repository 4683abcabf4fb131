//! The admin API (`127.0.0.1:8070` under `up`), documented by
//! `docs/openapi.json`. Every route but `/healthz` and `/metrics` requires
//! authentication: a TLS client certificate (when `[admin_tls]` is
//! configured) whose subject CN is mapped to a role, or `Authorization:
//! Bearer <token>`; tokens are stored as SHA-256 hashes and carry a role
//! (`roles`). Unauthenticated is 401, a role not admitted 403; every
//! attempt is in the audit log.

use crate::issuance::IssueError;
use crate::roles::{self, Operation, Role};
use crate::{Control, RevokeError};
use bytes::Bytes;
use cartorio_pkix::cert::CertificateView;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::http::PeerCertificate;
use cartorio_platform::http::{
    Body, Handler, RequestBody, common_route, discard_body, problem, problem_with, response,
};
use cartorio_platform::tls::TlsFiles;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

const MAX_BODY: usize = 64 * 1024;

/// `[admin_tls]`: the admin API over TLS, with client certificates from
/// `client_ca` mapped to roles by subject CN.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// CAs whose client certificates are verified; a client may still come
    /// without one and use a bearer token.
    pub client_ca: PathBuf,
    /// Subject CN -> role (admin, issuer, revoker, auditor).
    #[serde(default)]
    pub client_roles: BTreeMap<String, String>,
}

impl AdminTls {
    pub fn files(&self) -> TlsFiles {
        TlsFiles { cert: self.cert.clone(), key: self.key.clone(), client_ca: Some(self.client_ca.clone()) }
    }

    /// The CN -> role map, every role checked.
    pub fn roles(&self) -> anyhow::Result<BTreeMap<String, Role>> {
        self.client_roles
            .iter()
            .map(|(cn, role)| {
                let parsed = Role::parse(role).ok_or_else(|| {
                    anyhow::anyhow!("[admin_tls.client_roles] {cn:?}: unknown role {role:?}")
                })?;
                Ok((cn.clone(), parsed))
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct AdminService {
    control: Control,
    /// Client certificate subject CN -> role.
    client_roles: Arc<BTreeMap<String, Role>>,
}

impl AdminService {
    pub fn new(control: Control, client_roles: BTreeMap<String, Role>) -> Self {
        Self { control, client_roles: Arc::new(client_roles) }
    }

    /// The role of a request: its verified client certificate's, else its
    /// bearer token's; and who that is for the access log (the subject's
    /// CN, or `bearer:{role}`: never the token).
    async fn role(&self, req: &Request<RequestBody>) -> Option<(Role, String)> {
        if let Some(cn) = req
            .extensions()
            .get::<PeerCertificate>()
            .and_then(|cert| CertificateView::parse(&cert.0).ok()?.subject_common_name())
        {
            let role = self.client_roles.get(&cn).copied();
            if self.control.audit_certificate_login(cn.clone(), role).await
                && let Some(role) = role
            {
                return Some((role, format!("cn={cn}")));
            }
        }
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)?;
        let role = self.control.authenticate(token).await?;
        Some((role, format!("bearer:{}", role.name())))
    }
}

#[derive(Deserialize)]
struct RevokeBody {
    reason: String,
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    response(status, "application/json", value.to_string())
}

impl Handler for AdminService {
    async fn handle(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        let mut note = AccessNote::default();
        let mut resp = self.answer(req, &mut note).await;
        // `/healthz` and `/metrics` come with their own note.
        if resp.extensions().get::<AccessNote>().is_none() {
            note.attach(&mut resp);
        }
        resp
    }
}

impl AdminService {
    async fn answer(&self, req: Request<RequestBody>, note: &mut AccessNote) -> Response<Body> {
        if req.method() == Method::GET
            && let Some(resp) = common_route(req.uri().path())
        {
            return resp;
        }
        // Unauthenticated, as a load balancer probes it; it names components, never secrets.
        if req.method() == Method::GET && req.uri().path() == "/readyz" {
            let (ready, doc) = crate::readiness::readyz(&self.control).await;
            let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            *note = AccessNote::readiness(ready);
            return json(status, doc);
        }
        let control = self.control.clone();
        let role = self.role(&req).await;
        metrics::counter!("cartorio_admin_auth_total", "outcome" => if role.is_some() { "ok" } else { "denied" })
            .increment(1);
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let method = req.method().clone();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let operation = operation(&method, &segments);
        note.route = operation.and_then(roles::template).unwrap_or("");
        let Some((role, identity)) = role else {
            note.outcome = "unauthenticated";
            discard_body(req.into_body()).await;
            let mut resp = problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a client certificate with a role or a valid bearer token is required",
            );
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
            return resp;
        };
        note.identity = Some(identity);
        let Some(operation) = operation else {
            note.outcome = "no_route";
            discard_body(req.into_body()).await;
            return problem(StatusCode::NOT_FOUND, "no_route", "no such route");
        };
        if !roles::allows(role, operation) {
            note.outcome = "forbidden";
            discard_body(req.into_body()).await;
            let detail = format!("the {} role may not do this", role.name());
            return problem(StatusCode::FORBIDDEN, "forbidden", &detail);
        }
        route(&control, method, &segments, &query, req).await.unwrap_or_else(ApiError::into_response)
    }
}

/// A request's `name=` query parameter (names here are plain ASCII).
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

async fn route(
    control: &Control,
    method: Method,
    segments: &[&str],
    query: &str,
    req: Request<RequestBody>,
) -> Result<Response<Body>, ApiError> {
    let issuer = query_param(query, "issuer").map(str::to_owned);
    Ok(match (method, segments) {
        (Method::POST, ["v1", "certificates"]) => {
            let profile = query_param(query, "profile").unwrap_or("server").to_owned();
            let Some(body) = read_body(req).await else {
                return Ok(problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the CSR is too large"));
            };
            let issued = control.issue(body.to_vec(), profile, issuer).await?;
            // Answered once its OCSP response is published: a client that
            // checks or staples at once gets "good", not `unauthorized`.
            let ocsp_published = control.published_since_now().await;
            json(
                StatusCode::CREATED,
                serde_json::json!({
                    "serial": issued.serial,
                    "issuer": issued.issuer,
                    "certificate": cartorio_pkix::cert::to_pem(&issued.der),
                    "ocsp_published": ocsp_published,
                }),
            )
        }
        (Method::GET, ["v1", "certificates", serial]) => match control.status(serial.to_string()).await {
            Ok(Some(record)) => json(StatusCode::OK, record),
            Ok(None) => problem(StatusCode::NOT_FOUND, "unknown_serial", "no such certificate"),
            Err(e) => return Err(ApiError::Internal(e, "lookup failed")),
        },
        (Method::POST, ["v1", "certificates", serial, "revoke"]) => {
            let serial = serial.to_string();
            let Some(body) = read_body(req).await else {
                return Ok(problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body too large"));
            };
            let Ok(parsed) = serde_json::from_slice::<RevokeBody>(&body) else {
                return Ok(problem(StatusCode::BAD_REQUEST, "bad_body", "expected {\"reason\": \"...\"}"));
            };
            let mut revoked = control.revoke(serial, parsed.reason).await?;
            revoked["ocsp_published"] = control.published_since_now().await.into();
            json(StatusCode::OK, revoked)
        }
        (Method::GET, ["v1", "crl"]) => {
            let crl = control.crl(issuer).await.map_err(|e| ApiError::Internal(e, "CRL issuance failed"))?;
            response(StatusCode::OK, "application/pkix-crl", cartorio_pkix::crl::to_pem(&crl.der))
        }
        (Method::GET, ["v1", "audit", "verify"]) => match control.audit_verify().await {
            Ok(Ok(report)) => json(StatusCode::OK, serde_json::json!({"intact": true, "report": report})),
            Ok(Err(report)) => {
                json(StatusCode::CONFLICT, serde_json::json!({"intact": false, "report": report}))
            }
            Err(e) => return Err(ApiError::Internal(e, "audit verification failed")),
        },
        (Method::POST, ["v1", "ocsp-signer", "rotate"]) => {
            let renewed = control.rotate_ocsp_signer(issuer).await.map_err(|e| match e {
                IssueError::Internal(e) => ApiError::Internal(e, "the OCSP signer rotation failed"),
                refused => ApiError::Issue(refused),
            })?;
            json(StatusCode::OK, serde_json::json!(crate::renewal::Rotated::from(&renewed)))
        }
        _ => problem(StatusCode::NOT_FOUND, "no_route", "no such route"),
    })
}

/// Every failure the admin API reports, mapped to its problem in one place:
/// callers' faults to 4xx with what to fix, ours to 500 with nothing of
/// our internals (they go to the log).
enum ApiError {
    Issue(IssueError),
    Revoke(RevokeError),
    Internal(anyhow::Error, &'static str),
}

impl From<IssueError> for ApiError {
    fn from(e: IssueError) -> Self {
        Self::Issue(e)
    }
}

impl From<RevokeError> for ApiError {
    fn from(e: RevokeError) -> Self {
        Self::Revoke(e)
    }
}

impl ApiError {
    fn into_response(self) -> Response<Body> {
        match self {
            Self::Issue(IssueError::BadRequest(msg)) => problem(StatusCode::BAD_REQUEST, "bad_csr", &msg),
            Self::Issue(IssueError::Unknown(msg)) => problem(StatusCode::BAD_REQUEST, "unknown", &msg),
            Self::Issue(IssueError::Refused(refusal)) => {
                let extra = serde_json::json!({"profile": refusal.profile, "rule": refusal.rule});
                problem_with(StatusCode::BAD_REQUEST, "profile_violation", &refusal.to_string(), extra)
            }
            Self::Revoke(RevokeError::BadReason(msg)) => problem(StatusCode::BAD_REQUEST, "bad_reason", &msg),
            Self::Revoke(RevokeError::NotFound) => {
                problem(StatusCode::NOT_FOUND, "unknown_serial", "no such certificate")
            }
            Self::Revoke(RevokeError::AlreadyRevoked) => {
                problem(StatusCode::CONFLICT, "already_revoked", "the certificate is already revoked")
            }
            Self::Issue(IssueError::Internal(e)) => Self::Internal(e, "issuance failed").into_response(),
            Self::Revoke(RevokeError::Internal(e)) => Self::Internal(e, "revocation failed").into_response(),
            Self::Internal(e, what) => {
                tracing::error!(error = format!("{e:#}"), "{what}");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", what)
            }
        }
    }
}

/// The operation a request asks for (see `roles::ROUTES`).
fn operation(method: &Method, segments: &[&str]) -> Option<Operation> {
    match (method, segments) {
        (&Method::POST, ["v1", "certificates"]) => Some(Operation::Issue),
        (&Method::GET, ["v1", "certificates", _]) => Some(Operation::Status),
        (&Method::POST, ["v1", "certificates", _, "revoke"]) => Some(Operation::Revoke),
        (&Method::GET, ["v1", "crl"]) => Some(Operation::Crl),
        (&Method::GET, ["v1", "audit", "verify"]) => Some(Operation::AuditVerify),
        (&Method::POST, ["v1", "ocsp-signer", "rotate"]) => Some(Operation::RotateOcspSigner),
        _ => None,
    }
}

async fn read_body(req: Request<RequestBody>) -> Option<Bytes> {
    Limited::new(req.into_body(), MAX_BODY).collect().await.ok().map(|b| b.to_bytes())
}
