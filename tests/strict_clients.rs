//! Strict verifiers, as relying parties built on strict DER decoders run
//! them (rust-asn1: sigstore's rfc3161-client and pyca/cryptography; see
//! tests/python/strict_clients.py): time-stamp replies with and without
//! certReq and nonce, certificates, OCSP responses and CRLs, each also
//! through the DER checker of `cartorio-testkit`.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/strict_clients.py");

/// Runs a subcommand of the strict-clients script; fails the test with its
/// output unless it succeeds.
fn strict(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let mut command = Command::new("python3");
    command.arg(SCRIPT);
    for arg in args {
        command.arg(arg);
    }
    let out = run(&mut command);
    assert!(
        out.status.success(),
        "strict client refused ({}); scripts/test.sh installs rfc3161-client in its virtualenv:\n{}",
        args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect::<Vec<_>>().join(" "),
        text(&out)
    );
    text(&out)
}

#[test]
fn strict_der_clients_accept_every_token_certificate_response_and_crl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start_with(&data, &["--danger-tsa-trust-system-clock"]);
    let pki = data.join("pki");
    let url = format!("http://{}/tsa", up.responder);

    for hash in ["SHA256", "SHA512"] {
        for cert_req in ["true", "false"] {
            for nonce in ["true", "false"] {
                let out = strict(&[
                    &"tsa",
                    &url,
                    &pki.join("root.pem"),
                    &pki.join("tsa-chain.pem"),
                    &hash,
                    &cert_req,
                    &nonce,
                ]);
                println!("{hash} certReq={cert_req} nonce={nonce}: {}", out.trim());
            }
        }
    }

    let (cert, serial) = issue(&data, &make_csr(tmp.path(), "leaf", "leaf.example.test"));
    let files = ["root.pem", "chain.pem", "ocsp.pem", "tsa-chain.pem", "responder-tls-chain.pem"];
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"cert"];
    let paths: Vec<_> = files.iter().map(|f| pki.join(f)).collect();
    args.extend(paths.iter().map(|p| p as &dyn AsRef<std::ffi::OsStr>));
    args.push(&cert);
    println!("{}", strict(&args));

    let out = ocsp_until(&up.ocsp_url(), &pki, &cert, "good", &["-no_nonce"], Duration::from_secs(20));
    assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "{out}");
    check_ocsp(&up, &pki, &cert, tmp.path(), "GOOD");

    revoke(&data, &serial, "keyCompromise");
    let out = ocsp_until(&up.ocsp_url(), &pki, &cert, "revoked", &["-no_nonce"], Duration::from_secs(20));
    assert_eq!(status_of(&out, &cert).as_deref(), Some("revoked"), "{out}");
    check_ocsp(&up, &pki, &cert, tmp.path(), "REVOKED");

    let crl = published_crl_with_entries(&data.join("store/crl"));
    assert_der("the published CRL", &std::fs::read(&crl).expect("crl"));
    let out = strict(&[&"crl", &crl, &pki.join("issuer.pem")]);
    assert!(out.contains("CRL verified: 1 entries"), "{out}");
    assert!(up.stop());
}

/// Fetches the response for `cert` with openssl (both CertID hashes) and
/// has the strict client parse and verify it.
fn check_ocsp(up: &Up, pki: &Path, cert: &Path, dir: &Path, want: &str) {
    for digest in ["-sha1", "-sha256"] {
        let response = dir.join(format!("{want}{digest}.der"));
        let out = run(Command::new("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(pki.join("issuer.pem"))
            .arg(digest)
            .arg("-cert")
            .arg(cert)
            .args(["-url", &up.ocsp_url(), "-respout"])
            .arg(&response)
            .arg("-CAfile")
            .arg(pki.join("root.pem")));
        assert!(text(&out).contains("Response verify OK"), "{}", text(&out));
        assert_der("an OCSP response", &std::fs::read(&response).expect("response"));
        let out = strict(&[&"ocsp", &response, &pki.join("issuer.pem")]);
        assert!(out.contains(&format!("OCSP verified: {want}")), "{out}");
    }
}

/// The full CRL the pre-signer published, once it lists a revocation.
fn published_crl_with_entries(dir: &Path) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).find(|p| {
            p.extension().is_some_and(|e| e == "crl")
                && std::fs::read(p).is_ok_and(|der| der.windows(3).any(|w| w == [0x0a, 0x01, 0x01]))
        });
        if let Some(path) = found {
            return path;
        }
        assert!(Instant::now() < deadline, "no CRL listing the revocation in {}", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}
