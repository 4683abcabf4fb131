//! HTTP/3 on the responder's TLS port: announced by `Alt-Svc` over TCP,
//! serving the same pre-signed bytes as HTTP/1.1, which `openssl ocsp`
//! verifies. The client is quinn + h3 trusting only the demo root.

mod common;

use base64::Engine;
use bytes::{Buf, Bytes};
use common::*;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct H3Response {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// One request over a fresh HTTP/3 connection to `addr`, verifying the
/// server certificate against `root`.
async fn h3(addr: SocketAddr, root: &Path, method: &str, path: &str, body: &[u8]) -> H3Response {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root).expect("root.pem") {
        roots.add(cert.expect("certificate")).expect("trust root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let mut endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).expect("endpoint");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let conn = endpoint.connect(addr, "127.0.0.1").expect("connect").await.expect("QUIC handshake");
    let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(conn)).await.expect("h3");
    let driving = tokio::spawn(async move { driver.wait_idle().await });
    let req = http::Request::builder()
        .method(method)
        .uri(format!("https://{addr}{path}"))
        .header("content-type", "application/ocsp-request")
        .body(())
        .expect("request");
    let mut stream = sender.send_request(req).await.expect("send request");
    if !body.is_empty() {
        stream.send_data(Bytes::copy_from_slice(body)).await.expect("send body");
    }
    stream.finish().await.expect("finish");
    let resp = stream.recv_response().await.expect("response");
    let mut out = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.expect("body") {
        out.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    drop(sender);
    driving.abort();
    endpoint.close(0u32.into(), b"done");
    H3Response { status: resp.status().as_u16(), headers: resp.headers().clone(), body: out }
}

#[test]
fn http3_is_announced_and_serves_the_same_verified_responses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let root = up.pki("root.pem");
    let tls_addr: SocketAddr = up.responder_tls.parse().expect("address");

    // Alt-Svc on the TLS listener names the same port.
    let out = run(Command::new("curl")
        .args(["-s", "--http2", "-D", "-", "-o", "/dev/null", "--cacert"])
        .arg(&root)
        .arg(format!("https://{}/healthz", up.responder_tls)));
    let alt_svc = format!("alt-svc: h3=\":{}\"; ma=86400", tls_addr.port());
    assert!(text(&out).to_ascii_lowercase().contains(&alt_svc), "{}", text(&out));

    // A request DER as openssl builds it, once the certificate is served.
    let (cert, _) = issue(&data, &make_csr(tmp.path(), "h3", "h3.example.test"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(&openssl_ocsp(&up, &cert, &["-no_nonce"]), &cert).as_deref() != Some("good") {
        assert!(Instant::now() < deadline, "never served good");
        std::thread::sleep(Duration::from_millis(50));
    }
    let req_der = tmp.path().join("req.der");
    run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(up.pki("issuer.pem"))
        .arg("-cert")
        .arg(&cert)
        .arg("-reqout")
        .arg(&req_der));
    let der = std::fs::read(&req_der).expect("request DER");
    let get_path = format!("/{}", base64::engine::general_purpose::STANDARD.encode(&der));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (post, get, head, put, health, crl, ca) = runtime.block_on(async {
        (
            h3(tls_addr, &root, "POST", "/", &der).await,
            h3(tls_addr, &root, "GET", &get_path, &[]).await,
            h3(tls_addr, &root, "HEAD", &get_path, &[]).await,
            h3(tls_addr, &root, "PUT", "/", &der).await,
            h3(tls_addr, &root, "GET", "/healthz", &[]).await,
            h3(tls_addr, &root, "GET", "/crl/tls.crl", &[]).await,
            h3(tls_addr, &root, "GET", "/ca/documents.cer", &[]).await,
        )
    });
    // Revocation data and CA certificates are served over HTTP/3 too.
    assert_eq!((crl.status, crl.headers["content-type"].as_bytes()), (200, &b"application/pkix-crl"[..]));
    assert!(crl.headers.contains_key("last-modified") && crl.headers.contains_key("expires"));
    assert_der("the tls CRL over HTTP/3", &crl.body);
    assert_eq!((ca.status, ca.headers["content-type"].as_bytes()), (200, &b"application/pkix-cert"[..]));
    let documents = pem_blocks(&up.pki("issuers/documents.pem")).remove(0);
    assert_eq!(ca.body, documents);
    let (status, _, over_tcp) = post_ocsp(&up.responder, &der);
    assert_eq!(status, 200);
    for (name, resp) in [("POST", &post), ("GET", &get)] {
        assert_eq!(resp.status, 200, "{name}");
        assert_eq!(resp.headers["content-type"], "application/ocsp-response", "{name}");
        assert!(resp.headers.contains_key("etag") && resp.headers.contains_key("cache-control"), "{name}");
        assert_eq!(resp.body, over_tcp, "{name}: the same pre-signed bytes as HTTP/1.1");
    }
    assert_eq!((head.status, head.body.len()), (200, 0), "HEAD: headers only");
    assert_eq!(head.headers["etag"], get.headers["etag"]);
    assert_eq!((put.status, put.headers.get("allow").is_some()), (405, true));
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));

    // openssl checks the bytes that came over HTTP/3.
    let resp_der = tmp.path().join("resp.der");
    std::fs::write(&resp_der, &get.body).expect("write");
    let out = text(&run(Command::new("openssl")
        .args(["ocsp", "-respin"])
        .arg(&resp_der)
        .arg("-issuer")
        .arg(up.pki("issuer.pem"))
        .arg("-cert")
        .arg(&cert)
        .arg("-CAfile")
        .arg(&root)));
    assert!(out.contains("Response verify OK"), "{out}");
    assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "{out}");
}

fn post_ocsp(addr: &str, der: &[u8]) -> (u16, String, Vec<u8>) {
    post(addr, "/", "application/ocsp-request", der)
}
