//! Cartorio renews its own certificates before they expire: with 30-second
//! lifetimes, the OCSP signer (new key), the TSA and the responder's TLS
//! certificate (new key) are renewed at two thirds of their lives, the
//! services take the new ones without a restart, `openssl ocsp` verifies
//! every response across the renewal, and the old signer stops signing.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LIFETIME: &str = "30";

/// The certificate (DER) the responder signs OCSP responses with now.
fn responder_cert_in(up: &Up, cert: &Path, dir: &Path) -> (String, Vec<u8>) {
    let response = dir.join("renewal-response.der");
    let out = openssl_ocsp(up, cert, &["-no_nonce", "-respout", response.to_str().expect("utf-8")]);
    let shown = text(&run(Command::new("openssl")
        .args(["ocsp", "-noverify", "-resp_text", "-respin"])
        .arg(&response)));
    let signer = pem_text_blocks(&shown).into_iter().next().expect("the response carries its signer");
    (out, signer)
}

/// The first certificate of a PEM file (DER).
fn pem_of(path: &Path) -> Vec<u8> {
    pem_blocks(path).into_iter().next().expect("a certificate")
}

/// The leaf certificate the TLS listener at `addr` serves (DER).
fn served_tls_cert(addr: &str) -> Vec<u8> {
    let out = run(Command::new("openssl")
        .args(["s_client", "-connect", addr, "-servername", "localhost"])
        .stdin(std::process::Stdio::null()));
    let shown = text(&out);
    pem_text_blocks(&shown).into_iter().next().unwrap_or_else(|| panic!("no certificate: {shown}"))
}

#[test]
fn own_certificates_are_renewed_and_taken_without_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start_with(
        &data,
        &["--danger-own-certificate-lifetime-secs", LIFETIME, "--danger-tsa-trust-system-clock"],
    );
    let pki = data.join("pki");
    let (cert, _) = issue(&data, &make_csr(tmp.path(), "leaf", "leaf.example.test"));
    let out = ocsp_until(&up.ocsp_url(), &pki, &cert, "good", &["-no_nonce"], Duration::from_secs(20));
    assert!(out.contains("Response verify OK"), "{out}");
    let (old_ocsp, old_tsa, old_tls) =
        (pem_of(&pki.join("ocsp.pem")), pem_of(&pki.join("tsa.pem")), pem_of(&pki.join("responder-tls.pem")));
    let old_ocsp_key = std::fs::read(pki.join("ocsp-key.pk8")).expect("key");
    assert_eq!(served_tls_cert(&up.responder_tls), old_tls);

    // Ask all along: every answer verifies, and the signer changes once.
    let started = Instant::now();
    let mut signers = vec![old_ocsp.clone()];
    while started.elapsed() < Duration::from_secs(40) {
        let (out, signer) = responder_cert_in(&up, &cert, tmp.path());
        assert!(out.contains("Response verify OK"), "after {:?}: {out}", started.elapsed());
        assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "{out}");
        if signers.last() != Some(&signer) {
            println!("after {:?}: responses signed by a new signer", started.elapsed());
            signers.push(signer);
        }
        let renewed_tls = pem_of(&pki.join("responder-tls.pem")) != old_tls;
        if signers.len() > 1 && renewed_tls && served_tls_cert(&up.responder_tls) != old_tls {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let new_ocsp = pem_of(&pki.join("ocsp.pem"));
    assert_ne!(new_ocsp, old_ocsp, "the OCSP signer was renewed");
    assert_ne!(std::fs::read(pki.join("ocsp-key.pk8")).expect("key"), old_ocsp_key, "with a new key");
    assert!(signers.len() > 1, "responses never moved to the renewed signer");
    let (_, now_signing) = responder_cert_in(&up, &cert, tmp.path());
    assert_ne!(now_signing, old_ocsp, "the old signer is no longer used");
    assert_eq!(served_tls_cert(&up.responder_tls), pem_of(&pki.join("responder-tls.pem")), "TLS reloaded");
    assert_der_pem(&pki.join("responder-tls-chain.pem"));

    // The TSA signs with its renewed certificate, which verifies.
    let new_tsa = pem_of(&pki.join("tsa.pem"));
    assert_ne!(new_tsa, old_tsa, "the TSA certificate was renewed");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let query = tmp.path().join("q.tsq");
        let out = run(Command::new("openssl")
            .args(["ts", "-query", "-digest", &"ab".repeat(32), "-sha256", "-cert", "-out"])
            .arg(&query));
        assert!(out.status.success(), "{}", text(&out));
        let (status, _, reply) =
            post(&up.responder, "/tsa", "application/timestamp-query", &std::fs::read(&query).expect("q"));
        assert_eq!(status, 200);
        assert_der("a time-stamp reply", &reply);
        let reply_file = tmp.path().join("r.tsr");
        std::fs::write(&reply_file, &reply).expect("reply");
        let verified = text(&run(Command::new("openssl")
            .args(["ts", "-verify", "-in"])
            .arg(&reply_file)
            .arg("-queryfile")
            .arg(&query)
            .arg("-CAfile")
            .arg(pki.join("root.pem"))
            .arg("-untrusted")
            .arg(pki.join("tsa-chain.pem"))));
        if verified.contains("Verification: OK") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "time-stamps never verified with the renewed certificate: {verified}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Expiry gauges for every certificate, and the renewals audited.
    let (_, _, metrics) =
        http(&up.control, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let metrics = String::from_utf8_lossy(&metrics);
    let every =
        ["root", "issuer:tls", "issuer:documents", "ocsp:tls", "ocsp:documents", "tsa", "responder-tls"];
    for certificate in every {
        for gauge in ["expiry", "lifetime"] {
            let series = format!("cartorio_certificate_{gauge}_seconds{{certificate=\"{certificate}\"}}");
            assert!(metrics.lines().any(|l| l.starts_with(&series)), "{series}");
        }
    }
    assert!(up.stop());
    let renewals = run(Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys\nprint(sorted({r[0] for r in sqlite3.connect(sys.argv[1]).execute(\"SELECT json_extract(detail, '$.certificate') FROM audit_log WHERE kind = 'certificate.renew'\")}))")
        .arg(data.join("registry.db")));
    let renewed = "['ocsp:documents', 'ocsp:tls', 'responder-tls', 'tsa']";
    assert_eq!(text(&renewals).trim(), renewed, "{}", text(&renewals));
}

/// An operator rotates an OCSP signer at once (a suspected key compromise):
/// through the admin API, responses are signed by a new signer on a new
/// key within seconds, with default lifetimes; the command line rotates
/// the other issuer's beside the running `up`; an unknown issuer is a 400.
#[test]
fn an_ocsp_signer_is_rotated_on_demand() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let pki = data.join("pki");
    let (cert, _) = issue(&data, &make_csr(tmp.path(), "leaf", "leaf.example.test"));
    // The admin API answers an issuance once its response is published and
    // the responder serves it: "good" at the first ask, not `unauthorized`.
    let first = openssl_ocsp_at(&up.ocsp_url(), &pki, &cert, &["-no_nonce"]);
    assert_eq!(status_of(&first, &cert).as_deref(), Some("good"), "{first}");
    let out = ocsp_until(&up.ocsp_url(), &pki, &cert, "good", &["-no_nonce"], Duration::from_secs(20));
    assert!(out.contains("Response verify OK"), "{out}");
    let (_, old_signer) = responder_cert_in(&up, &cert, tmp.path());
    let old_key = std::fs::read(pki.join("ocsp-key.pk8")).expect("key");

    let token = std::fs::read_to_string(data.join("control/admin-token")).expect("admin token");
    // And says so.
    let csr = std::fs::read(make_csr(tmp.path(), "second", "second.example.test")).expect("csr");
    let head = format!(
        "POST /v1/certificates?profile=server HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/pkcs10\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        token.trim(),
        csr.len()
    );
    let (status, _, body) = http(&up.control, &head, &csr);
    let issued: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!((status, issued["ocsp_published"].as_bool()), (201, Some(true)), "{issued}");
    let rotate = |query: &str| {
        let head = format!(
            "POST /v1/ocsp-signer/rotate{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            token.trim()
        );
        let (status, _, body) = http(&up.control, &head, b"");
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let (status, body) = rotate("?issuer=nonesuch");
    assert_eq!(status, 400, "{body}");
    let (status, body) = rotate("");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"new_key\":true") && body.contains("ocsp:tls"), "{body}");
    assert_ne!(std::fs::read(pki.join("ocsp-key.pk8")).expect("key"), old_key, "a new key");

    signed_by_the_current_signer(&up, &cert, tmp.path(), &pki);
    assert_ne!(responder_cert_in(&up, &cert, tmp.path()).1, old_signer);

    let refused = run(Command::new(BIN)
        .args(["ocsp-signer", "rotate", "--issuer", "No Such", "--data-dir"])
        .arg(&data));
    assert!(
        !refused.status.success() && text(&refused).contains("names no issuing CA"),
        "{}",
        text(&refused)
    );
    // The command line goes through the running `up`: its responses move
    // to the new signer at once, as through the API.
    let before = pem_of(&pki.join("ocsp.pem"));
    let out = run(Command::new(BIN).args(["ocsp-signer", "rotate", "--data-dir"]).arg(&data));
    assert!(out.status.success() && text(&out).contains("rotated ocsp:tls"), "{}", text(&out));
    assert_ne!(pem_of(&pki.join("ocsp.pem")), before);
    // Relying parties never ask whether a signer (id-pkix-ocsp-nocheck) was
    // revoked: by default it lives two weeks, not a day more, not much less.
    let expires_within = |days: i64| {
        let checked = run(Command::new("openssl")
            .args(["x509", "-noout", "-checkend", &(days * 86400).to_string(), "-in"])
            .arg(pki.join("ocsp.pem")));
        !checked.status.success()
    };
    assert!(expires_within(14) && !expires_within(13), "a two-week OCSP signer");
    signed_by_the_current_signer(&up, &cert, tmp.path(), &pki);
    let old_documents = pem_of(&pki.join("issuers/documents-ocsp.pem"));
    let out = run(Command::new(BIN)
        .args(["ocsp-signer", "rotate", "--issuer", "documents", "--data-dir"])
        .arg(&data));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("rotated ocsp:documents"), "{}", text(&out));
    assert_ne!(pem_of(&pki.join("issuers/documents-ocsp.pem")), old_documents);
    assert!(up.stop());
    let reasons = run(Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys\nprint(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute(\"SELECT json_extract(detail, '$.certificate') FROM audit_log WHERE kind = 'certificate.renew' AND json_extract(detail, '$.reason') = 'forced'\")))")
        .arg(data.join("registry.db")));
    assert_eq!(text(&reasons).trim(), "['ocsp:documents', 'ocsp:tls', 'ocsp:tls']", "{}", text(&reasons));
}

/// Waits (10 s at most) until responses for `cert` verify and are signed by
/// the OCSP signer certificate now in `pki`.
fn signed_by_the_current_signer(up: &Up, cert: &Path, dir: &Path, pki: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (out, signer) = responder_cert_in(up, cert, dir);
        assert!(out.contains("Response verify OK"), "{out}");
        if signer == pem_of(&pki.join("ocsp.pem")) {
            return;
        }
        assert!(Instant::now() < deadline, "responses still signed by an older signer");
        std::thread::sleep(Duration::from_millis(200));
    }
}
