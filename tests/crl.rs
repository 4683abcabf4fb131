//! CRLs: `cartorio crl` writes the issuer's full CRL, and the pre-signer
//! publishes it beside the OCSP segments; `openssl crl -verify` accepts both
//! and lists the revoked serials with their reasons.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn crls_list_revoked_serials_with_reasons_and_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let (_, revoked_serial) = issue(&data, &make_csr(tmp.path(), "a", "a.example.test"));
    let (_, kept_serial) = issue(&data, &make_csr(tmp.path(), "b", "b.example.test"));
    let (_, superseded_serial) = issue(&data, &make_csr(tmp.path(), "c", "c.example.test"));
    for (serial, reason) in [(&revoked_serial, "keyCompromise"), (&superseded_serial, "superseded")] {
        let out = run(Command::new(BIN)
            .args(["revoke", "--data-dir"])
            .arg(&data)
            .args(["--serial", serial, "--reason", reason]));
        assert!(out.status.success(), "{}", text(&out));
    }
    let chain = ca_chain_file(&up.dir.join("pki"), &tmp.path().join("chain.pem"));

    // On demand.
    let out_file = tmp.path().join("issuer.crl.pem");
    let out = run(Command::new(BIN).args(["crl", "--data-dir"]).arg(&data).arg("--out").arg(&out_file));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 revoked"), "{}", text(&out));
    let shown = openssl_crl(&out_file, &chain, "PEM");
    assert!(shown.contains("verify OK"), "{shown}");
    let upper = |s: &str| s.to_ascii_uppercase();
    assert!(upper(&shown).contains(&upper(&revoked_serial)), "{shown}");
    assert!(upper(&shown).contains(&upper(&superseded_serial)), "{shown}");
    assert!(!upper(&shown).contains(&upper(&kept_serial)), "only revoked serials");
    assert!(shown.contains("Key Compromise") && shown.contains("Superseded"), "{shown}");
    assert!(
        shown.contains("X509v3 CRL Number") && shown.contains("X509v3 Authority Key Identifier"),
        "{shown}"
    );

    // Published beside the segments by the pre-signer, by the CA's name.
    let published = data.join("store/crl/tls.crl");
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        if published.exists() {
            let shown = openssl_crl(&published, &chain, "DER");
            if upper(&shown).contains(&upper(&superseded_serial)) {
                break shown;
            }
        }
        assert!(Instant::now() < deadline, "no published CRL lists the revocations");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(shown.contains("verify OK") && shown.contains("Superseded"), "published CRL: {shown}");
}
