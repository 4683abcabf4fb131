//! PKCS#11 keys on SoftHSM2: generation, listing, signing through the
//! `Signer` trait (certificates that openssl verifies), and the session pool
//! under more threads than sessions.

mod softhsm;

use cartorio_control::hsm::{HsmConfig, Pkcs11Signer, Token, keys};
use cartorio_pkix::cert::extensions as ext;
use cartorio_pkix::cert::{CertificateTemplate, build_certificate, name, to_pem};
use cartorio_pkix::{EcCurve, Signer, oid};
use ring::signature::UnparsedPublicKey;
use std::process::Command;
use std::sync::Arc;

fn verify(signer: &Pkcs11Signer, message: &[u8], signature: &[u8]) {
    // The uncompressed point ends the SubjectPublicKeyInfo.
    let spki = signer.spki();
    let point = &spki[spki.len() - (1 + 2 * signer.curve().field_len())..];
    UnparsedPublicKey::new(signer.curve().verification(), point)
        .verify(message, signature)
        .expect("the token's signature verifies");
}

#[test]
fn keys_generated_on_the_token_sign_certificates_openssl_accepts() {
    let Some(token) = softhsm::token() else { return };
    for curve in [EcCurve::P256, EcCurve::P384] {
        let label = softhsm::fresh_label(keys::curve_name(curve));
        let info = keys::generate(&token, &label, curve).expect("generate");
        assert_eq!(info.curve, keys::curve_name(curve));
        let listed = keys::list(&token).expect("list");
        assert!(listed.contains(&info), "{label} listed");

        let signer = Pkcs11Signer::open(token.clone(), &label).expect("open signer");
        assert_eq!(cartorio_pkix::hash::sha256_hex(signer.spki()), info.spki_sha256);
        let subject = name(&[(oid::COMMON_NAME, "SoftHSM test root")]);
        let template = CertificateTemplate {
            serial: vec![0x01, 0x02],
            issuer: subject.clone(),
            subject,
            not_before: 1_700_000_000,
            not_after: 4_000_000_000,
            spki: signer.spki().to_vec(),
            extensions: vec![ext::basic_constraints(true, None)],
        };
        let der = build_certificate(&template, &signer).expect("sign a certificate on the token");
        let dir = tempfile::tempdir().expect("tempdir");
        let pem = dir.path().join("root.pem");
        std::fs::write(&pem, to_pem(&der)).expect("write");
        let out = Command::new("openssl")
            .args(["verify", "-check_ss_sig", "-CAfile"])
            .arg(&pem)
            .arg(&pem)
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "openssl verify: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_label_is_never_generated_twice() {
    let Some(token) = softhsm::token() else { return };
    let label = softhsm::fresh_label("twice");
    keys::generate(&token, &label, EcCurve::P256).expect("first");
    let error = keys::generate(&token, &label, EcCurve::P256).expect_err("second");
    assert!(format!("{error:#}").contains("already holds"), "{error:#}");
}

#[test]
fn a_missing_key_or_token_fails_at_open_not_at_first_use() {
    let Some(token) = softhsm::token() else { return };
    assert!(Pkcs11Signer::open(token, "no-such-key").is_err());
    let Some(config) = softhsm::config() else { return };
    let wrong = HsmConfig { token_label: "no-such-token".into(), ..config.clone() };
    assert!(Token::open(wrong).is_err());
    let no_module = HsmConfig { module: "/nonexistent/libpkcs11.so".into(), ..config };
    assert!(Token::open(no_module).is_err());
}

#[test]
fn more_threads_than_sessions_share_the_pool() {
    let Some(config) = softhsm::config() else { return };
    let token = Arc::new(Token::open(HsmConfig { sessions: Some(2), ..config }).expect("open"));
    assert_eq!(token.capacity(), 2);
    let label = softhsm::fresh_label("pool");
    keys::generate(&token, &label, EcCurve::P256).expect("generate");
    let signer = Arc::new(Pkcs11Signer::open(token, &label).expect("open"));
    std::thread::scope(|scope| {
        for t in 0..6u8 {
            let signer = signer.clone();
            scope.spawn(move || {
                for i in 0..100u8 {
                    let message = [t, i];
                    let signature = signer.sign(&message).expect("sign");
                    verify(&signer, &message, &signature);
                }
            });
        }
    });
}
