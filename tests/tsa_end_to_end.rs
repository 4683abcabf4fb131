//! RFC 3161 time-stamps from the real binary, checked with `openssl ts` and
//! Java's `jarsigner`; every refusal path with its failInfo bit.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TRUST_CLOCK: &[&str] = &["--danger-tsa-trust-system-clock"];

fn ts_query(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    let data = dir.join("doc.txt");
    std::fs::write(&data, b"the document to time-stamp\n").expect("doc");
    let query = dir.join(format!("{name}.tsq"));
    let out = run(Command::new("openssl")
        .args(["ts", "-query", "-data"])
        .arg(&data)
        .args(args)
        .arg("-out")
        .arg(&query));
    assert!(out.status.success(), "openssl ts -query: {}", text(&out));
    query
}

fn time_stamp(up: &Up, query: &Path) -> Vec<u8> {
    let body = std::fs::read(query).expect("query");
    let (status, head, reply) = post(&up.responder, "/tsa", "application/timestamp-query", &body);
    assert_eq!(status, 200, "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/timestamp-reply"), "{head}");
    assert_der("a time-stamp reply", &reply);
    reply
}

/// `openssl ts -reply -text` of a reply, checked as strict DER first.
fn reply_text(dir: &Path, reply: &[u8]) -> String {
    assert_der("a time-stamp reply", reply);
    let file = dir.join("reply.tsr");
    std::fs::write(&file, reply).expect("reply");
    text(&run(Command::new("openssl").args(["ts", "-reply", "-text", "-in"]).arg(&file)))
}

fn verify(up: &Up, dir: &Path, query: &Path, reply: &[u8]) -> String {
    let file = dir.join("verify.tsr");
    std::fs::write(&file, reply).expect("reply");
    let out = run(Command::new("openssl")
        .args(["ts", "-verify", "-in"])
        .arg(&file)
        .arg("-queryfile")
        .arg(query)
        .arg("-CAfile")
        .arg(up.pki("root.pem"))
        .arg("-untrusted")
        .arg(up.pki("tsa-chain.pem")));
    text(&out)
}

#[test]
fn openssl_ts_verifies_every_variant() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let up = Up::start_with(&tmp.path().join("data"), TRUST_CLOCK);
    assert!(up.pki("tsa-chain.pem").exists());
    for hash in ["-sha256", "-sha384", "-sha512"] {
        for cert in [true, false] {
            for nonce in [true, false] {
                let mut args = vec![hash];
                if cert {
                    args.push("-cert");
                }
                if !nonce {
                    args.push("-no_nonce");
                }
                let query = ts_query(tmp.path(), "q", &args);
                let reply = time_stamp(&up, &query);
                let shown = reply_text(tmp.path(), &reply);
                assert!(shown.contains("Status: Granted."), "{args:?}: {shown}");
                assert_eq!(shown.contains("Nonce: 0x"), nonce, "{args:?}: {shown}");
                assert!(
                    shown.contains("TSA: DirName:/O=Cartorio Demo/CN=Cartorio Demo Time-Stamping Authority")
                );
                let verified = verify(&up, tmp.path(), &query, &reply);
                assert!(verified.contains("Verification: OK"), "{args:?}: {verified}");
            }
        }
    }
    // Tokens are logged with unique serials.
    let log = std::fs::read_to_string(up.dir.join("tsa/issued.log")).expect("issuance log");
    let serials: std::collections::HashSet<_> =
        log.lines().map(|l| l.split(' ').next().unwrap_or("")).collect();
    assert_eq!(serials.len(), 12, "{log}");
}

#[test]
fn jarsigner_signs_and_verifies_with_the_time_stamp() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let up = Up::start_with(&tmp.path().join("data"), TRUST_CLOCK);
    let d = tmp.path();
    std::fs::create_dir_all(d.join("content")).expect("dir");
    std::fs::write(d.join("content/hello.txt"), b"hello\n").expect("file");
    let jar = d.join("app.jar");
    let ks = d.join("signer.p12");
    let trust = d.join("trust.p12");
    let steps: Vec<Vec<String>> = vec![
        vec!["jar".into(), "cf".into(), jar.display().to_string(), "-C".into(), d.join("content").display().to_string(), ".".into()],
        format!("keytool -genkeypair -alias signer -keyalg EC -groupname secp256r1 -dname CN=Signer -validity 30 -keystore {} -storetype PKCS12 -storepass changeit -keypass changeit", ks.display()).split(' ').map(String::from).collect(),
        format!("keytool -exportcert -alias signer -keystore {} -storepass changeit -rfc -file {}", ks.display(), d.join("signer.pem").display()).split(' ').map(String::from).collect(),
        format!("keytool -importcert -noprompt -alias root -file {} -keystore {} -storetype PKCS12 -storepass changeit", up.pki("root.pem").display(), trust.display()).split(' ').map(String::from).collect(),
        format!("keytool -importcert -noprompt -alias signer -file {} -keystore {} -storetype PKCS12 -storepass changeit", d.join("signer.pem").display(), trust.display()).split(' ').map(String::from).collect(),
        format!("jarsigner -keystore {} -storepass changeit -tsa http://{}/tsa {} signer", ks.display(), up.responder, jar.display()).split(' ').map(String::from).collect(),
    ];
    for step in &steps {
        let out = run(Command::new(&step[0]).args(&step[1..]));
        assert!(out.status.success(), "{step:?}: {}", text(&out));
    }
    let out = run(Command::new("jarsigner")
        .args(["-verify", "-strict", "-verbose", "-keystore"])
        .arg(&trust)
        .args(["-storepass", "changeit"])
        .arg(&jar));
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("jar verified."), "{shown}");
    assert!(shown.contains("Timestamped by \"CN=Cartorio Demo Time-Stamping Authority"), "{shown}");
    assert!(!shown.contains("TSA certificate chain is invalid"), "{shown}");
}

/// (request bytes, openssl's text for the expected failInfo bit)
fn rejections(dir: &Path) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let read = |p: std::path::PathBuf| std::fs::read(p).expect("query");
    let good = read(ts_query(dir, "base", &["-sha256", "-no_nonce"]));
    // Hand-built variants of the good request (DER surgery on known offsets
    // would be brittle; build them whole instead).
    let imprint = |oid: &[u8], len: usize| {
        let mut alg = vec![0x30, oid.len() as u8];
        alg.extend_from_slice(oid);
        let mut hashed = vec![0x04, len as u8];
        hashed.extend(std::iter::repeat_n(7u8, len));
        let mut m = vec![0x30, (alg.len() + hashed.len()) as u8];
        m.extend(alg);
        m.extend(hashed);
        m
    };
    let sha256: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    let request = |version: u8, imprint: Vec<u8>, tail: &[u8]| {
        let mut body = vec![0x02, 0x01, version];
        body.extend(imprint);
        body.extend_from_slice(tail);
        let mut r = vec![0x30, body.len() as u8];
        r.extend(body);
        r
    };
    vec![
        ("sha1", read(ts_query(dir, "sha1", &["-sha1"])), "unrecognized or unsupported algorithm identifier"),
        (
            "md5-like unknown hash",
            request(1, imprint(&[0x06, 0x03, 0x2a, 0x03, 0x05], 16), &[]),
            "unrecognized or unsupported algorithm identifier",
        ),
        ("garbage", b"definitely not DER".to_vec(), "the data submitted has the wrong format"),
        ("short digest", request(1, imprint(sha256, 20), &[]), "the data submitted has the wrong format"),
        ("version 2", request(2, imprint(sha256, 32), &[]), "the data submitted has the wrong format"),
        ("trailing byte", [good.clone(), vec![0]].concat(), "the data submitted has the wrong format"),
        (
            "policy",
            read(ts_query(dir, "policy", &["-sha256", "-tspolicy", "1.3.6.1.4.1.99999.1"])),
            "the requested TSA policy is not supported by the TSA",
        ),
        (
            "extension",
            request(
                1,
                imprint(sha256, 32),
                &[0xa0, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x04, 0x01, 0x00],
            ),
            "the requested extension is not supported by the TSA",
        ),
        (
            "malformed extension",
            request(1, imprint(sha256, 32), &[0xa0, 0x02, 0x30, 0x00]),
            "the data submitted has the wrong format",
        ),
        (
            "unterminated policy OID",
            request(1, imprint(sha256, 32), &[0x06, 0x03, 0x2a, 0x03, 0xb2]),
            "the data submitted has the wrong format",
        ),
    ]
}

#[test]
fn each_refusal_is_a_rejection_with_its_fail_info() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let up = Up::start_with(&tmp.path().join("data"), TRUST_CLOCK);
    for (name, body, expected) in rejections(tmp.path()) {
        let (status, head, reply) = post(&up.responder, "/tsa", "application/timestamp-query", &body);
        assert_eq!(status, 200, "{name}: {head}");
        let shown = reply_text(tmp.path(), &reply);
        assert!(shown.contains("Status: Rejected."), "{name}: {shown}");
        assert!(shown.contains(&format!("Failure info: {expected}")), "{name}: {shown}");
    }
    // An oversized body is refused the same way, without reading it all.
    let big = vec![0u8; 64 * 1024];
    let (_, _, reply) = post(&up.responder, "/tsa", "application/timestamp-query", &big);
    assert!(reply_text(tmp.path(), &reply).contains("the data submitted has the wrong format"));
    // Every outcome is counted under its failInfo name.
    let (_, _, body) =
        http(&up.responder, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let exposition = String::from_utf8_lossy(&body);
    for outcome in ["badAlg", "badDataFormat", "unacceptedPolicy", "unacceptedExtension"] {
        let line = format!("cartorio_tsa_responses_total{{outcome=\"{outcome}\"}}");
        assert!(
            exposition.lines().any(|l| l.starts_with(&line) && !l.ends_with(" 0")),
            "{line} missing or zero"
        );
    }
}

#[test]
fn unsynchronised_clock_means_time_not_available() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Default policy: the kernel must vouch for the clock within the accuracy.
    let up = Up::start_with(&tmp.path().join("data"), &["--tsa-accuracy-ms", "1000"]);
    let query = ts_query(tmp.path(), "q", &["-sha256"]);
    let shown = reply_text(tmp.path(), &time_stamp(&up, &query));
    let sync = cartorio_platform::clock::kernel_sync().expect("adjtimex");
    if sync.within(1_000_000) {
        assert!(shown.contains("Status: Granted."), "kernel says synchronised ({sync:?}): {shown}");
    } else {
        assert!(shown.contains("Status: Rejected."), "{shown}");
        assert!(
            shown.contains("Failure info: the TSA's time source is not available"),
            "kernel {sync:?}: {shown}"
        );
    }
}

/// The TSA says which clock state it sees: in the log at start, in
/// `/readyz` (503 while it refuses) and in its gauges; and it does what it
/// says. Whatever this machine's clock state is.
#[test]
fn the_clock_state_is_logged_exposed_and_acted_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let up = Up::start(&tmp.path().join("data"));
    let sync = cartorio_platform::clock::kernel_sync();
    let expected = match sync {
        Some(s) if s.within(1_000_000) => "synchronized",
        Some(s) if s.synchronized => "too_imprecise",
        Some(_) => "unsynchronized",
        None => "unreadable",
    };
    let (status, doc) = readyz(&up);
    let tsa = &doc["components"]["tsa"];
    assert_eq!(tsa["clock"], expected, "kernel {sync:?}: {doc}");
    let issuing = expected == "synchronized";
    assert_eq!(tsa["ready"], issuing, "{doc}");
    assert_eq!(doc["components"]["ocsp"]["ready"], true, "{doc}");
    assert_eq!(status, if issuing { 200 } else { 503 }, "{doc}");
    // One component at a time, for a load balancer in front of one service.
    let one = |component: &str| {
        let head = format!("GET /readyz/{component} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        http(&up.responder, &head, b"").0
    };
    assert_eq!((one("ocsp"), one("tsa"), one("nope")), (200, if issuing { 200 } else { 503 }, 404));
    if !issuing {
        let detail = tsa["detail"].as_str().expect("detail");
        assert!(detail.contains("--danger-tsa-trust-system-clock"), "{detail}");
    }
    let log = std::fs::read_to_string(tmp.path().join("data.log")).expect("log");
    assert!(log.lines().any(|l| l.contains("TSA clock:") && l.contains(expected)), "{log}");
    let query = ts_query(tmp.path(), "q", &["-sha256"]);
    let shown = reply_text(tmp.path(), &time_stamp(&up, &query));
    assert_eq!(shown.contains("Status: Granted."), issuing, "{shown}");
    let (_, _, metrics) =
        http(&up.responder, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let metrics = String::from_utf8_lossy(&metrics);
    let gauge = format!("cartorio_tsa_issuing {}", u8::from(issuing));
    assert!(metrics.lines().any(|l| l == gauge), "{gauge} in {metrics}");
    assert!(up.stop());

    // Trusted by the danger flag: issuing, ready, and said so.
    let up = Up::start_with(&tmp.path().join("data"), TRUST_CLOCK);
    let (status, doc) = readyz(&up);
    assert_eq!(
        (status, &doc["components"]["tsa"]["clock"]),
        (200, &serde_json::json!("trusted_without_check"))
    );
    let shown = reply_text(tmp.path(), &time_stamp(&up, &query));
    assert!(shown.contains("Status: Granted."), "{shown}");
    assert!(up.stop());
}

/// `GET /readyz` once the OCSP component is ready (the store is first read
/// moments after the listener answers): its status and document.
fn readyz(up: &Up) -> (u16, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) =
            http(&up.responder, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
        let doc: serde_json::Value = serde_json::from_slice(&body).expect("readyz JSON");
        if doc["components"]["ocsp"]["ready"] == true || Instant::now() > deadline {
            return (status, doc);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The TSTInfo serial of a granted TimeStampResp, decoded with rasn-cms.
fn token_serial(reply: &[u8]) -> Option<String> {
    let resp: rasn_cms::tsp::TimeStampResp = rasn::der::decode(reply).ok()?;
    let token = resp.time_stamp_token?;
    let signed: rasn_cms::SignedData = rasn::der::decode(token.content.as_bytes()).ok()?;
    let tst: rasn_cms::tsp::TstInfo = rasn::der::decode(&signed.encap_content_info.content?).ok()?;
    Some(format!("{:032x}", u128::try_from(tst.serial_number).ok()?))
}

#[test]
fn sigkill_during_a_burst_loses_no_acknowledged_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start_with(&data, TRUST_CLOCK);
    let body = std::fs::read(ts_query(tmp.path(), "q", &["-sha256"])).expect("query");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, body, stop) = (up.responder.clone(), body.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut serials = Vec::new();
                // Bounded: stops at the kill, or after 5,000 requests.
                for _ in 0..5_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let (status, _, reply) = post(&addr, "/tsa", "application/timestamp-query", &body);
                    if status != 200 {
                        break;
                    }
                    if let Some(serial) = token_serial(&reply) {
                        serials.push(serial);
                    }
                }
                serials
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(700));
    up.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged: Vec<String> = clients.into_iter().flat_map(|c| c.join().expect("client")).collect();
    let log = std::fs::read_to_string(data.join("tsa/issued.log")).expect("log");
    let logged: std::collections::HashSet<&str> = log.lines().filter_map(|l| l.split(' ').next()).collect();
    println!("{} tokens acknowledged before SIGKILL, {} logged", acknowledged.len(), logged.len());
    assert!(!acknowledged.is_empty());
    for serial in &acknowledged {
        assert!(logged.contains(serial.as_str()), "token {serial} was acknowledged but not logged");
    }
}

/// An RSA-3072 TSA key brought by the operator, certified by the control
/// plane under the `tsa` profile, served by a standalone responder.
#[test]
fn rsa_3072_tsa_key_certified_by_the_control_plane() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let data = d.join("data");
    let up = Up::start(&data);
    let sh = |script: &str| {
        let out = run(Command::new("sh").arg("-c").arg(script).current_dir(d));
        assert!(out.status.success(), "{script}: {}", text(&out));
    };
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa.pem 2>/dev/null");
    sh("openssl pkcs8 -topk8 -nocrypt -in rsa.pem -outform DER -out rsa.pk8");
    sh("openssl req -new -key rsa.pem -subj '/O=Cartorio Demo/CN=RSA TSA' -out rsa.csr");
    let out = run(Command::new(BIN)
        .args(["issue", "--data-dir"])
        .arg(&data)
        .args(["--csr", "rsa.csr", "--profile", "tsa", "--out", "rsa-tsa.pem"])
        .current_dir(d));
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&run(Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", "rsa-tsa.pem"])
        .current_dir(d)));
    assert!(shown.contains("X509v3 Extended Key Usage: critical"), "{shown}");
    assert!(shown.contains("Time Stamping"), "{shown}");
    let chain = [
        std::fs::read_to_string(d.join("rsa-tsa.pem")).expect("cert"),
        std::fs::read_to_string(up.pki("issuer.pem")).expect("issuer"),
    ]
    .concat();
    std::fs::write(d.join("rsa-chain.pem"), chain).expect("chain");

    let (port, tsa_port) = (free_port(), free_port());
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\n[store]\nkind = \"local\"\npath = \"{store}\"\n[tsa]\nkey = \"{d}/rsa.pk8\"\nkey_type = \"rsa\"\nchain = \"{d}/rsa-chain.pem\"\nlog = \"{d}/rsa-tsa.log\"\ndanger_trust_system_clock = true\nlisten = \"127.0.0.1:{tsa_port}\"\n",
        store = data.join("store").display(),
        d = d.display()
    );
    let responder = start_alone("responder", d, &config, port);
    let addr = format!("127.0.0.1:{port}");
    let query = ts_query(d, "rsa", &["-sha384", "-cert"]);
    let (status, _, reply) =
        post(&addr, "/tsa", "application/timestamp-query", &std::fs::read(&query).expect("q"));
    // The TSA's own listener: time-stamps at `/`, nothing else.
    let tsa_addr = format!("127.0.0.1:{tsa_port}");
    let (own_status, own_head, own_reply) =
        post(&tsa_addr, "/", "application/timestamp-query", &std::fs::read(&query).expect("q"));
    let (ocsp_status, _, _) = post(&tsa_addr, "/ocsp", "application/ocsp-request", &[0x30, 0x00]);
    drop(responder);
    assert_eq!((own_status, ocsp_status), (200, 404), "{own_head}");
    assert!(own_head.to_ascii_lowercase().contains("application/timestamp-reply"), "{own_head}");
    std::fs::write(d.join("own.tsr"), &own_reply).expect("reply");
    let out = run(Command::new("openssl")
        .args(["ts", "-verify", "-in", "own.tsr", "-queryfile"])
        .arg(&query)
        .arg("-CAfile")
        .arg(up.pki("root.pem"))
        .args(["-untrusted", "rsa-chain.pem"])
        .current_dir(d));
    assert!(text(&out).contains("Verification: OK"), "own listener: {}", text(&out));
    assert_eq!(status, 200);
    assert_der("an RSA time-stamp reply", &reply);
    assert_der("a reply from the TSA's own listener", &own_reply);
    std::fs::write(d.join("rsa.tsr"), &reply).expect("reply");
    let out = run(Command::new("openssl")
        .args(["ts", "-verify", "-in", "rsa.tsr", "-queryfile"])
        .arg(&query)
        .arg("-CAfile")
        .arg(up.pki("root.pem"))
        .args(["-untrusted", "rsa-chain.pem"])
        .current_dir(d));
    assert!(text(&out).contains("Verification: OK"), "{}", text(&out));
    let shown = reply_text(d, &reply);
    assert!(shown.contains("TSA: DirName:/O=Cartorio Demo/CN=RSA TSA"), "{shown}");

    // A key file that is not there: refused before any port is
    // bound, so a supervisor never sees the responder listening.
    let mismatched = config.replace("rsa.pk8", "missing.pk8");
    std::fs::write(d.join("bad.toml"), mismatched).expect("config");
    let out = run(Command::new(BIN).args(["responder", "--config", "bad.toml"]).current_dir(d));
    let said = text(&out);
    assert!(!out.status.success() && said.contains("missing.pk8"), "{said}");
    assert!(!said.contains("listening"), "{said}");
}
