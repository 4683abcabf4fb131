//! The admin API over TLS with client certificates (`[admin_tls]`): a
//! certificate from the client CA whose CN is mapped to a role gets that
//! role; an unmapped or absent certificate falls back to bearer tokens;
//! every attempt is audited, and the log still verifies.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn openssl(args: &[&str], dir: &Path) {
    let out = run(Command::new("openssl").args(args).current_dir(dir));
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// A CA, a server certificate for 127.0.0.1 and client certificates.
fn make_pki(dir: &Path, clients: &[&str]) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Admin Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    );
    let mut leaves =
        vec![("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")];
    for client in clients {
        leaves.push((client, client, "extendedKeyUsage=clientAuth\n"));
    }
    for (name, cn, ext) in leaves {
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext");
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ],
            dir,
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &format!("{name}.ext"),
            ],
            dir,
        );
    }
}

/// `curl` over TLS with `client`'s certificate (or none) and an optional
/// bearer token; returns the HTTP status.
fn call(
    pki: &Path,
    port: u16,
    method: &str,
    path: &str,
    client: Option<&str>,
    token: Option<&str>,
    body: Option<&Path>,
) -> u16 {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "--cacert"])
        .arg(pki.join("ca.pem"));
    if let Some(client) = client {
        cmd.arg("--cert")
            .arg(pki.join(format!("{client}.pem")))
            .arg("--key")
            .arg(pki.join(format!("{client}.key")));
    }
    if let Some(token) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(body) = body {
        cmd.arg("--data-binary")
            .arg(format!("@{}", body.display()))
            .args(["-H", "Content-Type: application/pkcs10"]);
    }
    cmd.arg(format!("https://127.0.0.1:{port}{path}"));
    text(&run(&mut cmd)).trim().parse().unwrap_or(0)
}

#[test]
fn client_certificates_authenticate_by_role_and_are_audited() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).expect("pki dir");
    make_pki(&pki, &["ops-alice", "audit-bob", "stranger"]);
    let data = tmp.path().join("data");
    let port = free_port();
    let config = tmp.path().join("control.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
ocsp_url = "http://127.0.0.1:8080"

[admin_tls]
cert = "{pki}/server.pem"
key = "{pki}/server.key"
client_ca = "{pki}/ca.pem"

[admin_tls.client_roles]
"ops-alice" = "admin"
"audit-bob" = "auditor"
"#,
            data = data.display(),
            pki = pki.display()
        ),
    )
    .expect("config");
    let _control = Alone(
        Command::new(BIN)
            .args(["control", "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(tmp.path().join("control.log")).expect("log"))
            .spawn()
            .expect("start control"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(&pki, port, "GET", "/healthz", None, None, None) != 200 {
        assert!(Instant::now() < deadline, "the control plane did not come up over TLS");
        std::thread::sleep(Duration::from_millis(100));
    }
    let csr = make_csr(tmp.path(), "leaf", "leaf.example.test");

    assert_eq!(
        call(&pki, port, "POST", "/v1/certificates?profile=server", Some("ops-alice"), None, Some(&csr)),
        201
    );
    assert_eq!(call(&pki, port, "GET", "/v1/audit/verify", Some("audit-bob"), None, None), 200);
    assert_eq!(
        call(&pki, port, "POST", "/v1/certificates?profile=server", Some("audit-bob"), None, Some(&csr)),
        403,
        "an auditor may not issue"
    );
    // A refusal is read by the client even while it is still uploading: the
    // server reads the body (bounded) before answering, so its close does not
    // reset the connection under the answer.
    let upload = tmp.path().join("upload.bin");
    std::fs::write(&upload, vec![b'A'; 60 * 1024]).expect("upload");
    for _ in 0..10 {
        assert_eq!(
            call(
                &pki,
                port,
                "POST",
                "/v1/certificates?profile=server",
                Some("audit-bob"),
                None,
                Some(&upload)
            ),
            403
        );
        assert_eq!(
            call(&pki, port, "POST", "/v1/certificates?profile=server", None, None, Some(&upload)),
            401
        );
    }
    assert_eq!(call(&pki, port, "GET", "/v1/crl", Some("stranger"), None, None), 401, "no role for that CN");
    assert_eq!(call(&pki, port, "GET", "/v1/crl", None, None, None), 401, "nothing presented");

    // Without a certificate (or with an unmapped one), a bearer token still works.
    let token =
        std::fs::read_to_string(data.join("control/admin-token")).expect("the admin token").trim().to_owned();
    assert_eq!(call(&pki, port, "GET", "/v1/crl", None, Some(&token), None), 200);
    assert_eq!(call(&pki, port, "GET", "/v1/crl", Some("stranger"), Some(&token), None), 200);

    // Plain HTTP is not served on the TLS port.
    let (status, _, _) = http(
        &format!("127.0.0.1:{port}"),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_ne!(status, 200);

    let audit = run(Command::new(BIN).args(["audit", "verify", "--data-dir"]).arg(&data));
    assert!(audit.status.success(), "{}", text(&audit));
}
