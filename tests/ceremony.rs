//! The key ceremony on SoftHSM2: `cartorio ceremony` makes a root and an
//! issuing CA with keys inside the token (and the OCSP responder's key too),
//! then `cartorio up` runs on that hierarchy: issued certificates chain to
//! the new root, `openssl ocsp` verifies responses signed on the token, the
//! CRL verifies, `cartorio keys list` shows the keys, and the audit log
//! (ceremony included) verifies.

mod common;

use common::*;
use std::process::Command;

struct Token {
    module: String,
    label: String,
}

/// The test token is SoftHSM2's file store. Two `cartorio` processes
/// creating keys on it while a third opens it once left the third unable to
/// list its slots (`C_GetSlotList`: CKR_GENERAL_ERROR, in a CI run at
/// dd4dc67): the tests that run processes against it take turns.
static TOKEN_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The token, and this test's turn on it.
fn token() -> Option<(Token, std::sync::MutexGuard<'static, ()>)> {
    match (std::env::var("CARTORIO_TEST_PKCS11_MODULE"), std::env::var("CARTORIO_TEST_HSM_TOKEN")) {
        (Ok(module), Ok(label)) => {
            let turn = TOKEN_TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Some((Token { module, label }, turn))
        }
        _ => {
            eprintln!("SKIPPED: no SoftHSM2 token; run scripts/test.sh, which creates one");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{nanos}")
}

#[test]
fn a_ceremony_makes_an_hsm_backed_ca_that_up_serves() {
    let Some((token, _turn)) = token() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let (root_label, issuer_label, ocsp_label) = (unique("root"), unique("issuer"), unique("ocsp"));
    let config = tmp.path().join("ceremony.toml");
    std::fs::write(
        &config,
        format!(
            r#"
data_dir = "{data}"
organization = "Ceremony Test"

[hsm]
module = "{module}"
token_label = "{label}"
pin_env = "CARTORIO_TEST_HSM_PIN"

[root]
key_label = "{root_label}"
curve = "p384"
common_name = "Ceremony Test Root"
lifetime_days = 7300

[issuer]
key_label = "{issuer_label}"
common_name = "Ceremony Test Issuing CA"
lifetime_days = 3650

[ocsp]
key_label = "{ocsp_label}"
common_name = "Ceremony Test OCSP"
lifetime_days = 30

[tsa]
common_name = "Ceremony Test TSA"
lifetime_days = 365
"#,
            data = data.display(),
            module = token.module,
            label = token.label,
        ),
    )
    .expect("write ceremony.toml");
    let out = run(Command::new(BIN).args(["ceremony", "--config"]).arg(&config));
    assert!(out.status.success(), "cartorio ceremony: {}", text(&out));
    // Never twice on the same directory.
    let again = run(Command::new(BIN).args(["ceremony", "--config"]).arg(&config));
    assert!(!again.status.success() && text(&again).contains("never replaces"), "{}", text(&again));

    let pki = data.join("pki");
    for key in ["root", "issuer", "ocsp"] {
        assert!(!pki.join(format!("{key}-key.pk8")).exists(), "{key} has no software key");
    }
    let subject = text(&run(Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(pki.join("root.pem"))));
    assert!(subject.contains("Ceremony Test Root"), "{subject}");
    let listed = text(&run(Command::new(BIN).args(["keys", "list", "--data-dir"]).arg(&data)));
    for label in [&root_label, &issuer_label, &ocsp_label] {
        assert!(listed.contains(label.as_str()), "{label} listed: {listed}");
    }
    assert!(listed.contains(&format!("{root_label}\tp384")), "{listed}");

    // The root goes offline: `up` must not need its key once the issuing CA exists.
    let binding = std::fs::read_to_string(pki.join("hsm.toml")).expect("hsm.toml");
    let online: String =
        binding.lines().filter(|l| !l.starts_with("root ")).map(|l| format!("{l}\n")).collect();
    assert_ne!(online, binding, "the root was bound: {binding}");
    std::fs::write(pki.join("hsm.toml"), online).expect("hsm.toml");
    let up = Up::start(&data);
    let (cert, serial) = issue(&data, &make_csr(tmp.path(), "leaf", "leaf.example.test"));
    let chain = tmp.path().join("chain.pem");
    std::fs::copy(pki.join("issuer.pem"), &chain).expect("copy");
    let verified = text(&run(Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(pki.join("root.pem"))
        .arg("-untrusted")
        .arg(&chain)
        .arg(&cert)));
    assert!(verified.contains(": OK"), "{verified}");

    // The response is signed on the token by the delegated responder.
    let answer = ocsp_until(&up.ocsp_url(), &pki, &cert, "good", &[], std::time::Duration::from_secs(20));
    assert!(answer.contains("Response verify OK"), "{answer}");
    assert_eq!(status_of(&answer, &cert).as_deref(), Some("good"), "{answer}");

    let revoked = run(Command::new(BIN).args(["revoke", "--data-dir"]).arg(&data).args([
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
    ]));
    assert!(revoked.status.success(), "{}", text(&revoked));
    let crl = tmp.path().join("issuer.crl");
    let made = run(Command::new(BIN).args(["crl", "--data-dir"]).arg(&data).arg("--out").arg(&crl));
    assert!(made.status.success(), "{}", text(&made));
    let full_chain = ca_chain_file(&pki, &tmp.path().join("full-chain.pem"));
    let shown = openssl_crl(&crl, &full_chain, "PEM");
    assert!(shown.contains("verify OK") && shown.contains("Key Compromise"), "{shown}");
    assert!(up.stop(), "clean shutdown");

    let audit = run(Command::new(BIN).args(["audit", "verify", "--data-dir"]).arg(&data));
    assert!(audit.status.success(), "{}", text(&audit));
}

/// A ceremony with several issuing CAs: `tls` on the token, `documents`
/// with a software key; `up` serves both, and the document-signing
/// built-in issues from `documents`.
#[test]
fn a_ceremony_defines_several_issuing_cas() {
    let Some((token, _turn)) = token() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let (root_label, tls_label) = (unique("root"), unique("tls"));
    let config = tmp.path().join("ceremony.toml");
    std::fs::write(
        &config,
        format!(
            r#"
data_dir = "{data}"
organization = "Ceremony Test"

[hsm]
module = "{module}"
token_label = "{label}"
pin_env = "CARTORIO_TEST_HSM_PIN"

[root]
key_label = "{root_label}"
common_name = "Ceremony Test Root"
lifetime_days = 7300

[issuers.tls]
key_label = "{tls_label}"
common_name = "Ceremony Test TLS CA"
lifetime_days = 3650
ocsp = {{ common_name = "Ceremony Test TLS OCSP", lifetime_days = 30 }}

[issuers.documents]
common_name = "Ceremony Test Document Signing CA"
lifetime_days = 3650
ocsp = {{ common_name = "Ceremony Test Documents OCSP", lifetime_days = 30 }}

[tsa]
common_name = "Ceremony Test TSA"
lifetime_days = 365
"#,
            data = data.display(),
            module = token.module,
            label = token.label,
        ),
    )
    .expect("write ceremony.toml");
    let out = run(Command::new(BIN).args(["ceremony", "--config"]).arg(&config));
    assert!(out.status.success(), "cartorio ceremony: {}", text(&out));
    let pki = data.join("pki");
    assert!(!pki.join("issuer-key.pk8").exists(), "the tls CA's key is on the token");
    assert!(pki.join("issuers/documents-key.pk8").exists(), "the documents CA's key is in software");
    let issuer = text(&run(Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-issuer", "-in"])
        .arg(pki.join("issuers/documents.pem"))));
    assert!(
        issuer.contains("Ceremony Test Document Signing CA") && issuer.contains("Ceremony Test Root"),
        "{issuer}"
    );

    let up = Up::start(&data);
    let key = tmp.path().join("doc.key");
    let csr = tmp.path().join("doc.csr");
    let made = run(Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .args(["-subj", "/CN=Notary Clerk"]));
    assert!(made.status.success(), "{}", text(&made));
    let cert = tmp.path().join("doc.pem");
    let out = run(Command::new(BIN)
        .args(["issue", "--data-dir"])
        .arg(&data)
        .arg("--csr")
        .arg(&csr)
        .args(["--profile", "document-signing", "--out"])
        .arg(&cert));
    assert!(out.status.success(), "{}", text(&out));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let answer = loop {
        let answer = text(&run(Command::new("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(pki.join("issuers/documents.pem"))
            .arg("-cert")
            .arg(&cert)
            .args(["-url", &up.ocsp_url(), "-CAfile"])
            .arg(pki.join("root.pem"))));
        if answer.contains(": good") || std::time::Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(answer.contains(": good") && answer.contains("Response verify OK"), "{answer}");
    assert!(up.stop());
}
