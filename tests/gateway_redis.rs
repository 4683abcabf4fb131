//! Rate limits shared by gateways on one Redis (`[ratelimit] backend =
//! "redis"`), with a real `redis-server` on loopback: two gateways driven
//! with one key at 10x its rate admit the rate once, not twice; when Redis
//! stops, `on_backend_error` decides (503 + Retry-After, or this process's
//! own limit), and the shared limit is back when Redis is. Idempotency
//! claims, the quarantine quota and usage plans are shared the same way.

mod common;

use cartorio_testkit::redis::{Redis, RedisCluster};
use common::gateway::{ingest, json, openssl_sha256};
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn config(d: &Path, port: u16, redis: &str, on_error: &str, rate: f64, burst: u32) -> String {
    config_with(port, redis, on_error, rate, burst, "", &d.join(format!("store-{port}")))
}

/// As [`config`], with top-level settings `top` and the store at `store`.
fn config_with(
    port: u16,
    redis: &str,
    on_error: &str,
    rate: f64,
    burst: u32,
    top: &str,
    store: &Path,
) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
{top}
[ratelimit]
backend = "redis"
url = "{redis}"
on_backend_error = "{on_error}"
timeout_ms = 200
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "shared"
sha256 = "{hash}"
streams = ["metered"]
[[streams]]
name = "metered"
rate_per_sec = {rate:.1}
burst = {burst}
content_types = ["text/plain"]
"#,
        store = store.display(),
        hash = hex::encode(openssl_sha256(b"k-shared"))
    )
}

/// A gateway started and ready: its Redis link answers (`/readyz`), so
/// the first requests are not spent connecting within `timeout_ms`.
fn start(d: &Path, name: &str, config_of: impl Fn(u16) -> String) -> (Alone, String) {
    let (gateway, addr) = start_unready(d, name, config_of);
    let deadline = Instant::now() + Duration::from_secs(20);
    while readyz(&addr).0 != 200 {
        assert!(Instant::now() < deadline, "gateway {name} not ready: {}", readyz(&addr).1);
        std::thread::sleep(Duration::from_millis(50));
    }
    (gateway, addr)
}

/// A gateway started (`/healthz` answers), ready or not.
fn start_unready(d: &Path, name: &str, config_of: impl Fn(u16) -> String) -> (Alone, String) {
    let dir = d.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    (start_alone("gateway", &dir, &config_of(port), port), format!("127.0.0.1:{port}"))
}

fn readyz(addr: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = http(addr, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

fn post(addr: &str) -> (u16, String, String) {
    ingest(addr, "metered", Some("k-shared"), "text/plain", b"tick", &[])
}

#[test]
fn two_gateways_on_one_redis_admit_the_rate_once() {
    const RATE: f64 = 50.0;
    const BURST: u32 = 10;
    const OFFERED_PER_SEC: u32 = 500;
    let tmp = tempfile::tempdir().expect("tempdir");
    let redis = Redis::start();
    let url = redis.url();
    let (a, addr_a) = start(tmp.path(), "a", |p| config(tmp.path(), p, &url, "deny", RATE, BURST));
    let (b, addr_b) = start(tmp.path(), "b", |p| config(tmp.path(), p, &url, "deny", RATE, BURST));
    // Four paced clients: one sequential client offered only ~230/s on a
    // loaded 2-core CI machine (a debug gateway inspects each request), too
    // close to the 5x-the-rate floor that makes this a test of the limiter.
    const CLIENTS: u32 = 4;
    let interval = Duration::from_secs(1) * CLIENTS / OFFERED_PER_SEC;
    let started = Instant::now();
    let tallies: Vec<(u32, u32, Vec<u16>)> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let addr = if client % 2 == 0 { &addr_a } else { &addr_b };
                scope.spawn(move || {
                    let (mut admitted, mut sent, mut other) = (0u32, 0u32, Vec::new());
                    while started.elapsed() < Duration::from_secs(10) {
                        if let Some(wait) = (interval * sent).checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        match post(addr).0 {
                            202 => admitted += 1,
                            429 => {}
                            status => other.push(status),
                        }
                        sent += 1;
                    }
                    (admitted, sent, other)
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().expect("client")).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    drop((a, b));
    let admitted: u32 = tallies.iter().map(|t| t.0).sum();
    let sent: u32 = tallies.iter().map(|t| t.1).sum();
    let other: Vec<u16> = tallies.into_iter().flat_map(|t| t.2).collect();
    assert!(other.is_empty(), "only 202 or 429: {other:?}");
    let offered = f64::from(sent) / elapsed;
    assert!(offered >= 5.0 * RATE, "offered {offered:.0}/s");
    let expected = RATE * elapsed + f64::from(BURST);
    let error = (f64::from(admitted) - expected).abs() / expected;
    eprintln!("two gateways admitted {admitted} of {sent} in {elapsed:.2} s; expected {expected:.1}");
    assert!(error <= 0.02, "admitted {admitted}, expected {expected:.0} (error {:.1}%)", error * 100.0);
}

#[test]
fn a_redis_outage_is_refused_or_local_as_configured_and_heals() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut redis = Redis::start();
    let url = redis.url();
    let (deny, deny_addr) = start(tmp.path(), "deny", |p| config(tmp.path(), p, &url, "deny", 1000.0, 1000));
    let (local, local_addr) =
        start(tmp.path(), "local", |p| config(tmp.path(), p, &url, "local", 1000.0, 1000));
    assert_eq!((post(&deny_addr).0, post(&local_addr).0), (202, 202), "with Redis up");

    redis.stop();
    // Readiness follows: not ready where every request would be refused.
    let (status, doc) = readyz(&deny_addr);
    assert_eq!(status, 503, "{doc}");
    assert_eq!(doc["components"]["shared_backend"]["answers"], false, "{doc}");
    let (status, doc) = readyz(&local_addr);
    assert_eq!(status, 200, "deciding alone, still ready: {doc}");
    assert_eq!(doc["components"]["shared_backend"]["answers"], false, "{doc}");
    let (status, headers, body) = post(&deny_addr);
    assert_eq!(status, 503, "{body}");
    assert_eq!(json(&body)["reason"], "rate_limit_unavailable");
    assert!(headers.contains("retry-after:"), "{headers}");
    for _ in 0..5 {
        assert_eq!(post(&local_addr).0, 202, "the local limit admits while Redis is down");
    }

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while post(&deny_addr).0 != 202 {
        assert!(Instant::now() < deadline, "no recovery after Redis came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop((deny, local));
    let metrics = std::fs::read_to_string(tmp.path().join("deny/gateway.log")).expect("log");
    assert!(metrics.contains("shared backend (Redis) unavailable"), "the outage is logged");
}

fn post_keyed(addr: &str, key: &str, body: &[u8]) -> (u16, String, String) {
    ingest(addr, "metered", Some("k-shared"), "text/plain", body, &[&format!("Idempotency-Key: {key}")])
}

#[test]
fn idempotency_claims_and_the_quarantine_quota_hold_across_gateways() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let redis = Redis::start();
    let url = redis.url();
    // Two gateways on one Redis and one store; a 2 s TTL, a 100-byte quota.
    let top = "quarantine_quota_bytes = 100\nidempotency_ttl_secs = 2";
    let store = tmp.path().join("store");
    let config_of = |p: u16| config_with(p, &url, "deny", 1000.0, 1000, top, &store);
    let (a, addr_a) = start(tmp.path(), "a", config_of);
    let (b, addr_b) = start(tmp.path(), "b", config_of);

    // The first request runs on A; its retry on B gets the same result.
    let (status, _, first) = post_keyed(&addr_a, "order-1", b"one");
    assert_eq!(status, 202, "{first}");
    let (status, headers, again) = post_keyed(&addr_b, "order-1", b"one");
    assert_eq!((status, again.as_str()), (202, first.as_str()));
    assert!(headers.contains("idempotent-replayed: true"), "{headers}");
    // Another body under the same key: 422, on either gateway.
    for addr in [&addr_a, &addr_b] {
        let (status, _, body) = post_keyed(addr, "order-1", b"two");
        assert_eq!(status, 422, "{body}");
        assert_eq!(json(&body)["reason"], "idempotency_key_reused");
    }
    // A claim held by a gateway still running the request: 409 for the same
    // body, 422 for another (the claim is written as a gateway would).
    let record = hex::encode(openssl_sha256(b"shared\0order-2"));
    let body_sha = hex::encode(openssl_sha256(b"three"));
    let shared_key = format!("{{idem:metered}}:{record}");
    redis.cli(&["SET", &shared_key, &format!("pending {body_sha}"), "PX", "60000"]);
    let (status, _, body) = post_keyed(&addr_b, "order-2", b"three");
    assert_eq!((status, json(&body)["reason"].as_str()), (409, Some("idempotency_key_in_use")), "{body}");
    assert_eq!(post_keyed(&addr_a, "order-2", b"four").0, 422);
    // A settled key lives for the TTL on Redis, then the key is free again.
    let first_key = format!("{{idem:metered}}:{}", hex::encode(openssl_sha256(b"shared\0order-1")));
    assert!(redis.cli(&["GET", &first_key]).starts_with("done "), "settled on Redis");
    let ttl: i64 = redis.cli(&["PTTL", &first_key]).parse().expect("a TTL");
    assert!((1..=2000).contains(&ttl), "expires with idempotency_ttl_secs: {ttl} ms");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(post_keyed(&addr_b, "order-1", b"two").0, 202, "after the TTL the key is new");

    // The quarantine quota (100 bytes a day) is shared: A keeps 60 bytes, B
    // may not keep 60 more. Both refuse the payload (415) all the same.
    let rejected = [b'x'; 60];
    for addr in [&addr_a, &addr_b] {
        let (status, _, _) = ingest(addr, "metered", Some("k-shared"), "application/json", &rejected, &[]);
        assert_eq!(status, 415);
    }
    drop((a, b));
    let kept = walk_files(&tmp.path().join("store/quarantine"))
        .iter()
        .filter(|p| !p.ends_with(".meta.json"))
        .count();
    assert_eq!(kept, 1, "one payload within the shared quota");
    let used = redis.cli(&["--scan", "--pattern", "{cartorio:quarantine}:*"]);
    assert_eq!(redis.cli(&["GET", &used]), "60");
}

#[test]
fn a_usage_plan_counts_a_key_once_over_two_gateways() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let redis = Redis::start();
    let url = redis.url();
    let config_of = |p: u16| {
        config(tmp.path(), p, &url, "deny", 1000.0, 1000)
            .replace("streams = [\"metered\"]", "streams = [\"metered\"]\nplan = \"trial\"")
            + "[[plans]]\nname = \"trial\"\nrequests_per_day = 5\nbytes_per_month = 1000000\n"
    };
    let (a, addr_a) = start(tmp.path(), "a", config_of);
    let (b, addr_b) = start(tmp.path(), "b", config_of);
    let mut statuses = Vec::new();
    let mut last_headers = String::new();
    for i in 0..6 {
        let (status, headers, body) = post(if i % 2 == 0 { &addr_a } else { &addr_b });
        if status == 202 {
            // The day's quota (5) is tighter than the stream's burst (1000).
            assert!(headers.contains(&format!("ratelimit: \"day\";r={};t=", 4 - i)), "{headers}");
        } else {
            assert_eq!(json(&body)["reason"], "quota_exceeded", "{body}");
        }
        statuses.push(status);
        last_headers = headers;
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429]);
    assert!(last_headers.contains("ratelimit: \"day\";r=0;t="), "{last_headers}");
    let retry_after: u64 = last_headers
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("Retry-After");
    assert!((1..=86_400).contains(&retry_after), "until midnight UTC: {retry_after}");
    assert!(
        last_headers.contains("ratelimit-policy: \"stream\";q=1000;w=1, \"day\";q=5;w=86400"),
        "{last_headers}"
    );
    drop((a, b));
}

#[test]
fn redis_over_tls_with_a_password_and_a_client_certificate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).expect("pki");
    make_pki(&pki, "gateway");
    let redis = Redis::start_tls(free_port(), &pki, "s3cret");
    let tls = |password: &str, client_cert: bool| {
        let url = format!("rediss://:{password}@127.0.0.1:{}", redis.port);
        let mut config = config(tmp.path(), 0, &url, "deny", 1000.0, 1000);
        let mut files = format!("ca_file = \"{}\"\n", pki.join("ca.pem").display());
        if client_cert {
            files += &format!(
                "cert_file = \"{}\"\nkey_file = \"{}\"\n",
                pki.join("client.pem").display(),
                pki.join("client.key").display()
            );
        }
        config = config.replace("timeout_ms = 200\n", &format!("timeout_ms = 2000\n{files}"));
        move |port: u16| config.replace("127.0.0.1:0\"", &format!("127.0.0.1:{port}\""))
    };
    let (good, good_addr) = start(tmp.path(), "good", tls("s3cret", true));
    let (status, _, body) = post(&good_addr);
    assert_eq!(status, 202, "decided on Redis over TLS: {body}");
    let (bad_password, bad_password_addr) = start_unready(tmp.path(), "bad-password", tls("wrong", true));
    let (no_cert, no_cert_addr) = start_unready(tmp.path(), "no-cert", tls("s3cret", false));
    for addr in [&bad_password_addr, &no_cert_addr] {
        let (status, doc) = readyz(addr);
        assert_eq!(status, 503, "{doc}");
        assert!(doc["components"]["shared_backend"]["error"].is_string(), "{doc}");
        let (status, _, body) = post(addr);
        assert_eq!((status, json(&body)["reason"].as_str()), (503, Some("rate_limit_unavailable")), "{body}");
    }
    drop((good, bad_password, no_cert));
}

#[test]
fn a_redis_cluster_holds_each_scripts_keys_on_one_slot() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cluster = RedisCluster::start(tmp.path());
    let url = cluster.url();
    let store = tmp.path().join("store");
    let config_of = |p: u16| {
        config_with(p, &url, "deny", 1.0, 3, "", &store)
            .replace("backend = \"redis\"", "backend = \"redis\"\ncluster = true")
            .replace("streams = [\"metered\"]", "streams = [\"metered\"]\nplan = \"trial\"")
            + "[[plans]]\nname = \"trial\"\nrequests_per_month = 100\n"
    };
    let (a, addr_a) = start(tmp.path(), "a", config_of);
    let (b, addr_b) = start(tmp.path(), "b", config_of);
    // A burst of 3 shared by both gateways: the fourth and fifth are refused.
    let statuses: Vec<u16> = (0..5).map(|i| post(if i % 2 == 0 { &addr_a } else { &addr_b }).0).collect();
    assert_eq!(statuses, [202, 202, 202, 429, 429]);
    let (status, _, body) = post_keyed(&addr_b, "k-1", b"x");
    assert_eq!(status, 429, "still over the rate: {body}");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(post_keyed(&addr_b, "k-1", b"x").0, 202);
    std::thread::sleep(Duration::from_millis(1100));
    let (status, headers, _) = post_keyed(&addr_a, "k-1", b"x");
    assert!(status == 202 && headers.contains("idempotent-replayed: true"), "{status} {headers}");
    drop((a, b));
    // Each family of keys lives on the node of its hash tag.
    for pattern in ["{rl:metered}:*", "{idem:metered}:*", "{quota:*"] {
        let per_node = cluster.keys_per_node(pattern);
        assert_eq!(per_node.iter().filter(|n| **n > 0).count(), 1, "{pattern}: {per_node:?}");
    }
}
