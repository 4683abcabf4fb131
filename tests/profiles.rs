//! Every built-in profile through the real binary: certificates from the
//! `tls` and `documents` CAs that `openssl verify -crl_check` (with the CRL
//! fetched from the certificate's own CRLDP URL) and `openssl ocsp` accept;
//! requests that break a profile refused with the rule named (exit 2, HTTP
//! 400) and audited; a revocation in the published CRL within 60 s.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A key and CSR made by openssl with `subject` and `extra` arguments.
fn csr(dir: &Path, name: &str, key: &[&str], subject: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(format!("{name}.csr"));
    let out = run(Command::new("openssl")
        .args(["req", "-new", "-newkey"])
        .args(key)
        .args(["-nodes", "-keyout"])
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(&path)
        .args(["-subj", subject])
        .args(extra));
    assert!(out.status.success(), "openssl req: {}", text(&out));
    path
}

const P256: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

fn issue_with(data: &Path, csr: &Path, profile: &str) -> (std::process::Output, PathBuf) {
    let cert = csr.with_extension("pem");
    let out = run(Command::new(BIN)
        .args(["issue", "--data-dir"])
        .arg(data)
        .arg("--csr")
        .arg(csr)
        .args(["--profile", profile, "--out"])
        .arg(&cert));
    (out, cert)
}

fn x509_text(cert: &Path) -> String {
    text(&run(Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(cert)))
}

/// The URI after `label` in `openssl x509 -text` output.
fn uri_after(shown: &str, label: &str) -> Option<String> {
    let at = shown.find(label)?;
    let rest = &shown[at..];
    let uri = rest.find("URI:")?;
    Some(rest[uri + 4..].lines().next()?.trim().to_owned())
}

/// GETs `url` with curl into `out`.
fn fetch(url: &str, out: &Path) -> u16 {
    let done = run(Command::new("curl").args(["-s", "-o"]).arg(out).args(["-w", "%{http_code}", url]));
    text(&done).trim().parse().unwrap_or(0)
}

/// `openssl verify -crl_check` of `cert` with the CRL from its own CRLDP
/// URL and its issuer from its AIA caIssuers URL.
fn verify_with_fetched_crl(dir: &Path, root: &Path, cert: &Path) -> String {
    let shown = x509_text(cert);
    let crl_url = uri_after(&shown, "CRL Distribution Points").expect("a CRLDP URL");
    let ca_url = uri_after(&shown, "CA Issuers").expect("a caIssuers URL");
    let (crl_der, ca_der) = (dir.join("fetched.crl"), dir.join("fetched.cer"));
    assert_eq!(fetch(&crl_url, &crl_der), 200, "{crl_url}");
    assert_eq!(fetch(&ca_url, &ca_der), 200, "{ca_url}");
    assert_der(&crl_url, &std::fs::read(&crl_der).expect("crl"));
    let (crl_pem, ca_pem) = (dir.join("fetched-crl.pem"), dir.join("fetched-ca.pem"));
    for (args, from, to) in
        [(["crl", "-inform", "DER"], &crl_der, &crl_pem), (["x509", "-inform", "DER"], &ca_der, &ca_pem)]
    {
        let out = run(Command::new("openssl").args(args).arg("-in").arg(from).arg("-out").arg(to));
        assert!(out.status.success(), "{}", text(&out));
    }
    text(&run(Command::new("openssl")
        .args(["verify", "-crl_check", "-CAfile"])
        .arg(root)
        .arg("-untrusted")
        .arg(&ca_pem)
        .arg("-CRLfile")
        .arg(&crl_pem)
        .arg(cert)))
}

fn ocsp_status(up: &Up, issuer: &Path, cert: &Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = text(&run(Command::new("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(issuer)
            .arg("-cert")
            .arg(cert)
            .args(["-url", &up.ocsp_url(), "-CAfile"])
            .arg(up.pki("root.pem"))));
        if status_of(&out, cert).as_deref() == Some(want) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_profile_issues_what_openssl_verifies_and_refuses_what_breaks_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let data = d.join("data");
    let up = Up::start(&data);
    let pki = data.join("pki");
    let root = pki.join("root.pem");
    let email = |addr: &str| format!("subjectAltName=email:{addr}");
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "server",
            "/CN=web.example.test",
            "subjectAltName=DNS:web.example.test,DNS:www.example.test".into(),
            "tls",
        ),
        ("client", "/CN=alice/O=Example", email("alice@example.test"), "tls"),
        ("document-signing", "/CN=Maria Silva/C=BR", email("maria@example.test"), "documents"),
        ("code-signing", "/CN=Example Software/O=Example", String::new(), "documents"),
        ("smime", "/CN=Bob", email("bob@example.test"), "documents"),
        ("tsa", "/CN=Example TSA/O=Example", String::new(), "tls"),
    ];
    for (profile, subject, san, issuer) in &cases {
        let extra: Vec<&str> = if san.is_empty() { vec![] } else { vec!["-addext", san] };
        let request = csr(d, profile, P256, subject, &extra);
        let (out, cert) = issue_with(&data, &request, profile);
        assert!(out.status.success(), "{profile}: {}", text(&out));
        assert_der_pem(&cert);
        let issuer_pem = match *issuer {
            "tls" => pki.join("issuer.pem"),
            other => pki.join(format!("issuers/{other}.pem")),
        };
        let verified = verify_with_fetched_crl(d, &root, &cert);
        assert!(verified.contains(": OK"), "{profile}: {verified}");
        let out = ocsp_status(&up, &issuer_pem, &cert, "good");
        assert!(out.contains("Response verify OK"), "{profile}: {out}");
        println!("{profile} ({issuer}): openssl verify -crl_check OK, OCSP good");
    }

    // Short-lived: no revocation pointers, noRevAvail, six days.
    let request = csr(
        d,
        "short",
        P256,
        "/CN=short.example.test",
        &["-addext", "subjectAltName=DNS:short.example.test"],
    );
    let (out, cert) = issue_with(&data, &request, "short-lived");
    assert!(out.status.success(), "{}", text(&out));
    let shown = x509_text(&cert);
    let no_rev_avail = shown.contains("No Revocation Available") || shown.contains("2.5.29.56");
    assert!(no_rev_avail && !shown.contains("CRL Distribution") && !shown.contains("OCSP - URI"), "{shown}");
    let dates =
        text(&run(Command::new("openssl").args(["x509", "-noout", "-checkend", "518400", "-in"]).arg(&cert)));
    assert!(dates.contains("will expire"), "at most six days: {dates}");
    let verified = text(&run(Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&root)
        .arg("-untrusted")
        .arg(pki.join("issuer.pem"))
        .arg(&cert)));
    assert!(verified.contains(": OK"), "{verified}");

    // Requests that break their profile: refused, the rule named, exit 2.
    let refusals: Vec<(&str, PathBuf, &str)> = vec![
        ("server", csr(d, "nosan", P256, "/CN=Jane Doe", &[]), "san.required"),
        (
            "server",
            csr(
                d,
                "ed",
                &["ed25519"],
                "/CN=ed.example.test",
                &["-addext", "subjectAltName=DNS:ed.example.test"],
            ),
            "key_types",
        ),
        (
            "server",
            csr(d, "cn", P256, "/CN=a.example.test", &["-addext", "subjectAltName=DNS:b.example.test"]),
            "san.common_name_in_san",
        ),
        (
            "document-signing",
            csr(d, "dns", P256, "/CN=Maria", &["-addext", "subjectAltName=DNS:maria.example.test"]),
            "san.types",
        ),
        ("smime", csr(d, "noemail", P256, "/CN=Bob", &[]), "san.required"),
        ("code-signing", csr(d, "nocn", P256, "/O=Example", &[]), "subject.required"),
    ];
    for (profile, request, rule) in &refusals {
        let (out, _) = issue_with(&data, request, profile);
        assert_eq!(out.status.code(), Some(2), "{profile} {rule}: {}", text(&out));
        assert!(text(&out).contains(rule), "{profile}: {}", text(&out));
    }
    // The admin API says the same as a problem body.
    let token = std::fs::read_to_string(data.join("control/admin-token")).expect("token");
    let body = std::fs::read(&refusals[0].1).expect("csr");
    let head = format!(
        "POST /v1/certificates?profile=server HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/pkcs10\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        token.trim(),
        body.len()
    );
    let (status, _, reply) = http(&up.control, &head, &body);
    let problem: serde_json::Value = serde_json::from_slice(&reply).expect("problem JSON");
    assert_eq!(
        (status, problem["reason"].as_str(), problem["rule"].as_str()),
        (400, Some("profile_violation"), Some("san.required"))
    );

    // A revoked document-signing certificate: in the published CRL within
    // 60 s (here about a second), and openssl refuses it for that reason.
    let doc = d.join("document-signing.pem");
    let serial = serial_of(&doc);
    let started = Instant::now();
    revoke(&data, &serial, "keyCompromise");
    let crl = d.join("documents.crl");
    let crl_url = format!("http://{}/crl/documents.crl", up.responder);
    loop {
        assert_eq!(fetch(&crl_url, &crl), 200);
        let shown = text(&run(Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&crl)));
        if shown.to_ascii_uppercase().contains(&serial.to_ascii_uppercase()) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not in the CRL after 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("revocation in the published CRL after {:?}", started.elapsed());
    let verified = verify_with_fetched_crl(d, &root, &doc);
    assert!(verified.contains("certificate revoked"), "{verified}");
    let out = ocsp_status(&up, &pki.join("issuers/documents.pem"), &doc, "revoked");
    assert!(out.contains("Reason: keyCompromise"), "{out}");
    assert!(up.stop());

    let refused = run(Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys\nprint(len(sqlite3.connect(sys.argv[1]).execute(\"SELECT 1 FROM audit_log WHERE kind = 'certificate.refuse'\").fetchall()))")
        .arg(data.join("registry.db")));
    assert_eq!(text(&refused).trim(), (refusals.len() + 1).to_string(), "every refusal audited");
}
