//! Harness for end-to-end tests: starts the real `cartorio` binary on
//! loopback ports chosen by the kernel, and drives it with real clients.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod gateway;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cartorio");

pub struct Up {
    pub child: Child,
    pub dir: PathBuf,
    pub responder: String,
    pub control: String,
    pub gateway: String,
    pub responder_tls: String,
    /// The ACME directory URL.
    pub acme: String,
}

impl Up {
    /// Starts `cartorio up` on `dir` and waits until its listeners answer.
    pub fn start(dir: &Path) -> Up {
        Self::start_with(dir, &[])
    }

    /// As `start`, with extra arguments to `up`.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Up {
        let _ = std::fs::remove_file(dir.join("run/endpoints.json"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("log"))
            .expect("log file");
        let child = Command::new(BIN)
            .args(["up", "--data-dir"])
            .arg(dir)
            .args(["--responder-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0"])
            .args(["--control-listen", "127.0.0.1:0", "--responder-tls-listen", "127.0.0.1:0"])
            .args(["--acme-listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start cartorio up");
        let deadline = Instant::now() + Duration::from_secs(30);
        let endpoints = loop {
            if let Ok(text) = std::fs::read_to_string(dir.join("run/endpoints.json"))
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            {
                break v;
            }
            assert!(
                Instant::now() < deadline,
                "cartorio up did not start; see {}",
                dir.with_extension("log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let get = |k: &str| endpoints[k].as_str().expect("endpoint").to_owned();
        let up = Up {
            child,
            dir: dir.to_owned(),
            responder: get("responder"),
            control: get("control"),
            gateway: get("gateway"),
            responder_tls: get("responder_tls"),
            acme: get("acme"),
        };
        while http(&up.responder, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"").0
            != 200
        {
            assert!(Instant::now() < deadline, "responder never became healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Every certificate Cartorio made for itself is strict DER.
        for file in ["root.pem", "chain.pem", "ocsp.pem", "tsa-chain.pem", "responder-tls-chain.pem"] {
            assert_der_pem(&up.pki(file));
        }
        up
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        self.dir.join("pki").join(file)
    }

    pub fn ocsp_url(&self) -> String {
        format!("http://{}", self.responder)
    }

    /// SIGTERM and wait; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        let status = self.child.wait().expect("wait");
        std::mem::forget(self);
        status.success()
    }

    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A P-256 key and CSR for `cn` made by openssl; returns the CSR path.
pub fn make_csr(dir: &Path, name: &str, cn: &str) -> PathBuf {
    let csr = dir.join(format!("{name}.csr"));
    let out = run(Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout"])
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(&csr)
        .args(["-subj", &format!("/CN={cn}"), "-addext", &format!("subjectAltName=DNS:{cn}")]));
    assert!(out.status.success(), "openssl req: {}", text(&out));
    csr
}

/// `cartorio issue`; returns the certificate path and its serial as openssl prints it.
pub fn issue(data_dir: &Path, csr: &Path) -> (PathBuf, String) {
    let cert = csr.with_extension("pem");
    let out = run(Command::new(BIN)
        .args(["issue", "--data-dir"])
        .arg(data_dir)
        .arg("--csr")
        .arg(csr)
        .args(["--profile", "server", "--out"])
        .arg(&cert));
    assert!(out.status.success(), "cartorio issue: {}", text(&out));
    assert_der_pem(&cert);
    (cert.clone(), serial_of(&cert))
}

/// `cartorio revoke` of `serial` with `reason` (through a running `up`,
/// or on the registry); fails the test unless it succeeds.
pub fn revoke(data_dir: &Path, serial: &str, reason: &str) {
    let out = run(Command::new(BIN)
        .args(["revoke", "--data-dir"])
        .arg(data_dir)
        .args(["--serial", serial, "--reason", reason]));
    assert!(out.status.success(), "cartorio revoke: {}", text(&out));
}

pub fn serial_of(cert: &Path) -> String {
    let out = run(Command::new("openssl").args(["x509", "-noout", "-serial", "-in"]).arg(cert));
    text(&out).trim().trim_start_matches("serial=").to_owned()
}

/// `openssl ocsp` for `cert` against the running responder (POST).
pub fn openssl_ocsp(up: &Up, cert: &Path, extra: &[&str]) -> String {
    openssl_ocsp_at(&up.ocsp_url(), &up.dir.join("pki"), cert, extra)
}

/// `openssl ocsp` for `cert` against the responder at `url`, with the
/// issuer and root of the data directory's `pki`.
/// The response it got is kept and checked as strict DER.
pub fn openssl_ocsp_at(url: &str, pki: &Path, cert: &Path, extra: &[&str]) -> String {
    let response = scratch_file("ocsp-response.der");
    let out = run(Command::new("openssl")
        .args(["ocsp", "-issuer"])
        .arg(pki.join("issuer.pem"))
        .arg("-cert")
        .arg(cert)
        .args(["-url", url, "-CAfile"])
        .arg(pki.join("root.pem"))
        .arg("-respout")
        .arg(&response)
        .args(extra));
    if let Ok(der) = std::fs::read(&response) {
        assert_der(&format!("the OCSP response for {}", cert.display()), &der);
        let _ = std::fs::remove_file(&response);
    }
    text(&out)
}

/// A path for a file of this process's own under the system's temporary
/// directory (unique per call; tests run in parallel threads).
pub fn scratch_file(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("cartorio-{}-{n}-{name}", std::process::id()))
}

/// Fails the test unless `der` is canonical DER (see `cartorio_testkit::der`).
pub fn assert_der(label: &str, der: &[u8]) {
    cartorio_testkit::der::assert_der(label, der);
}

/// The DER of every PEM block in `path`.
pub fn pem_blocks(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pem_text_blocks(&text)
}

/// The DER of every PEM block in `text` (LF or CRLF line ends).
pub fn pem_text_blocks(text: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut blocks = Vec::new();
    let mut body = None::<String>;
    for line in text.lines() {
        match (line.starts_with("-----BEGIN"), line.starts_with("-----END"), body.as_mut()) {
            (true, _, _) => body = Some(String::new()),
            (_, true, Some(b64)) => {
                let der =
                    base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()).expect("PEM base64");
                blocks.push(der);
                body = None;
            }
            (_, _, Some(b64)) => b64.push_str(line.trim()),
            _ => {}
        }
    }
    blocks
}

/// Checks every certificate (or CRL) in the PEM file `path` as strict DER.
pub fn assert_der_pem(path: &Path) {
    let blocks = pem_blocks(path);
    assert!(!blocks.is_empty(), "{} holds no PEM block", path.display());
    for (i, der) in blocks.iter().enumerate() {
        assert_der(&format!("{} block {i}", path.display()), der);
    }
}

/// Asks `openssl_ocsp_at` until it reports `want` for `cert` or `within`
/// has passed; returns the last answer (the caller asserts on it).
pub fn ocsp_until(
    url: &str,
    pki: &Path,
    cert: &Path,
    want: &str,
    extra: &[&str],
    within: Duration,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let out = openssl_ocsp_at(url, pki, cert, extra);
        if status_of(&out, cert).as_deref() == Some(want) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The root, then the issuing CA, of `pki` in one PEM file (openssl's `-CAfile`).
pub fn ca_chain_file(pki: &Path, out: &Path) -> PathBuf {
    let pem = [
        std::fs::read_to_string(pki.join("root.pem")).expect("root"),
        std::fs::read_to_string(pki.join("issuer.pem")).expect("issuer"),
    ]
    .concat();
    std::fs::write(out, pem).expect("chain");
    out.to_owned()
}

/// `openssl crl -verify -noout -text` of `crl` (`inform` PEM or DER) against
/// `ca_file`; the CRL is checked as strict DER first.
pub fn openssl_crl(crl: &Path, ca_file: &Path, inform: &str) -> String {
    match inform {
        "DER" => assert_der(&crl.display().to_string(), &std::fs::read(crl).expect("CRL")),
        _ => assert_der_pem(crl),
    }
    text(&run(Command::new("openssl")
        .args(["crl", "-inform", inform, "-in"])
        .arg(crl)
        .arg("-CAfile")
        .arg(ca_file)
        .args(["-verify", "-noout", "-text"])))
}

/// Status line of `openssl ocsp` output for `cert`: "good", "revoked", ...
pub fn status_of(output: &str, cert: &Path) -> Option<String> {
    let prefix = format!("{}: ", cert.display());
    output.lines().find_map(|l| l.strip_prefix(&prefix)).map(|s| s.trim().to_owned())
}

// As `dead_code` above: not every test binary picks ports.
#[allow(unused_imports)]
pub use cartorio_testkit::free_port;

/// Starts `cartorio {service} --config {dir}/{service}.toml` with `config`
/// as that file, logging to `{dir}/{service}.log`, and waits until
/// `127.0.0.1:{port}/healthz` answers.
pub fn start_alone(service: &str, dir: &Path, config: &str, port: u16) -> Alone {
    start_alone_probed(service, dir, config, port, "")
}

/// As [`start_alone`], with `prefix` sent before the health probe (a PROXY
/// protocol header, for listeners that require one).
pub fn start_alone_probed(service: &str, dir: &Path, config: &str, port: u16, prefix: &str) -> Alone {
    start_alone_with(service, dir, config, port, prefix, |_| {})
}

/// As [`start_alone_probed`], with the command adjusted by `adjust` (its
/// environment, say) before it starts.
pub fn start_alone_with(
    service: &str,
    dir: &Path,
    config: &str,
    port: u16,
    prefix: &str,
    adjust: impl FnOnce(&mut Command),
) -> Alone {
    let file = dir.join(format!("{service}.toml"));
    std::fs::write(&file, config).expect("config");
    let mut command = Command::new(BIN);
    adjust(&mut command);
    let child = command
        .arg(service)
        .arg("--config")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{service}.log"))).expect("log"))
        .spawn()
        .expect("start a service alone");
    let alone = Alone(child);
    let addr = format!("127.0.0.1:{port}");
    let probe = format!("{prefix}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(&addr, &probe, b"").0 != 200 {
        assert!(Instant::now() < deadline, "cartorio {service} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    alone
}

/// A service started alone; killed when dropped, also when a test fails.
pub struct Alone(pub Child);

impl Drop for Alone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POSTs `body` with `content_type` to `path`; returns (status, headers, body).
pub fn post(addr: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    http(addr, &head, body)
}

/// A raw HTTP/1.1 exchange; returns (status, headers, body). Status 0 means
/// no answer: the server could not be reached or closed without replying
/// (a server being killed, in the crash tests).
pub fn http(addr: &str, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return (0, String::new(), Vec::new());
    };
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    // A failed write is not the end: a server may answer early (a body over
    // its limit) and close; whatever it sent is still read below.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4).unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, raw[split..].to_vec())
}

/// A moto S3/KMS server on a port of its own (see `cartorio_testkit::moto`).
pub fn start_moto() -> cartorio_testkit::moto::Moto {
    cartorio_testkit::moto::start_moto()
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate for
/// `client_cn` (clientAuth), made with openssl in `dir`.
pub fn make_pki(dir: &Path, client_cn: &str) {
    let sh = |script: &str| {
        let out = run(Command::new("sh").arg("-c").arg(script).current_dir(dir));
        assert!(out.status.success(), "{script}: {}", text(&out));
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    sh(&format!("openssl req -x509 {ec} -keyout ca.key -out ca.pem -subj '/CN=Test CA' -days 2 2>/dev/null"));
    for (name, cn, ext) in [
        ("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        ("client", client_cn, "extendedKeyUsage=clientAuth"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), format!("basicConstraints=CA:FALSE\n{ext}\n"))
            .expect("ext");
        sh(&format!("openssl req -new {ec} -keyout {name}.key -out {name}.csr -subj '/CN={cn}' 2>/dev/null"));
        sh(&format!(
            "openssl x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile {name}.ext -out {name}.pem 2>/dev/null"
        ));
    }
}

/// Every file under `dir`, recursively, as strings.
pub fn walk_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path.to_string_lossy().into_owned());
        }
    }
    out
}
