//! The admin API (`127.0.0.1:8070` under `up`), documented by
//! `docs/openapi.json`. Every route but `/healthz` and `/metrics` requires
//! `Authorization: Bearer <token>`; tokens are stored as SHA-256 hashes and
//! carry a role (`roles`): an unknown token is 401, a role not admitted 403.

use crate::issuance::IssueError;
use crate::roles::{self, Operation};
use crate::{Control, RevokeError};
use bytes::Bytes;
use cartorio_platform::http::{Body, Handler, RequestBody, common_route, problem, response};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;
use std::net::SocketAddr;

const MAX_BODY: usize = 64 * 1024;

#[derive(Clone)]
pub struct AdminService {
    control: Control,
}

impl AdminService {
    pub fn new(control: Control) -> Self {
        Self { control }
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
        if req.method() == Method::GET
            && let Some(resp) = common_route(req.uri().path())
        {
            return resp;
        }
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let control = self.control.clone();
        let role = match token {
            Some(token) => control.authenticate(token).await,
            None => None,
        };
        metrics::counter!("cartorio_admin_auth_total", "outcome" => if role.is_some() { "ok" } else { "denied" })
            .increment(1);
        let Some(role) = role else {
            let mut resp =
                problem(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid bearer token is required");
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
            return resp;
        };
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let method = req.method().clone();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let Some(operation) = operation(&method, &segments) else {
            return problem(StatusCode::NOT_FOUND, "no_route", "no such route");
        };
        if !roles::allows(role, operation) {
            let detail = format!("the {} role may not do this", role.name());
            return problem(StatusCode::FORBIDDEN, "forbidden", &detail);
        }
        match (method, segments.as_slice()) {
            (Method::POST, ["v1", "certificates"]) => {
                let profile = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("profile="))
                    .unwrap_or("server")
                    .to_owned();
                let Some(body) = read_body(req).await else {
                    return problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the CSR is too large");
                };
                match control.issue(body.to_vec(), profile).await {
                    Ok(issued) => json(
                        StatusCode::CREATED,
                        serde_json::json!({
                            "serial": issued.serial,
                            "certificate": cartorio_pkix::cert::to_pem(&issued.der),
                        }),
                    ),
                    Err(IssueError::BadRequest(msg)) => problem(StatusCode::BAD_REQUEST, "bad_csr", &msg),
                    Err(IssueError::Internal(e)) => {
                        tracing::error!(error = format!("{e:#}"), "issuance failed");
                        problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "issuance failed")
                    }
                }
            }
            (Method::GET, ["v1", "certificates", serial]) => match control.status(serial.to_string()).await {
                Ok(Some(record)) => json(StatusCode::OK, record),
                Ok(None) => problem(StatusCode::NOT_FOUND, "unknown_serial", "no such certificate"),
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "status lookup failed");
                    problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lookup failed")
                }
            },
            (Method::POST, ["v1", "certificates", serial, "revoke"]) => {
                let serial = serial.to_string();
                let Some(body) = read_body(req).await else {
                    return problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body too large");
                };
                let Ok(parsed) = serde_json::from_slice::<RevokeBody>(&body) else {
                    return problem(StatusCode::BAD_REQUEST, "bad_body", "expected {\"reason\": \"...\"}");
                };
                match control.revoke(serial, parsed.reason).await {
                    Ok(done) => json(StatusCode::OK, done),
                    Err(RevokeError::BadReason(msg)) => problem(StatusCode::BAD_REQUEST, "bad_reason", &msg),
                    Err(RevokeError::NotFound) => {
                        problem(StatusCode::NOT_FOUND, "unknown_serial", "no such certificate")
                    }
                    Err(RevokeError::AlreadyRevoked) => {
                        problem(StatusCode::CONFLICT, "already_revoked", "the certificate is already revoked")
                    }
                    Err(RevokeError::Internal(e)) => {
                        tracing::error!(error = format!("{e:#}"), "revocation failed");
                        problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "revocation failed")
                    }
                }
            }
            (Method::GET, ["v1", "crl"]) => match control.crl().await {
                Ok(crl) => {
                    response(StatusCode::OK, "application/pkix-crl", cartorio_pkix::crl::to_pem(&crl.der))
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "CRL issuance failed");
                    problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "CRL issuance failed")
                }
            },
            (Method::GET, ["v1", "audit", "verify"]) => match control.audit_verify().await {
                Ok(Ok(report)) => json(StatusCode::OK, serde_json::json!({"intact": true, "report": report})),
                Ok(Err(report)) => {
                    json(StatusCode::CONFLICT, serde_json::json!({"intact": false, "report": report}))
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "audit verification failed");
                    problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "audit verification failed")
                }
            },
            _ => problem(StatusCode::NOT_FOUND, "no_route", "no such route"),
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
        _ => None,
    }
}

async fn read_body(req: Request<RequestBody>) -> Option<Bytes> {
    Limited::new(req.into_body(), MAX_BODY).collect().await.ok().map(|b| b.to_bytes())
}
