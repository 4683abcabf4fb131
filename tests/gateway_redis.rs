//! Rate limits shared by gateways on one Redis (`[ratelimit] backend =
//! "redis"`), with a real `redis-server` on loopback: two gateways driven
//! with one key at 10x its rate admit the rate once, not twice; when Redis
//! stops, `on_backend_error` decides (503 + Retry-After, or this process's
//! own limit), and the shared limit is back when Redis is.

mod common;

use cartorio_testkit::redis::Redis;
use common::gateway::{ingest, json, openssl_sha256};
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn config(d: &Path, port: u16, redis: &str, on_error: &str, rate: f64, burst: u32) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
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
        store = d.join(format!("store-{port}")).display(),
        hash = hex::encode(openssl_sha256(b"k-shared"))
    )
}

fn start(d: &Path, name: &str, config_of: impl Fn(u16) -> String) -> (Alone, String) {
    let dir = d.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    (start_alone("gateway", &dir, &config_of(port), port), format!("127.0.0.1:{port}"))
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
    let redis = Redis::start(free_port());
    let url = redis.url();
    let (a, addr_a) = start(tmp.path(), "a", |p| config(tmp.path(), p, &url, "deny", RATE, BURST));
    let (b, addr_b) = start(tmp.path(), "b", |p| config(tmp.path(), p, &url, "deny", RATE, BURST));
    let interval = Duration::from_secs(1) / OFFERED_PER_SEC;
    let started = Instant::now();
    let (mut admitted, mut sent, mut other) = (0u32, 0u32, Vec::new());
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(wait) = (interval * sent).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let addr = if sent % 2 == 0 { &addr_a } else { &addr_b };
        match post(addr).0 {
            202 => admitted += 1,
            429 => {}
            status => other.push(status),
        }
        sent += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop((a, b));
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
    let mut redis = Redis::start(free_port());
    let url = redis.url();
    let (deny, deny_addr) = start(tmp.path(), "deny", |p| config(tmp.path(), p, &url, "deny", 1000.0, 1000));
    let (local, local_addr) =
        start(tmp.path(), "local", |p| config(tmp.path(), p, &url, "local", 1000.0, 1000));
    assert_eq!((post(&deny_addr).0, post(&local_addr).0), (202, 202), "with Redis up");

    redis.stop();
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
    assert!(metrics.contains("rate limit backend unavailable"), "the outage is logged");
}
