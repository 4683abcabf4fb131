//! Document signing end to end: a `document-signing` certificate from the
//! `documents` CA signs a PDF (PAdES, time-stamped by Cartorio's TSA) with
//! pyHanko, a real PDF signing library; pyHanko validates it with
//! revocation checking hard-fail, fetching OCSP and the CRL from Cartorio by
//! the URLs the certificates carry, and its default key-usage rules for
//! document signatures. Revoked, the certificate fails it for that reason.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/pades.py");

fn pyhanko(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (bool, String) {
    let mut command = Command::new("python3");
    command.arg(SCRIPT);
    for arg in args {
        command.arg(arg);
    }
    let out = run(&mut command);
    (out.status.success(), text(&out))
}

#[test]
fn a_pdf_signed_with_a_document_signing_certificate_validates_and_fails_once_revoked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start_with(&data, &["--danger-tsa-trust-system-clock"]);
    let pki = data.join("pki");
    let key = tmp.path().join("signer.key");
    let csr = tmp.path().join("signer.csr");
    let out = run(Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .args([
            "-subj",
            "/CN=Maria Silva/O=Cartorio Test/C=BR",
            "-addext",
            "subjectAltName=email:maria@example.test",
        ]));
    assert!(out.status.success(), "{}", text(&out));
    let cert = tmp.path().join("signer.pem");
    let out = run(Command::new(BIN)
        .args(["issue", "--data-dir"])
        .arg(&data)
        .arg("--csr")
        .arg(&csr)
        .args(["--profile", "document-signing", "--out"])
        .arg(&cert));
    assert!(out.status.success(), "{}", text(&out));
    assert_der_pem(&cert);
    let shown = text(&run(Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&cert)));
    assert!(shown.contains("Issuer: O = Cartorio Demo, CN = Cartorio Demo Document Signing CA"), "{shown}");
    assert!(
        shown.contains("Digital Signature, Non Repudiation") && shown.contains("1.3.6.1.5.5.7.3.36"),
        "{shown}"
    );

    // The first OCSP response for it is published within the usual second.
    let documents = pki.join("issuers/documents.pem");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !openssl_ocsp_with_issuer(&up, &documents, &cert).contains(": good") {
        assert!(Instant::now() < deadline, "no OCSP response for the document-signing certificate");
        std::thread::sleep(Duration::from_millis(100));
    }

    let signed = tmp.path().join("signed.pdf");
    let chain = pki.join("issuers/documents-chain.pem");
    let tsa = format!("http://{}/tsa", up.responder);
    let (ok, out) = pyhanko(&[&"sign", &key, &cert, &chain, &tsa, &signed]);
    assert!(ok, "pyHanko could not sign: {out}");
    let (ok, out) = pyhanko(&[&"validate", &signed, &pki.join("root.pem")]);
    assert!(ok && out.starts_with("valid:") && out.contains("Maria Silva"), "{out}");
    println!("{}", out.trim());

    let serial = serial_of(&cert);
    revoke(&data, &serial, "keyCompromise");
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let (ok, out) = pyhanko(&[&"validate", &signed, &pki.join("root.pem")]);
        if !ok || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(out.contains("invalid:") && out.contains("revoked"), "{out}");
    assert!(out.contains("compromised key"), "{out}");
    println!("after revocation: {}", out.lines().find(|l| l.starts_with("invalid:")).unwrap_or_default());
    assert!(up.stop());
}

/// `openssl ocsp` for `cert` issued by the CA in `issuer`.
fn openssl_ocsp_with_issuer(up: &Up, issuer: &std::path::Path, cert: &std::path::Path) -> String {
    text(&run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(issuer)
        .arg("-cert")
        .arg(cert)
        .args(["-url", &up.ocsp_url(), "-CAfile"])
        .arg(up.pki("root.pem"))))
}
