//! ACME with the real clients, unchanged: certbot (standalone http-01) and
//! lego (http-01 with external account binding, tls-alpn-01, dns-01 with a
//! wildcard through pebble-challtestsrv's DNS server) get certificates for
//! two names from `up`'s ACME server, renew and revoke them. What they get
//! verifies to the root with openssl; OCSP says good, then revoked within
//! 2 s of the ACME revocation; the audit log names the ACME account.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The ports validation connects to, and the DNS server's.
struct Ports {
    http: u16,
    tls: u16,
    dns: u16,
    dns_management: u16,
}

fn ports() -> Ports {
    Ports { http: free_port(), tls: free_port(), dns: free_port(), dns_management: free_port() }
}

fn start_up(data: &Path, ports: &Ports, extra: &[&str]) -> Up {
    let (http, tls, dns) =
        (ports.http.to_string(), ports.tls.to_string(), format!("127.0.0.1:{}", ports.dns));
    let mut args = vec!["--acme-resolve", "127.0.0.1", "--acme-http-port", &http, "--acme-tls-port", &tls];
    args.extend(["--acme-dns-server", &dns]);
    args.extend(extra);
    Up::start_with(data, &args)
}

fn ok(out: &Output, what: &str) -> String {
    let all = format!("{}{}", text(out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{all}");
    all
}

fn verify_to_root(up: &Up, leaf: &Path, chain: &Path) {
    let out = run(Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(up.pki("root.pem"))
        .arg("-untrusted")
        .arg(chain)
        .arg(leaf));
    assert!(text(&out).contains(": OK"), "openssl verify: {}", text(&out));
}

/// `openssl ocsp` until it says `want`; how long that took.
fn ocsp_becomes(up: &Up, cert: &Path, want: &str) -> Duration {
    let started = Instant::now();
    let out = ocsp_until(&up.ocsp_url(), &up.dir.join("pki"), cert, want, &[], Duration::from_secs(5));
    assert_eq!(status_of(&out, cert).as_deref(), Some(want), "OCSP for {}: {out}", cert.display());
    started.elapsed()
}

/// Audit entries of `kind` by the ACME server that name an account.
fn acme_audit_entries(data: &Path, kind: &str) -> usize {
    let out = run(Command::new("python3").arg("-c").arg(
        "import sqlite3, sys, json\n\
         rows = sqlite3.connect(sys.argv[1]).execute('SELECT actor, detail FROM audit_log WHERE kind = ?', (sys.argv[2],))\n\
         print(sum(1 for actor, detail in rows if actor == 'acme' and json.loads(detail).get('account')))",
    ).arg(data.join("registry.db")).arg(kind));
    text(&out).trim().parse().unwrap_or(0)
}

fn certbot(up: &Up, work: &Path, args: &[&str]) -> Output {
    run(Command::new("certbot")
        .args(args)
        .args(["--non-interactive", "--server", &up.acme])
        .arg("--config-dir")
        .arg(work.join("conf"))
        .arg("--work-dir")
        .arg(work.join("work"))
        .arg("--logs-dir")
        .arg(work.join("logs"))
        .env("REQUESTS_CA_BUNDLE", up.pki("root.pem")))
}

#[test]
fn certbot_gets_renews_and_revokes_a_certificate_for_two_names() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (data, work) = (tmp.path().join("data"), tmp.path().join("certbot"));
    let ports = ports();
    let up = start_up(&data, &ports, &[]);
    let port = ports.http.to_string();

    let out = certbot(
        &up,
        &work,
        &[
            "certonly",
            "--standalone",
            "--agree-tos",
            "--register-unsafely-without-email",
            "--http-01-address",
            "127.0.0.1",
            "--http-01-port",
            &port,
            "-d",
            "www.certbot.example",
            "-d",
            "api.certbot.example",
        ],
    );
    ok(&out, "certbot certonly");
    let live = work.join("conf/live/www.certbot.example");
    let (cert, chain) = (live.join("cert.pem"), live.join("chain.pem"));
    verify_to_root(&up, &cert, &chain);
    assert_der_pem(&cert);
    let names = text(&run(Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&cert)));
    assert!(
        names.contains("DNS:www.certbot.example") && names.contains("DNS:api.certbot.example"),
        "{names}"
    );
    ocsp_becomes(&up, &cert, "good");
    let first = serial_of(&cert);

    let out = certbot(
        &up,
        &work,
        &["renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", "www.certbot.example"],
    );
    ok(&out, "certbot renew");
    let renewed = serial_of(&cert);
    assert_ne!(first, renewed, "renewal gives a new certificate");
    verify_to_root(&up, &cert, &chain);

    let out = certbot(
        &up,
        &work,
        &[
            "revoke",
            "--cert-path",
            cert.to_str().expect("path"),
            "--reason",
            "keycompromise",
            "--no-delete-after-revoke",
        ],
    );
    ok(&out, "certbot revoke");
    let took = ocsp_becomes(&up, &cert, "revoked");
    println!("certbot: revoked in OCSP {took:?} after the ACME revocation");
    assert!(took < Duration::from_secs(2), "OCSP said revoked only after {took:?}");
    assert_eq!(acme_audit_entries(&data, "certificate.issue"), 2, "both issuances audited with the account");
    assert_eq!(acme_audit_entries(&data, "certificate.revoke"), 1);
}

fn lego(up: &Up, path: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    run(Command::new("lego")
        .args(["--server", &up.acme, "--accept-tos", "--email", "ops@lego.example", "--path"])
        .arg(path)
        .args(args)
        .env("LEGO_CA_CERTIFICATES", up.pki("root.pem"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str()))))
}

/// pebble-challtestsrv as the DNS server validation asks (TXT records set
/// through its management API), until dropped.
fn start_dns(ports: &Ports) -> Alone {
    let child = Command::new("pebble-challtestsrv")
        .args(["-dns01", &format!("127.0.0.1:{}", ports.dns)])
        .args(["-management", &format!("127.0.0.1:{}", ports.dns_management)])
        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("pebble-challtestsrv (Debian package pebble)");
    let alone = Alone(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", ports.dns_management)).is_err() {
        assert!(Instant::now() < deadline, "pebble-challtestsrv did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    alone
}

#[test]
fn lego_gets_certificates_by_http_tls_alpn_and_dns_then_renews_and_revokes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (data, path) = (tmp.path().join("data"), tmp.path().join("lego"));
    let ports = ports();
    let _dns = start_dns(&ports);
    let up = start_up(&data, &ports, &[]);
    let http = format!("127.0.0.1:{}", ports.http);
    let tls = format!("127.0.0.1:{}", ports.tls);

    // Registration with an external account binding the operator made.
    let eab = ok(
        &run(Command::new(BIN).args(["acme", "eab", "create", "--kid", "lego-ops", "--data-dir"]).arg(&data)),
        "eab create",
    );
    let hmac = eab.lines().find_map(|l| l.strip_prefix("hmac_key")).expect("hmac key").trim().to_owned();
    let out = lego(
        &up,
        &path,
        &[
            "--eab",
            "--kid",
            "lego-ops",
            "--hmac",
            &hmac,
            "--domains",
            "www.lego.example",
            "--domains",
            "api.lego.example",
            "--http",
            "--http.port",
            &http,
            "run",
        ],
        &[],
    );
    ok(&out, "lego run (http-01, EAB)");
    let certs = path.join("certificates");
    let (cert, issuer) = (certs.join("www.lego.example.crt"), certs.join("www.lego.example.issuer.crt"));
    verify_to_root(&up, &cert, &issuer);
    ocsp_becomes(&up, &cert, "good");

    let out = lego(&up, &path, &["--domains", "tls.lego.example", "--tls", "--tls.port", &tls, "run"], &[]);
    ok(&out, "lego run (tls-alpn-01)");
    verify_to_root(&up, &certs.join("tls.lego.example.crt"), &certs.join("tls.lego.example.issuer.crt"));

    // dns-01, with a wildcard (which only dns-01 may prove).
    let script = tmp.path().join("txt.sh");
    std::fs::write(&script, format!(
        "#!/bin/sh\ncase \"$1\" in\n  present) curl -s -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{0}/set-txt ;;\n  cleanup) curl -s -d \"{{\\\"host\\\":\\\"$2\\\"}}\" http://127.0.0.1:{0}/clear-txt ;;\nesac\n",
        ports.dns_management
    )).expect("script");
    run(Command::new("chmod").arg("+x").arg(&script));
    let env = [
        ("EXEC_PATH", script.display().to_string()),
        ("EXEC_POLLING_INTERVAL", "1".to_owned()),
        ("EXEC_PROPAGATION_TIMEOUT", "30".to_owned()),
        // Between the wildcard's and the name's records: lego waits 60 s by default.
        ("EXEC_SEQUENCE_INTERVAL", "1".to_owned()),
    ];
    let resolver = format!("127.0.0.1:{}", ports.dns);
    let out = lego(
        &up,
        &path,
        &[
            "--domains",
            "dns.lego.example",
            "--domains",
            "*.dns.lego.example",
            "--dns",
            "exec",
            "--dns.resolvers",
            &resolver,
            "--dns.disable-cp",
            "run",
        ],
        &env,
    );
    ok(&out, "lego run (dns-01)");
    let wildcard = certs.join("dns.lego.example.crt");
    let names = text(&run(Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&wildcard)));
    assert!(names.contains("DNS:*.dns.lego.example"), "{names}");

    let first = serial_of(&cert);
    let out = lego(
        &up,
        &path,
        &[
            "--domains",
            "www.lego.example",
            "--domains",
            "api.lego.example",
            "--http",
            "--http.port",
            &http,
            "renew",
            "--days",
            "365",
            "--no-random-sleep",
        ],
        &[],
    );
    ok(&out, "lego renew");
    assert_ne!(serial_of(&cert), first, "renewal gives a new certificate");
    verify_to_root(&up, &cert, &issuer);

    let kept = tmp.path().join("revoked.pem");
    std::fs::copy(&cert, &kept).expect("keep the certificate");
    let out = lego(&up, &path, &["--domains", "www.lego.example", "revoke"], &[]);
    ok(&out, "lego revoke");
    let took = ocsp_becomes(&up, &kept, "revoked");
    println!("lego: revoked in OCSP {took:?} after the ACME revocation");
    assert!(took < Duration::from_secs(2), "OCSP said revoked only after {took:?}");
    assert_eq!(acme_audit_entries(&data, "certificate.issue"), 4);
    assert_eq!(acme_audit_entries(&data, "certificate.revoke"), 1);
    let audit = run(Command::new(BIN).args(["audit", "verify", "--data-dir"]).arg(&data));
    assert!(audit.status.success(), "the audit log verifies: {}", text(&audit));
}
