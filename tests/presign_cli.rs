//! `cartorio presign --refresh-all`: re-signs every unexpired certificate's
//! responses now and publishes them as a new generation, which `openssl
//! ocsp` then verifies.

mod common;

use common::*;
use std::process::Command;

fn generation(data: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(data.join("store/ocsp/manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("json");
    manifest["generation"].as_u64().expect("generation")
}

#[test]
fn presign_refresh_all_publishes_a_new_generation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let certs: Vec<_> =
        (0..3).map(|i| issue(&data, &make_csr(tmp.path(), &format!("c{i}"), "c.example.test")).0).collect();
    for cert in &certs {
        let within = std::time::Duration::from_secs(20);
        let out = ocsp_until(&up.ocsp_url(), &up.dir.join("pki"), cert, "good", &[], within);
        assert_eq!(status_of(&out, cert).as_deref(), Some("good"), "first responses never published: {out}");
    }
    let before = generation(&data);

    let out = run(Command::new(BIN).args(["presign", "--refresh-all", "--data-dir"]).arg(&data));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 certificates' responses signed and published"), "{}", text(&out));
    assert!(generation(&data) > before, "a new generation");

    // The responder picks the new generation up and still verifies.
    for cert in &certs {
        let answer = openssl_ocsp(&up, cert, &[]);
        assert!(answer.contains("Response verify OK"), "{answer}");
        assert_eq!(status_of(&answer, cert).as_deref(), Some("good"), "{answer}");
    }
    // Nothing left due: a second run signs nothing.
    let again = run(Command::new(BIN).args(["presign", "--data-dir"]).arg(&data));
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("0 certificates"), "{}", text(&again));
    assert!(up.stop());
}
