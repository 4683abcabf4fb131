//! The ACME server's protocol, request by request, through the real binary:
//! every error type RFC 8555 names where it applies, nonce replay, a JWS
//! naming another URL, an order whose CSR names other identifiers, an
//! expired order, a deactivated account, key roll-over, renewal
//! information, revocation authority; and, on a standalone control plane
//! with `[acme]`, required external account binding, rate limits, a
//! profile's identifier policy, and nonces good once across a restart and
//! across two control nodes sharing the registry.

mod common;

use cartorio_testkit::acme::{AccountKey, Client, Http01Responder, Response, b64, csr, csr_with};
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn problem(r: &Response) -> String {
    r.problem().unwrap_or_else(|| format!("no problem ({}): {}", r.status, String::from_utf8_lossy(&r.body)))
}

/// Places an order for `names`; its URL and object.
fn order(c: &mut Client, key: &AccountKey, kid: &str, names: &[&str]) -> (String, Value) {
    let ids: Vec<Value> = names.iter().map(|n| json!({"type": "dns", "value": n})).collect();
    let url = c.url("newOrder");
    let r = c.post(&url, Some(&json!({"identifiers": ids})), key, Some(kid));
    assert_eq!(r.status, 201, "newOrder: {}", String::from_utf8_lossy(&r.body));
    (r.header("Location").expect("order URL").to_owned(), r.json())
}

/// Answers every http-01 challenge of `order` and waits for it to be ready.
fn solve(
    c: &mut Client,
    http: &Http01Responder,
    key: &AccountKey,
    kid: &str,
    order_url: &str,
    order: &Value,
) -> Value {
    for authz in order["authorizations"].as_array().expect("authorizations") {
        let a = c.post(authz.as_str().expect("url"), None, key, Some(kid)).json();
        let challenge = a["challenges"]
            .as_array()
            .expect("challenges")
            .iter()
            .find(|ch| ch["type"] == "http-01")
            .expect("http-01")
            .clone();
        http.set(
            challenge["token"].as_str().expect("token"),
            &key.key_authorization(challenge["token"].as_str().expect("token")),
        );
        let r = c.post(challenge["url"].as_str().expect("url"), Some(&json!({})), key, Some(kid));
        assert_eq!(r.status, 200, "challenge: {}", String::from_utf8_lossy(&r.body));
    }
    c.poll(order_url, key, kid)
}

fn finalize(c: &mut Client, key: &AccountKey, kid: &str, order: &Value, der: &[u8]) -> Response {
    let url = order["finalize"].as_str().expect("finalize URL").to_owned();
    c.post(&url, Some(&json!({"csr": b64(der)})), key, Some(kid))
}

fn start(data: &Path, http: &Http01Responder, extra: &[&str]) -> Up {
    let port = http.port.to_string();
    let mut args = vec!["--acme-resolve", "127.0.0.1", "--acme-http-port", &port];
    args.extend(extra);
    Up::start_with(data, &args)
}

#[test]
fn requests_are_checked_phase_by_phase_and_refused_with_their_acme_error_types() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let http = Http01Responder::start(0);
    let up = start(&data, &http, &[]);
    let mut c = Client::new(&up.acme, &up.pki("root.pem"));
    assert_eq!(c.directory["meta"]["externalAccountRequired"], false);
    assert!(c.directory["meta"]["profiles"]["server"].is_string(), "{}", c.directory);
    assert!(c.directory["renewalInfo"].is_string());

    let nonce_url = c.url("newNonce");
    let head = c.request("HEAD", &nonce_url, None, b"");
    assert_eq!((head.status, head.header("Cache-Control")), (200, Some("no-store")));
    assert_eq!(c.get(&nonce_url).status, 204);
    assert!(c.get(&nonce_url).header("Replay-Nonce").is_some_and(|n| n.len() == 22));

    // Before any JWS: media type, size, shape.
    let new_account = c.url("newAccount");
    let r = c.request("POST", &new_account, Some("application/json"), b"{}");
    assert_eq!((r.status, problem(&r).as_str()), (415, "malformed"));
    let r = c.request("POST", &new_account, Some("application/jose+json"), &vec![b' '; 70_000]);
    assert_eq!(r.status, 413);
    let r = c.request("POST", &new_account, Some("application/jose+json"), b"{\"protected\":1}");
    assert_eq!((r.status, problem(&r).as_str()), (400, "malformed"));
    assert!(r.header("Replay-Nonce").is_some(), "every error carries a fresh nonce");
    assert_eq!(c.get(&new_account).status, 405);

    let key = AccountKey::generate();
    let r = c.post(&new_account, Some(&json!({"onlyReturnExisting": true})), &key, None);
    assert_eq!(problem(&r), "accountDoesNotExist");
    let r = c.post(&new_account, Some(&json!({"contact": ["tel:+15555550100"]})), &key, None);
    assert_eq!(problem(&r), "unsupportedContact");
    let r = c.post(&new_account, Some(&json!({"contact": ["mailto:ops@example.org"]})), &key, None);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let kid = r.header("Location").expect("account").to_owned();
    let again = c.post(&new_account, Some(&json!({"onlyReturnExisting": true})), &key, None);
    assert_eq!((again.status, again.header("Location")), (200, Some(kid.as_str())));
    let r = c.post(&new_account, Some(&json!({})), &key, Some(&kid));
    assert_eq!(problem(&r), "malformed", "newAccount signed by kid");

    // The nonce: good once.
    let new_order = c.url("newOrder");
    let payload = json!({"identifiers": [{"type": "dns", "value": "once.example"}]});
    let jws = key.sign(&c.protected(&key, Some(&kid), &new_order), payload.to_string().as_bytes());
    assert_eq!(c.post_jws(&new_order, &jws).status, 201);
    let replayed = c.post_jws(&new_order, &jws);
    assert_eq!((replayed.status, problem(&replayed).as_str()), (400, "badNonce"));
    assert!(replayed.header("Replay-Nonce").is_some(), "badNonce carries a nonce to retry with");
    let invented = json!({"alg": "ES256", "kid": kid, "nonce": "AAAAAAAAAAAAAAAAAAAAAA", "url": new_order});
    assert_eq!(
        problem(&c.post_jws(&new_order, &key.sign(&invented, payload.to_string().as_bytes()))),
        "badNonce"
    );

    // The URL, the algorithm, the signature, the account.
    let elsewhere = c.protected(&key, Some(&kid), &c.url("revokeCert"));
    let r = c.post_jws(&new_order, &key.sign(&elsewhere, payload.to_string().as_bytes()));
    assert_eq!((r.status, problem(&r).as_str()), (403, "unauthorized"));
    let mut hs = c.protected(&key, Some(&kid), &new_order);
    hs["alg"] = "HS256".into();
    let r = c.post_jws(&new_order, &key.sign(&hs, payload.to_string().as_bytes()));
    assert_eq!(problem(&r), "badSignatureAlgorithm");
    assert_eq!(r.json()["algorithms"], json!(["ES256", "ES384", "RS256", "EdDSA"]));
    let mut tampered = key.sign(&c.protected(&key, Some(&kid), &new_order), payload.to_string().as_bytes());
    tampered["payload"] = b64(br#"{"identifiers":[{"type":"dns","value":"other.example"}]}"#).into();
    assert_eq!(problem(&c.post_jws(&new_order, &tampered)), "malformed");
    let stranger = kid.replace("/acct/", "/acct/x");
    assert_eq!(problem(&c.post(&new_order, Some(&payload), &key, Some(&stranger))), "accountDoesNotExist");
    assert_eq!(problem(&c.post(&new_order, Some(&payload), &key, None)), "malformed", "newOrder by jwk");

    // What an order may ask for.
    let ask = |c: &mut Client, body: Value| problem(&c.post(&new_order, Some(&body), &key, Some(&kid)));
    assert_eq!(
        ask(&mut c, json!({"identifiers": [{"type": "email", "value": "a@b.example"}]})),
        "unsupportedIdentifier"
    );
    assert_eq!(
        ask(&mut c, json!({"identifiers": [{"type": "dns", "value": "trailing.example."}]})),
        "rejectedIdentifier"
    );
    assert_eq!(
        ask(&mut c, json!({"identifiers": [{"type": "dns", "value": "a.example"}], "profile": "nope"})),
        "invalidProfile"
    );
    assert_eq!(
        ask(
            &mut c,
            json!({"identifiers": [{"type": "dns", "value": "a.example"}], "notAfter": "2030-01-01T00:00:00Z"})
        ),
        "malformed"
    );
    assert_eq!(ask(&mut c, json!({"identifiers": []})), "rejectedIdentifier");

    // An order, not ready, then ready; a CSR for other names; the right one.
    let (order_url, placed) = order(&mut c, &key, &kid, &["www.proto.example", "api.proto.example"]);
    assert_eq!(placed["status"], "pending");
    let r = finalize(&mut c, &key, &kid, &placed, &csr(&["www.proto.example", "api.proto.example"]));
    assert_eq!((r.status, problem(&r).as_str()), (403, "orderNotReady"));
    let ready = solve(&mut c, &http, &key, &kid, &order_url, &placed);
    assert_eq!(ready["status"], "ready", "{ready}");
    let r = finalize(&mut c, &key, &kid, &ready, &csr(&["www.proto.example", "evil.example"]));
    assert_eq!(problem(&r), "badCSR");
    assert!(r.json()["detail"].as_str().is_some_and(|d| d.contains("evil.example")), "{}", r.json());
    let r = finalize(
        &mut c,
        &key,
        &kid,
        &ready,
        &csr_with(&key.csr_signer(), &["www.proto.example", "api.proto.example"]),
    );
    assert_eq!(problem(&r), "badCSR", "the account key as the certificate's key");
    let cert_key = AccountKey::generate();
    let r = finalize(
        &mut c,
        &key,
        &kid,
        &ready,
        &csr_with(&cert_key.csr_signer(), &["api.proto.example", "www.proto.example"]),
    );
    assert_eq!(r.status, 200, "finalize: {}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["status"], "valid");
    let cert_url = r.json()["certificate"].as_str().expect("certificate URL").to_owned();
    let chain = c.post(&cert_url, None, &key, Some(&kid));
    assert_eq!(chain.header("Content-Type"), Some("application/pem-certificate-chain"));
    let pem = String::from_utf8_lossy(&chain.body).to_string();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "leaf and issuing CA");
    let alternate =
        chain.headers("Link").into_iter().find(|l| l.contains("rel=\"alternate\"")).expect("alternate chain");
    let alt_url = alternate.trim_start_matches('<').split('>').next().expect("url").to_owned();
    let alt = c.post(&alt_url, None, &key, Some(&kid));
    assert_eq!(String::from_utf8_lossy(&alt.body).matches("BEGIN CERTIFICATE").count(), 3, "with the root");
    let leaf = tmp.path().join("leaf.pem");
    std::fs::write(&leaf, &pem).expect("leaf");
    let verified = run(Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(up.pki("root.pem"))
        .arg("-untrusted")
        .arg(&leaf)
        .arg(&leaf));
    assert!(text(&verified).contains(": OK"), "{}", text(&verified));
    for block in pem_text_blocks(&pem) {
        assert_der("an ACME certificate", &block);
    }

    // A failed validation ends the order with the reason.
    let (failing_url, failing) = order(&mut c, &key, &kid, &["unserved.example"]);
    let a = c.post(failing["authorizations"][0].as_str().expect("authz"), None, &key, Some(&kid)).json();
    let challenge = a["challenges"]
        .as_array()
        .expect("challenges")
        .iter()
        .find(|ch| ch["type"] == "http-01")
        .expect("http-01")
        .clone();
    c.post(challenge["url"].as_str().expect("url"), Some(&json!({})), &key, Some(&kid));
    let failed = c.poll(&failing_url, &key, &kid);
    assert_eq!(failed["status"], "invalid", "{failed}");
    assert_eq!(failed["error"]["type"], "urn:ietf:params:acme:error:unauthorized", "{failed}");

    // Renewal information, an early renewal asked for, and `replaces`.
    let leaf_der = pem_text_blocks(&pem).remove(0);
    let cert_id = ari_id(&up, &leaf);
    let info = c.get(&format!("{}/{cert_id}", c.url("renewalInfo")));
    assert_eq!(info.status, 200, "{}", String::from_utf8_lossy(&info.body));
    assert!(info.header("Retry-After").is_some());
    let start = info.json()["suggestedWindow"]["start"].as_str().expect("start").to_owned();
    assert!(start.as_str() > "2027", "two thirds into 90 days: {start}");
    let asked = run(Command::new(BIN).args(["acme", "renew-early", "--all", "--data-dir"]).arg(&data));
    assert!(asked.status.success(), "{}", text(&asked));
    let now_window = c.get(&format!("{}/{cert_id}", c.url("renewalInfo"))).json();
    assert!(now_window["suggestedWindow"]["start"].as_str().expect("start") < "2027", "{now_window}");
    let replacing =
        json!({"identifiers": [{"type": "dns", "value": "www.proto.example"}], "replaces": cert_id});
    assert_eq!(c.post(&new_order, Some(&replacing), &key, Some(&kid)).status, 201);
    let r = c.post(&new_order, Some(&replacing), &key, Some(&kid));
    assert_eq!((r.status, problem(&r).as_str()), (409, "alreadyReplaced"));

    // Orders listed.
    let listed = c.post(&format!("{kid}/orders"), None, &key, Some(&kid)).json();
    assert!(
        listed["orders"].as_array().is_some_and(|o| o.iter().any(|u| u == order_url.as_str())),
        "{listed}"
    );

    // Revocation: not by a stranger, not for a reason a subscriber cannot give; by the certificate's key.
    let revoke_url = c.url("revokeCert");
    let other = AccountKey::generate();
    let other_kid = c.new_account(&other);
    let body = json!({"certificate": b64(&leaf_der)});
    assert_eq!(problem(&c.post(&revoke_url, Some(&body), &other, Some(&other_kid))), "unauthorized");
    let hold = json!({"certificate": b64(&leaf_der), "reason": 6});
    assert_eq!(problem(&c.post(&revoke_url, Some(&hold), &key, Some(&kid))), "badRevocationReason");
    let by_key = json!({"certificate": b64(&leaf_der), "reason": 1});
    let r = c.post(&revoke_url, Some(&by_key), &cert_key, None);
    assert_eq!(r.status, 200, "revocation by the certificate key: {}", String::from_utf8_lossy(&r.body));
    assert_eq!(problem(&c.post(&revoke_url, Some(&body), &key, Some(&kid))), "alreadyRevoked");
    let out = ocsp_until(&up.ocsp_url(), &up.dir.join("pki"), &leaf, "revoked", &[], Duration::from_secs(3));
    assert_eq!(status_of(&out, &leaf).as_deref(), Some("revoked"), "{out}");
    let revoked_window = c.get(&format!("{}/{cert_id}", c.url("renewalInfo"))).json();
    assert!(revoked_window["suggestedWindow"]["end"].as_str().expect("end") < "2027", "{revoked_window}");

    // Key roll-over: the old key no longer signs for the account; a key in use is a conflict.
    let new_key = AccountKey::generate();
    let key_change = c.url("keyChange");
    let inner = new_key.sign(
        &json!({"alg": "ES256", "jwk": new_key.jwk(), "url": key_change}),
        json!({"account": kid, "oldKey": key.jwk()}).to_string().as_bytes(),
    );
    let r = c.post(&key_change, Some(&inner), &key, Some(&kid));
    assert_eq!(r.status, 200, "key change: {}", String::from_utf8_lossy(&r.body));
    assert_eq!(problem(&c.post(&kid, None, &key, Some(&kid))), "malformed", "signed by the old key");
    assert_eq!(c.post(&kid, None, &new_key, Some(&kid)).status, 200);
    let conflict = other.sign(
        &json!({"alg": "ES256", "jwk": other.jwk(), "url": key_change}),
        json!({"account": kid, "oldKey": new_key.jwk()}).to_string().as_bytes(),
    );
    let r = c.post(&key_change, Some(&conflict), &new_key, Some(&kid));
    assert_eq!(
        (r.status, problem(&r).as_str(), r.header("Location")),
        (409, "conflict", Some(other_kid.as_str()))
    );

    // A deactivated account can do nothing more.
    let r = c.post(&kid, Some(&json!({"status": "deactivated"})), &new_key, Some(&kid));
    assert_eq!(r.json()["status"], "deactivated");
    let r = c.post(&new_order, Some(&payload), &new_key, Some(&kid));
    assert_eq!((r.status, problem(&r).as_str()), (403, "unauthorized"));
}

/// The ARI id of a certificate, computed by openssl's view of it:
/// base64url(authorityKeyIdentifier) "." base64url(serial).
fn ari_id(up: &Up, cert: &Path) -> String {
    let _ = up;
    let text = text(&run(Command::new("openssl")
        .args(["x509", "-noout", "-ext", "authorityKeyIdentifier", "-serial", "-in"])
        .arg(cert)));
    let aki: String = text
        .lines()
        .find(|l| l.trim().contains(':') && !l.contains("Authority") && !l.starts_with("serial"))
        .expect("keyid")
        .trim()
        .trim_start_matches("keyid:")
        .replace(':', "");
    let serial = text.lines().find_map(|l| l.strip_prefix("serial=")).expect("serial").trim().to_owned();
    let mut serial =
        hex::decode(if serial.len() % 2 == 1 { format!("0{serial}") } else { serial }).expect("hex");
    if serial[0] & 0x80 != 0 {
        serial.insert(0, 0);
    }
    format!("{}.{}", b64(&hex::decode(aki).expect("aki")), b64(&serial))
}

/// `cartorio control --config` with `[acme]` on `data`, admin on `admin`, ACME on `acme`.
fn control_config(data: &Path, admin: u16, acme: u16, http: u16) -> String {
    format!(
        r#"listen = "127.0.0.1:{admin}"
data_dir = "{data}"
ocsp_url = "http://127.0.0.1:1"

[profiles.internal]
issuer = "tls"
validity_days = 30
key_usage = ["digitalSignature"]
extended_key_usage = ["serverAuth"]
san = {{ required = true, types = ["dns"], dns_suffixes = ["internal.example", "corp.example"] }}

[acme]
listen = "127.0.0.1:{acme}"
tls_cert = "{data}/pki/responder-tls-chain.pem"
tls_key = "{data}/pki/responder-tls-key.pk8"
external_account_required = true
profiles = ["internal"]
default_profile = "internal"
order_lifetime_secs = 2
authz_lifetime_secs = 2

[acme.validation]
resolve = "127.0.0.1"
http_port = {http}

[acme.limits]
orders_per_account_per_hour = 3
certificates_per_domain_per_week = 1
"#,
        data = data.display()
    )
}

/// Starts a control node and waits for its ACME directory.
fn start_control(dir: &Path, name: &str, config: &str, acme: u16) -> Alone {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, config).expect("config");
    let child = Command::new(BIN)
        .args(["control", "--config"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).expect("log"))
        .spawn()
        .expect("start control");
    let alone = Alone(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", acme)).is_err() {
        assert!(Instant::now() < deadline, "control {name} did not start ACME; see {name}.log");
        std::thread::sleep(Duration::from_millis(50));
    }
    alone
}

#[test]
fn a_standalone_acme_server_requires_eab_applies_limits_and_policy_and_shares_nonces_across_nodes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let http = Http01Responder::start(0);
    let (admin, acme) = (free_port(), free_port());
    let config = control_config(&data, admin, acme, http.port);
    let node = start_control(tmp.path(), "control-a", &config, acme);
    let directory = format!("https://127.0.0.1:{acme}/acme/directory");
    let mut c = Client::new(&directory, &data.join("pki/root.pem"));
    assert_eq!(c.directory["meta"]["externalAccountRequired"], true);

    let key = AccountKey::generate();
    let new_account = c.url("newAccount");
    let r = c.post(&new_account, Some(&json!({"termsOfServiceAgreed": true})), &key, None);
    assert_eq!(problem(&r), "externalAccountRequired");
    let eab =
        run(Command::new(BIN).args(["acme", "eab", "create", "--kid", "team-a", "--data-dir"]).arg(&data));
    let hmac = text(&eab).lines().find_map(|l| l.strip_prefix("hmac_key")).expect("hmac").trim().to_owned();
    let wrong = AccountKey::generate().external_account_binding("team-a", &hmac, &new_account);
    let r = c.post(&new_account, Some(&json!({"externalAccountBinding": wrong})), &key, None);
    assert_eq!(problem(&r), "malformed", "a binding of another key");
    let binding = key.external_account_binding("team-a", &hmac, &new_account);
    let r = c.post(&new_account, Some(&json!({"externalAccountBinding": binding})), &key, None);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["externalAccountBinding"]["kid"], "team-a");
    let kid = r.header("Location").expect("account").to_owned();
    let reuse = AccountKey::generate();
    let r = c.post(
        &new_account,
        Some(
            &json!({"externalAccountBinding": reuse.external_account_binding("team-a", &hmac, &new_account)}),
        ),
        &reuse,
        None,
    );
    assert_eq!(problem(&r), "unauthorized", "a binding key is good for one account");

    // The profile's policy, before any validation.
    let new_order = c.url("newOrder");
    let outside = json!({"identifiers": [{"type": "dns", "value": "www.example.com"}, {"type": "dns", "value": "a.internal.example"}]});
    let r = c.post(&new_order, Some(&outside), &key, Some(&kid));
    assert_eq!(problem(&r), "rejectedIdentifier");
    assert_eq!(r.json()["subproblems"][0]["identifier"]["value"], "www.example.com", "{}", r.json());

    // An order left to expire.
    let (expiring_url, _) = order(&mut c, &key, &kid, &["late.internal.example"]);
    std::thread::sleep(Duration::from_millis(2500));
    let expired = c.post(&expiring_url, None, &key, Some(&kid)).json();
    assert_eq!(expired["status"], "invalid", "{expired}");

    // One certificate per registered domain per week here.
    let (first_url, first) = order(&mut c, &key, &kid, &["a.internal.example"]);
    let ready = solve(&mut c, &http, &key, &kid, &first_url, &first);
    let r = finalize(&mut c, &key, &kid, &ready, &csr(&["a.internal.example"]));
    assert_eq!(r.json()["status"], "valid", "{}", r.json());
    let r = c.post(
        &new_order,
        Some(&json!({"identifiers": [{"type": "dns", "value": "b.internal.example"}]})),
        &key,
        Some(&kid),
    );
    assert_eq!((r.status, problem(&r).as_str()), (429, "rateLimited"));
    assert!(r.header("Retry-After").is_some());

    // A nonce from this node, used after a restart, on another node sharing the registry.
    let nonce_for_later = c.nonce();
    drop(node);
    let node = start_control(tmp.path(), "control-a", &config, acme);
    let (admin_b, acme_b) = (free_port(), free_port());
    let config_b = control_config(&data, admin_b, acme_b, http.port);
    let _node_b = start_control(tmp.path(), "control-b", &config_b, acme_b);
    let mut b =
        Client::new(&format!("https://127.0.0.1:{acme_b}/acme/directory"), &data.join("pki/root.pem"));
    let kid_b = kid.replace(&format!(":{acme}/"), &format!(":{acme_b}/"));
    let account_b = kid_b.clone();
    let protected = json!({"alg": "ES256", "kid": kid_b, "nonce": nonce_for_later, "url": account_b});
    let jws = key.sign(&protected, b"");
    assert_eq!(b.post_jws(&account_b, &jws).status, 200, "a nonce from before the restart, on node b");
    let protected_a = json!({"alg": "ES256", "kid": kid, "nonce": nonce_for_later, "url": kid});
    assert_eq!(
        problem(&c.post_jws(&kid, &key.sign(&protected_a, b""))),
        "badNonce",
        "and never again, on node a"
    );

    // Orders per account per hour: three here (two placed so far; the one refused did not count).
    let r = c.post(
        &new_order,
        Some(&json!({"identifiers": [{"type": "dns", "value": "x.corp.example"}]})),
        &key,
        Some(&kid),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = c.post(
        &new_order,
        Some(&json!({"identifiers": [{"type": "dns", "value": "y.corp.example"}]})),
        &key,
        Some(&kid),
    );
    assert_eq!(problem(&r), "rateLimited");
    drop(node);
}
