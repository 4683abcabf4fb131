//! Which CertID hashes are pre-signed is configuration. `openssl ocsp
//! -sha384` gets `unauthorized` while SHA-384 is not listed (never a
//! response for another CertID, which openssl would reject), and its own
//! response once it is: adding a hash re-signs every response at start.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn ocsp_with(up: &Up, cert: &Path, digest: &str) -> String {
    text(&run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(up.pki("issuer.pem"))
        .arg(digest) // openssl wants the digest before -cert
        .arg("-cert")
        .arg(cert)
        .args(["-url", &up.ocsp_url(), "-CAfile"])
        .arg(up.pki("root.pem"))))
}

fn until_good(up: &Up, cert: &Path, digest: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = ocsp_with(up, cert, digest);
        if status_of(&out, cert).as_deref() == Some("good") || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sha384_cert_ids_are_answered_only_when_pre_signed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let (cert, _) = issue(&data, &make_csr(tmp.path(), "h", "h.example.test"));
    let out = until_good(&up, &cert, "-sha256");
    assert!(out.contains("Response verify OK"), "{out}");
    for digest in ["-sha384", "-sha512"] {
        let out = ocsp_with(&up, &cert, digest);
        assert!(out.contains("Responder Error: unauthorized"), "default hashes, {digest}: {out}");
    }
    assert!(up.stop());

    let up = Up::start_with(&data, &["--ocsp-cert-id-hashes", "sha1,sha256,sha384"]);
    let out = until_good(&up, &cert, "-sha384");
    assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "re-signed for SHA-384: {out}");
    assert!(out.contains("Response verify OK"), "{out}");
    for digest in ["-sha1", "-sha256"] {
        let out = ocsp_with(&up, &cert, digest);
        assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "{digest}: {out}");
    }
    let out = ocsp_with(&up, &cert, "-sha512");
    assert!(out.contains("Responder Error: unauthorized"), "SHA-512 still not listed: {out}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("store/ocsp/manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["cert_id_hashes"], serde_json::json!(["sha1", "sha256", "sha384"]));
    assert!(up.stop());
}
