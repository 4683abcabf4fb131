//! Access logs: one line per request on every listener, written by a
//! wrapper around the listener's handler ([`AccessLogged`]).
//!
//! The wrapper knows what HTTP knows (method, protocol, status, bytes,
//! latency, the client address after the PROXY protocol); the handler adds
//! what only it knows (the route, the authenticated identity, the decision
//! and its reason, WAF rule ids, a quarantine object) as an [`AccessNote`]
//! in the response's extensions. Every request gets an id, returned as
//! `X-Request-Id` and carried by its line, so a client's complaint leads to
//! the line. Never a payload, a key, a token or a password: the note has no
//! field that could hold one, and the raw path (an OCSP request, a
//! time-stamp imprint) is replaced by the route.
//!
//! Lines follow `--log-format` (the same JSON object per line as every
//! other log line, target `cartorio::access`), but skip `tracing`: each is
//! formatted once into a buffer on the serving thread and written by a
//! thread of its own, in batches ([`writer`]). Through `tracing`'s JSON
//! formatter and a write per line, `access_log = "all"` cost the gateway
//! 8-22% of its req/s (benches/gateway_peers.sh, three rounds).

mod line;
mod writer;

pub use writer::flush;

use crate::http::{Body, Handler, RequestBody};
use http::{Request, Response, header};
use hyper::body::Body as _;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The `target` of access lines, as the `tracing` targets of other lines.
pub const TARGET: &str = "cartorio::access";

/// Which requests a listener logs (`access_log = "all" | "refusals" | "off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLog {
    All,
    /// Only requests refused or failed: 4xx, 5xx, or a refusal the protocol
    /// answers with 200 (an OCSP `unauthorized`, a time-stamp `rejection`).
    Refusals,
    /// No line and no `X-Request-Id`: the wrapper is not even on the path.
    Off,
}

impl std::str::FromStr for AccessLog {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Self::All),
            "refusals" => Ok(Self::Refusals),
            "off" => Ok(Self::Off),
            other => Err(format!("unknown access log mode {other:?}: all, refusals or off")),
        }
    }
}

/// What a handler tells the access log about a request.
#[derive(Debug, Clone, Default)]
pub struct AccessNote {
    /// The route template (`ocsp_get`, `ingest/{stream}` ...), never the raw path.
    pub route: &'static str,
    /// Variable part of the route when bounded by configuration (a stream name).
    pub route_param: Option<String>,
    /// Who the request authenticated as: an API key id, an account, a
    /// certificate subject; never the credential itself.
    pub identity: Option<String>,
    /// The client as the handler established it (trusted `X-Forwarded-For`).
    pub client: Option<IpAddr>,
    /// How it ended, in the handler's words (`good`, `accepted`, `waf_blocked` ...).
    pub outcome: &'static str,
    /// A finer reason code than the outcome, when there is one.
    pub reason: Option<String>,
    /// WAF rule ids that matched.
    pub rules: Vec<u32>,
    /// Where a refused payload was kept (quarantine object key).
    pub object: Option<String>,
    /// A refusal the HTTP status does not show (a protocol error in a 200).
    pub refused: bool,
    /// Body bytes read, when the handler counted them (else Content-Length).
    pub bytes_in: Option<u64>,
}

impl AccessNote {
    pub fn new(route: &'static str, outcome: &'static str) -> Self {
        Self { route, outcome, ..Self::default() }
    }

    /// The note of a `/readyz` answer.
    pub fn readiness(ready: bool) -> Self {
        Self::new("readyz", if ready { "ready" } else { "not_ready" })
    }

    pub fn refused(mut self, refused: bool) -> Self {
        self.refused = refused;
        self
    }

    /// Puts the note on `resp` for the wrapper to find.
    pub fn attach(self, resp: &mut Response<Body>) {
        resp.extensions_mut().insert(self);
    }
}

/// Which listener a wrapper logs for.
#[derive(Debug, Clone, Copy)]
pub struct Listener {
    /// The component: `responder`, `gateway`, `control`.
    pub service: &'static str,
    /// The listener: `responder-tls`, `gateway-h3`, `acme` ...
    pub name: &'static str,
}

/// `inner` with an access line per request, as `mode` says.
#[derive(Clone)]
pub struct AccessLogged<H> {
    inner: H,
    listener: Listener,
    mode: AccessLog,
}

impl<H> AccessLogged<H> {
    pub fn new(inner: H, listener: Listener, mode: AccessLog) -> Self {
        Self { inner, listener, mode }
    }
}

impl<H: Handler> Handler for AccessLogged<H> {
    async fn handle(&self, req: Request<RequestBody>, peer: SocketAddr) -> Response<Body> {
        if self.mode == AccessLog::Off {
            return self.inner.handle(req, peer).await;
        }
        let started = Instant::now();
        let method = req.method().clone();
        let version = req.version();
        let declared_in = content_length(req.headers());
        let id = line::RequestId::next();
        let mut resp = self.inner.handle(req, peer).await;
        let note = resp.extensions_mut().remove::<AccessNote>().unwrap_or_default();
        resp.headers_mut().insert("x-request-id", id.header_value());
        let status = resp.status();
        let refused = note.refused || status.is_client_error() || status.is_server_error();
        if self.mode == AccessLog::All || refused {
            let line = line::Line {
                listener: self.listener,
                protocol: line::protocol(version),
                method: method.as_str(),
                status: status.as_u16(),
                latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                bytes_in: note.bytes_in.or(declared_in).unwrap_or(0),
                bytes_out: resp.body().size_hint().exact().unwrap_or(0),
                client: note.client.unwrap_or(peer.ip()),
                request_id: &id,
                note: &note,
            };
            writer::submit(line.render(crate::logging::current()));
        }
        resp
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_toml_and_the_command_line() {
        #[derive(Deserialize)]
        struct Listener {
            access_log: AccessLog,
        }
        let parsed: Listener = toml::from_str("access_log = \"refusals\"").expect("TOML");
        assert_eq!(parsed.access_log, AccessLog::Refusals);
        assert!(toml::from_str::<Listener>("access_log = \"some\"").is_err());
        assert_eq!("off".parse::<AccessLog>(), Ok(AccessLog::Off));
        assert!("none".parse::<AccessLog>().is_err());
    }
}
