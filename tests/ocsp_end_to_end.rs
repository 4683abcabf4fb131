//! Issue -> pre-signed OCSP -> revoke, through the real binary, checked with
//! the real `openssl ocsp` client.

mod common;

use base64::Engine;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn issue_query_revoke_query() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    for file in ["root.pem", "issuer.pem"] {
        assert!(up.pki(file).exists(), "{file} written on first start");
    }

    let csr = make_csr(tmp.path(), "site", "site.example.test");
    let (cert, serial) = issue(&data, &csr);

    // Good within seconds of issuance, signature verified against the root.
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = openssl_ocsp(&up, &cert, &[]);
        if status_of(&out, &cert).as_deref() == Some("good") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");
    // A client hashing its CertID with SHA-256 gets a response with that CertID.
    let out = text(&run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(up.pki("issuer.pem"))
        .arg("-sha256") // openssl wants the digest before -cert
        .arg("-cert")
        .arg(&cert)
        .args(["-url", &up.ocsp_url(), "-CAfile"])
        .arg(up.pki("root.pem"))));
    assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "SHA-256 CertID: {out}");

    // GET: the same request, base64 in the path, under both prefixes.
    let req = tmp.path().join("req.der");
    let out = run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(up.pki("issuer.pem"))
        .arg("-cert")
        .arg(&cert)
        .arg("-reqout")
        .arg(&req));
    assert!(out.status.success(), "{}", text(&out));
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&req).expect("req"));
    for prefix in ["/", "/ocsp/"] {
        let (status, head, body) = http(
            &up.responder,
            &format!("GET {prefix}{b64} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            b"",
        );
        assert_eq!(status, 200, "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: application/ocsp-response"), "{head}");
        let resp = tmp.path().join("get.der");
        std::fs::write(&resp, body).expect("write");
        let out = run(Command::new("openssl")
            .args(["ocsp", "-respin"])
            .arg(&resp)
            .arg("-issuer")
            .arg(up.pki("issuer.pem"))
            .arg("-cert")
            .arg(&cert)
            .arg("-CAfile")
            .arg(up.pki("root.pem")));
        let out = text(&out);
        assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "GET {prefix}: {out}");
        assert!(out.contains("Response verify OK"), "{out}");
    }

    // Revoke, then measure until openssl sees it.
    let revoke = run(Command::new(BIN).args(["revoke", "--data-dir"]).arg(&data).args([
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
    ]));
    assert!(revoke.status.success(), "{}", text(&revoke));
    let returned = Instant::now();
    let out = loop {
        let out = openssl_ocsp(&up, &cert, &["-no_nonce"]);
        if status_of(&out, &cert).as_deref() == Some("revoked") || returned.elapsed() > Duration::from_secs(5)
        {
            break out;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let propagation = returned.elapsed();
    println!("revocation propagation: {} ms", propagation.as_millis());
    assert_eq!(status_of(&out, &cert).as_deref(), Some("revoked"), "{out}");
    assert!(out.contains("Reason: keyCompromise"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(propagation <= Duration::from_secs(2), "propagation took {propagation:?}");

    // A serial never issued: unsigned `unauthorized`.
    let out = run(Command::new("openssl").args(["ocsp", "-issuer"]).arg(up.pki("issuer.pem")).args([
        "-serial",
        "0x0123456789abcdef",
        "-url",
        &up.ocsp_url(),
    ]));
    assert!(text(&out).contains("unauthorized (6)"), "{}", text(&out));

    // Garbage: malformedRequest with HTTP 400, on POST and GET.
    let garbage = b"this is not DER";
    let (status, _, body) = http(
        &up.responder,
        &format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            garbage.len()
        ),
        garbage,
    );
    assert_eq!((status, body.as_slice()), (400, &[0x30, 0x03, 0x0a, 0x01, 0x01][..]));
    let resp = tmp.path().join("malformed.der");
    std::fs::write(&resp, &body).expect("write");
    let out = run(Command::new("openssl").args(["ocsp", "-respin"]).arg(&resp).arg("-resp_text"));
    assert!(text(&out).contains("malformedrequest (1)"), "{}", text(&out));
    let (status, _, body) =
        http(&up.responder, "GET /ocsp/bm90LWRlcg== HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    assert_eq!((status, body.as_slice()), (400, &[0x30, 0x03, 0x0a, 0x01, 0x01][..]));

    // Every listener has health and metrics.
    for addr in [&up.responder, &up.control, &up.gateway] {
        let (status, _, _) = http(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
        assert_eq!(status, 200, "{addr}");
        let (status, _, body) =
            http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
        assert_eq!(status, 200, "{addr}");
        assert!(String::from_utf8_lossy(&body).contains("cartorio_ocsp_responses_total"), "{addr}");
    }
    let (_, _, body) =
        http(&up.responder, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let exposition = String::from_utf8_lossy(&body);
    for name in [
        "cartorio_ocsp_responses_total{outcome=\"revoked\"}",
        "cartorio_ocsp_responses_by_issuer_total{issuer=",
        "cartorio_ocsp_response_age_seconds",
        "cartorio_ocsp_request_bytes",
        "cartorio_ocsp_index_entries",
        "cartorio_ocsp_index_generation",
        "cartorio_ocsp_index_swap_seconds",
        "cartorio_responder_request_seconds",
    ] {
        assert!(exposition.contains(name), "{name} missing from /metrics");
    }
    let (status, _, body) = http(
        &up.gateway,
        "POST /v1/ingest/demo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n",
        b"{}",
    );
    assert_eq!(status, 401, "the gateway of `up` wants its demo key");
    assert!(String::from_utf8_lossy(&body).contains("unauthenticated"));
    assert!(up.stop(), "clean exit on SIGTERM");
}

#[test]
fn bad_csrs_are_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let csr = make_csr(tmp.path(), "ok", "ok.example.test");
    let mut tampered = std::fs::read(&csr).expect("read");
    // Flip one base64 character inside the signed body.
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let bad = tmp.path().join("tampered.csr");
    std::fs::write(&bad, tampered).expect("write");
    let garbage = tmp.path().join("garbage.csr");
    std::fs::write(&garbage, b"hello").expect("write");
    for (file, expect) in [(&bad, "invalid CSR"), (&garbage, "invalid CSR")] {
        let out = run(Command::new(BIN)
            .args(["issue", "--data-dir"])
            .arg(&data)
            .arg("--csr")
            .arg(file)
            .args(["--out"])
            .arg(tmp.path().join("x.pem")));
        assert!(!out.status.success(), "accepted {}", file.display());
        assert!(text(&out).contains(expect), "{}", text(&out));
    }
    let out = run(Command::new(BIN)
        .args(["revoke", "--data-dir"])
        .arg(&data)
        .args(["--serial", "01", "--reason", "bogus"]));
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown reason"), "{}", text(&out));
    drop(up);
}

#[test]
fn http_edges_methods_limits_and_verbatim_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let up = Up::start(&tmp.path().join("data"));
    let req = |head: &str| http(&up.responder, head, b"");
    // Other methods: 405 with Allow.
    let (status, head, _) = req("DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 405);
    assert!(head.to_ascii_lowercase().contains("allow: get, head, post"), "{head}");
    // HEAD answers like GET, without a body.
    let (status, head, body) =
        req("HEAD /ocsp/bm90LWRlcg== HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((status, body.len()), (400, 0), "{head}");
    // A body over the cap is refused from its Content-Length, without reading it.
    let (status, _, body) = http(
        &up.responder,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!((status, body.as_slice()), (400, &[0x30, 0x03, 0x0a, 0x01, 0x01][..]));
    // `/` and `//` inside the base64 survive: a request whose base64 holds
    // "//" decodes (and, for an unknown issuer, is unauthorized, not 404).
    use cartorio_pkix::der::encode::{octet_string, seq, unsigned_integer};
    // Hash octets 0xff encode as runs of '/' in base64.
    let cert_id = seq(&[
        &seq(&[cartorio_pkix::oid::SHA1]),
        &octet_string(&[0xff; 20]),
        &octet_string(&[0xfc; 20]),
        &unsigned_integer(&[1, 0]),
    ]);
    let der = seq(&[&seq(&[&seq(&[&seq(&[&cert_id])])])]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    assert!(b64.contains("//"), "{b64}");
    let (status, _, body) = req(&format!("GET /{b64} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    assert_eq!((status, body.as_slice()), (200, &[0x30, 0x03, 0x0a, 0x01, 0x06][..]), "{b64}");
    // GET URLs over 255 bytes are served (three CertIDs, percent-encoded).
    let single = seq(&[&cert_id]);
    let three = seq(&[&seq(&[&seq(&[&single, &single, &single])])]);
    let long =
        format!("/ocsp/{}", base64::engine::general_purpose::STANDARD.encode(&three).replace('/', "%2F"));
    assert!(long.len() > 255, "{}", long.len());
    let (status, _, body) = req(&format!("GET {long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    assert_eq!((status, body.as_slice()), (200, &[0x30, 0x03, 0x0a, 0x01, 0x06][..]));
    // A POST body that arrives after its head (read past the first poll).
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(&up.responder).expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        der.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    std::thread::sleep(std::time::Duration::from_millis(200));
    stream.write_all(&der).expect("body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    assert!(raw.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&raw));
    assert!(raw.ends_with(&[0x30, 0x03, 0x0a, 0x01, 0x06]), "unauthorized, as by GET");
}

#[test]
fn tls_listener_negotiates_h2_and_serves_ocsp() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let root = up.pki("root.pem");
    // ALPN: HTTP/2 when offered, HTTP/1.1 otherwise; the certificate verifies
    // against the demo root for 127.0.0.1.
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let out = run(Command::new("curl")
            .args(["-s", flag, "--cacert"])
            .arg(&root)
            .args(["-o", "/dev/null", "-w", "%{http_version} %{http_code}"])
            .arg(format!("https://{}/healthz", up.responder_tls)));
        assert_eq!(text(&out).trim(), format!("{version} 200"), "{flag}");
    }
    let (cert, _) = issue(&data, &make_csr(tmp.path(), "tls", "tls.example.test"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = text(&run(Command::new("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(up.pki("issuer.pem"))
            .arg("-cert")
            .arg(&cert)
            .args(["-url", &format!("https://{}", up.responder_tls), "-CAfile"])
            .arg(&root)));
        if status_of(&out, &cert).as_deref() == Some("good") {
            assert!(out.contains("Response verify OK"), "{out}");
            break;
        }
        assert!(Instant::now() < deadline, "no good status over https: {out}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
