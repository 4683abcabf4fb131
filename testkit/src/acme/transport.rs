//! Blocking HTTPS to an ACME server: one TLS connection per request,
//! the server's certificate verified against a given root.

use super::AccountKey;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header called `name`.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The problem type's last part (`badNonce`...), if this is a problem.
    pub fn problem(&self) -> Option<String> {
        self.json()["type"].as_str()?.strip_prefix("urn:ietf:params:acme:error:").map(str::to_owned)
    }
}

pub struct Client {
    authority: String,
    host: String,
    tls: Arc<rustls::ClientConfig>,
    pub directory: Value,
    nonce: Option<String>,
}

/// (authority, path) of an https URL.
fn split(url: &str) -> (String, String) {
    let rest = url.strip_prefix("https://").expect("an https URL");
    match rest.find('/') {
        Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    }
}

impl Client {
    /// A client of the server whose directory is `directory_url`, trusting `root_pem`.
    pub fn new(directory_url: &str, root_pem: &Path) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(root_pem).expect("root") {
            roots.add(cert.expect("root certificate")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (authority, _) = split(directory_url);
        let host = authority.rsplit_once(':').map_or(authority.as_str(), |(h, _)| h).to_owned();
        let mut client = Self { authority, host, tls: Arc::new(tls), directory: Value::Null, nonce: None };
        let directory = client.request("GET", directory_url, None, b"");
        assert_eq!(directory.status, 200, "the directory: {}", String::from_utf8_lossy(&directory.body));
        client.directory = directory.json();
        client
    }

    /// A URL of the directory (`newAccount`...).
    pub fn url(&self, name: &str) -> String {
        self.directory[name].as_str().unwrap_or_else(|| panic!("no {name} in the directory")).to_owned()
    }

    /// One request on a connection of its own.
    pub fn request(&mut self, method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Response {
        let (authority, path) = split(url);
        assert_eq!(authority, self.authority, "a URL of another server: {url}");
        let name = ServerName::try_from(self.host.clone()).expect("server name");
        let conn = rustls::ClientConnection::new(self.tls.clone(), name).expect("TLS");
        let tcp = TcpStream::connect(&self.authority).expect("connect to the ACME server");
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.authority);
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        tls.write_all(head.as_bytes()).and_then(|()| tls.write_all(body)).expect("send");
        let mut raw = Vec::new();
        // A server that closes without close_notify ends with an error; what came is kept.
        let _ = tls.read_to_end(&mut raw);
        let response = parse(&raw);
        if let Some(nonce) = response.header("Replay-Nonce") {
            self.nonce = Some(nonce.to_owned());
        }
        response
    }

    pub fn get(&mut self, url: &str) -> Response {
        self.request("GET", url, None, b"")
    }

    /// A fresh nonce (from the last response, or newNonce).
    pub fn nonce(&mut self) -> String {
        if let Some(nonce) = self.nonce.take() {
            return nonce;
        }
        let url = self.url("newNonce");
        let r = self.request("HEAD", &url, None, b"");
        self.nonce.take().unwrap_or_else(|| panic!("newNonce gave no nonce: {}", r.status))
    }

    /// The protected header for a request to `url` by `kid` (or the key itself).
    pub fn protected(&mut self, key: &AccountKey, kid: Option<&str>, url: &str) -> Value {
        let nonce = self.nonce();
        match kid {
            Some(kid) => json!({"alg": "ES256", "kid": kid, "nonce": nonce, "url": url}),
            None => json!({"alg": "ES256", "jwk": key.jwk(), "nonce": nonce, "url": url}),
        }
    }

    /// A signed POST (`payload` None: POST-as-GET).
    pub fn post(
        &mut self,
        url: &str,
        payload: Option<&Value>,
        key: &AccountKey,
        kid: Option<&str>,
    ) -> Response {
        let protected = self.protected(key, kid, url);
        let payload = payload.map(|p| p.to_string().into_bytes()).unwrap_or_default();
        self.post_jws(url, &key.sign(&protected, &payload))
    }

    pub fn post_jws(&mut self, url: &str, jws: &Value) -> Response {
        self.request("POST", url, Some("application/jose+json"), jws.to_string().as_bytes())
    }

    /// A new account for `key` (terms agreed); its URL (kid).
    pub fn new_account(&mut self, key: &AccountKey) -> String {
        let url = self.url("newAccount");
        let r = self.post(&url, Some(&json!({"termsOfServiceAgreed": true})), key, None);
        assert!(
            r.status == 201 || r.status == 200,
            "newAccount: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r.header("Location").expect("account URL").to_owned()
    }

    /// Polls `url` (POST-as-GET) until its status is not pending/processing.
    pub fn poll(&mut self, url: &str, key: &AccountKey, kid: &str) -> Value {
        for _ in 0..200 {
            let r = self.post(url, None, key, Some(kid));
            let status = r.json()["status"].as_str().unwrap_or("").to_owned();
            if status != "pending" && status != "processing" {
                return r.json();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{url} stayed pending");
    }
}

fn parse(raw: &[u8]) -> Response {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Response { status, headers, body: raw[split..].to_vec() }
}
