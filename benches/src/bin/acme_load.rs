//! ACME load: many accounts at once, each placing orders one after another
//! (newOrder, the authorization, its http-01 challenge answered by this
//! process, polling until ready, finalize, polling until valid, the
//! certificate), each on a keep-alive TLS connection of its own. Prints
//! completed orders/s and latency percentiles per order. Run against
//! Cartorio and Pebble by `benches/acme_pebble.sh`.
//!
//!   acme-load DIRECTORY_URL HTTP01_PORT ACCOUNTS SECONDS MAX_ORDERS LABEL
//!
//! The server's certificate is not verified: loopback only, and the same
//! client for both servers.

use bytes::Bytes;
use cartorio_testkit::acme::{AccountKey, b64, csr_with};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// The longest one order may take before it counts as failed.
const ORDER_TIMEOUT: Duration = Duration::from_secs(20);

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Any certificate: this is a loopback benchmark of two servers alike.
#[derive(Debug)]
struct Anything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Anything {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

struct Reply {
    status: u16,
    location: Option<String>,
    nonce: Option<String>,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One keep-alive HTTPS connection (reopened when the server closes it).
struct Connection {
    addr: SocketAddr,
    authority: String,
    tls: Arc<rustls::ClientConfig>,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    nonce: Option<String>,
}

impl Connection {
    async fn open(&mut self) -> anyhow::Result<()> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from(self.addr.ip().to_string())?;
        let stream = tokio_rustls::TlsConnector::from(self.tls.clone()).connect(name, tcp).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        self.sender = Some(sender);
        Ok(())
    }

    async fn send(&mut self, method: &str, url: &str, body: Option<Vec<u8>>) -> anyhow::Result<Reply> {
        let path = url.split_once(&self.authority).map_or(url, |(_, p)| p).to_owned();
        for attempt in 0..2 {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                self.open().await?;
            }
            let mut req = http::Request::builder().method(method).uri(&path).header("Host", &self.authority);
            if body.is_some() {
                req = req.header("Content-Type", "application/jose+json");
            }
            let req = req.body(Full::new(Bytes::from(body.clone().unwrap_or_default())))?;
            let sender = self.sender.as_mut().ok_or_else(|| anyhow::anyhow!("no connection"))?;
            match sender.send_request(req).await {
                Ok(resp) => {
                    let header =
                        |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let (status, location, nonce) =
                        (resp.status().as_u16(), header("location"), header("replay-nonce"));
                    let body = resp.into_body().collect().await?.to_bytes();
                    if nonce.is_some() {
                        self.nonce = nonce.clone();
                    }
                    return Ok(Reply { status, location, nonce, body });
                }
                Err(e) if attempt == 0 => {
                    self.sender = None;
                    eprintln!("reconnecting after: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!("unreachable")
    }
}

/// Time spent in each step of the orders (summed over orders).
#[derive(Default, Clone)]
struct Steps([Duration; 7]);

impl Steps {
    const NAMES: [&str; 7] =
        ["newOrder", "authz", "challenge", "until ready", "finalize", "until valid", "certificate"];

    fn record(&mut self, step: usize, lap: &mut Instant) {
        let now = Instant::now();
        self.0[step] += now - *lap;
        *lap = now;
    }

    fn add(&mut self, other: &Steps) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    /// "step mean-ms" for each step, over `orders`.
    fn means(&self, orders: u64) -> String {
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / orders.max(1) as f64;
        Self::NAMES
            .iter()
            .zip(self.0)
            .map(|(n, d)| format!("{n} {:.1}", per(d)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct Worker {
    steps: Steps,
    conn: Connection,
    directory: Value,
    key: AccountKey,
    kid: Option<String>,
}

impl Worker {
    fn url(&self, name: &str) -> String {
        self.directory[name].as_str().unwrap_or_default().to_owned()
    }

    async fn nonce(&mut self) -> anyhow::Result<String> {
        if let Some(n) = self.conn.nonce.take() {
            return Ok(n);
        }
        let url = self.url("newNonce");
        let r = self.conn.send("HEAD", &url, None).await?;
        r.nonce.ok_or_else(|| anyhow::anyhow!("no nonce from newNonce"))
    }

    /// A signed POST; retried once on badNonce (Pebble rejects some on purpose unless told not to).
    async fn post(&mut self, url: &str, payload: Option<&Value>) -> anyhow::Result<Reply> {
        for _ in 0..3 {
            let nonce = self.nonce().await?;
            let protected = match &self.kid {
                Some(kid) => json!({"alg": "ES256", "kid": kid, "nonce": nonce, "url": url}),
                None => json!({"alg": "ES256", "jwk": self.key.jwk(), "nonce": nonce, "url": url}),
            };
            let payload = payload.map(|p| p.to_string().into_bytes()).unwrap_or_default();
            let jws = self.key.sign(&protected, &payload);
            let r = self.conn.send("POST", url, Some(jws.to_string().into_bytes())).await?;
            if r.status == 400 && r.json()["type"] == "urn:ietf:params:acme:error:badNonce" {
                continue;
            }
            anyhow::ensure!(r.status < 400, "{url}: {} {}", r.status, String::from_utf8_lossy(&r.body));
            return Ok(r);
        }
        anyhow::bail!("{url}: badNonce three times")
    }

    async fn poll(&mut self, url: &str, until: &str) -> anyhow::Result<Value> {
        for _ in 0..2000 {
            let v = self.post(url, None).await?.json();
            match v["status"].as_str() {
                Some(s) if s == until => return Ok(v),
                Some("invalid") => anyhow::bail!("{url} is invalid: {v}"),
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        anyhow::bail!("{url} never became {until}")
    }

    /// One order, start to certificate.
    async fn order(
        &mut self,
        name: &str,
        tokens: &Tokens,
        csr_key: &cartorio_pkix::signer::EcdsaSigner,
    ) -> anyhow::Result<()> {
        let new_order = self.url("newOrder");
        let mut lap = Instant::now();
        let r =
            self.post(&new_order, Some(&json!({"identifiers": [{"type": "dns", "value": name}]}))).await?;
        self.steps.record(0, &mut lap);
        let order_url = r.location.clone().ok_or_else(|| anyhow::anyhow!("no order URL"))?;
        let order = r.json();
        let authz_url = order["authorizations"][0].as_str().unwrap_or_default().to_owned();
        let authz = self.post(&authz_url, None).await?.json();
        self.steps.record(1, &mut lap);
        let challenge = authz["challenges"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "http-01"))
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no http-01 challenge"))?;
        let token = challenge["token"].as_str().unwrap_or_default().to_owned();
        tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), self.key.key_authorization(&token));
        self.post(challenge["url"].as_str().unwrap_or_default(), Some(&json!({}))).await?;
        self.steps.record(2, &mut lap);
        let ready = self.poll(&order_url, "ready").await?;
        self.steps.record(3, &mut lap);
        let finalize = ready["finalize"].as_str().unwrap_or_default().to_owned();
        let csr = csr_with(csr_key, &[name]);
        let done = self.post(&finalize, Some(&json!({"csr": b64(&csr)}))).await?.json();
        self.steps.record(4, &mut lap);
        let done = if done["status"] == "valid" { done } else { self.poll(&order_url, "valid").await? };
        self.steps.record(5, &mut lap);
        let cert_url = done["certificate"].as_str().unwrap_or_default().to_owned();
        let cert = self.post(&cert_url, None).await?;
        self.steps.record(6, &mut lap);
        anyhow::ensure!(cert.body.starts_with(b"-----BEGIN CERTIFICATE-----"), "not a PEM chain");
        tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(&token);
        Ok(())
    }
}

/// The http-01 answers, served on 127.0.0.1:`port`.
async fn serve_http01(port: u16, tokens: Tokens) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let tokens = tokens.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let token =
                    req.uri().path().strip_prefix("/.well-known/acme-challenge/").unwrap_or("").to_owned();
                let answer = tokens.lock().unwrap_or_else(|p| p.into_inner()).get(&token).cloned();
                async move {
                    let (status, body) = match answer {
                        Some(a) => (200, a),
                        None => (404, String::new()),
                    };
                    http::Response::builder().status(status).body(Full::new(Bytes::from(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 7,
        "usage: acme-load DIRECTORY_URL HTTP01_PORT ACCOUNTS SECONDS MAX_ORDERS LABEL"
    );
    let directory_url = args[1].clone();
    let (http_port, accounts): (u16, usize) = (args[2].parse()?, args[3].parse()?);
    let (seconds, max_orders): (u64, u64) = (args[4].parse()?, args[5].parse()?);
    let label = args[6].clone();
    let authority =
        directory_url.trim_start_matches("https://").split('/').next().unwrap_or_default().to_owned();
    let addr: SocketAddr = authority.parse()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Anything(provider)))
        .with_no_client_auth();
    let tls = Arc::new(tls);
    let tokens: Tokens = Arc::default();
    tokio::spawn(serve_http01(http_port, tokens.clone()));

    // Accounts first (not measured).
    let mut workers = Vec::new();
    for _ in 0..accounts {
        let mut conn =
            Connection { addr, authority: authority.clone(), tls: tls.clone(), sender: None, nonce: None };
        let directory = serde_json::from_slice(&conn.send("GET", &directory_url, None).await?.body)?;
        let mut w =
            Worker { steps: Steps::default(), conn, directory, key: AccountKey::generate(), kid: None };
        let url = w.url("newAccount");
        let r = w.post(&url, Some(&json!({"termsOfServiceAgreed": true}))).await?;
        w.kid = r.location;
        workers.push(w);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let issued = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, mut w) in workers.into_iter().enumerate() {
        let (tokens, issued, failed) = (tokens.clone(), issued.clone(), failed.clone());
        tasks.spawn(async move {
            let csr_key = cartorio_testkit::acme::csr_key();
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < deadline
                && issued.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < max_orders
            {
                seq += 1;
                // A registered domain of its own per order: no per-domain limit applies.
                let name = format!("www.w{n}o{seq}.test");
                let t0 = Instant::now();
                // Bounded: a server that stops answering (Pebble 2.4's memory
                // store can deadlock under concurrent orders) fails the order
                // instead of hanging the benchmark.
                let outcome = tokio::time::timeout(ORDER_TIMEOUT, w.order(&name, &tokens, &csr_key))
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {ORDER_TIMEOUT:?}")));
                if outcome.is_err() {
                    w.conn.sender = None;
                }
                match outcome {
                    Ok(()) => {
                        latencies.push(t0.elapsed());
                        issued.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("{name}: {e:#}");
                        }
                    }
                }
            }
            (latencies, w.steps)
        });
    }
    let mut latencies = Vec::new();
    let mut steps = Steps::default();
    while let Some(done) = tasks.join_next().await {
        let (l, s) = done?;
        latencies.extend(l);
        steps.add(&s);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let done = issued.load(Ordering::Relaxed);
    println!(
        "{label}: {done} orders in {elapsed:.1} s = {:.1} orders/s; per order p50 {:.1} ms, p99 {:.1} ms; failed {}",
        done as f64 / elapsed,
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        failed.load(Ordering::Relaxed)
    );
    println!("{label}: mean ms per step: {}", steps.means(done));
    Ok(())
}
