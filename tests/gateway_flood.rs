//! Issue 20's acceptance for stage 0 under load: an unauthenticated flood
//! does not delay authenticated clients. A paced client with a good key
//! posts over one keep-alive connection while 500 other connections are
//! open; they post bad keys during every other phase. The client's p99
//! during the flood must stay under twice its p99 without it, every one of
//! its requests must be accepted, and the flood must have run and been
//! refused (401 for bad keys, 429 for an address over its rate). Everything
//! arrives through the PROXY protocol, as from a load balancer, so the
//! flood and the client come from addresses of their own.
//!
//! The phases alternate (alone, flood, alone, flood, ...) instead of one
//! measurement before the flood and one during it: whatever else the host
//! does meanwhile (another build; a hypervisor taking the vCPUs away, up to
//! a third of the time on the VM this was measured on) then weighs on both
//! sides alike, and what differs is the flood.

mod common;

use common::gateway::openssl_sha256;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The paced client: one request every `PACE`, `PHASE` requests a phase,
/// `ROUNDS` times alone then in the flood: 12 s, about 700 measured
/// requests on each side (its p99 is the seventh slowest).
const PACE: Duration = Duration::from_millis(8);
const PHASE: usize = 95;
const ROUNDS: usize = 8;
/// Requests after a phase changes that are not measured (48 ms): the
/// flood's requests in flight finish.
const SETTLE: usize = 6;
const PACED_CLIENT: &str = "192.0.2.10";

/// The flood: 500 connections, each posting a bad key every
/// `FLOOD_INTERVAL` while it is on (500 requests/s in all), each at its
/// own phase. Paced, not as fast as the refusals come: the test drives a
/// debug build, where a refusal costs the gateway about 0.4 ms of CPU
/// (about 60 µs in release), so 500 connections in a closed loop saturate
/// the 2 cores the gateway shares with this process, and a saturated CPU
/// delays every client of any server whatever its admission does. 500/s
/// takes the gateway about 0.2 of a core (as ~3,500/s would in release):
/// what is under test is that refusing stays cheap and never takes what
/// authenticated requests need (in-flight places, budgets, the workers'
/// time). Measured on a 2-core VM: the client's p99 in the flood is 0.7 to
/// 1.8x its p99 alone, also beside a process burning a core; with bad keys
/// made to cost 0.5 ms more CPU, 2.1 to 2.9x (fails); with
/// `max_unauthenticated_in_flight = 1`, the client gets a 503 (fails). At
/// 1,000/s, regressions show more (2.3 to 8x) but so does the flood itself
/// (1.1 to 2x, on an idle host).
const FLOOD_CONNECTIONS: usize = 500;
const FLOOD_INTERVAL: Duration = Duration::from_secs(1);

/// Below this, a p99 is the host's scheduling noise, not the gateway: a
/// request crosses three threads each way (this client, a gateway worker,
/// the store's blocking pool), and each wake-up on a busy 2-core host can
/// cost a few hundred µs. A gateway that queues the client behind the
/// flood costs it milliseconds and still fails the bound.
const P99_FLOOR: Duration = Duration::from_millis(1);

fn config(d: &Path, port: u16) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
proxy_protocol = true
[addresses]
rate_per_sec = 150.0
burst = 150
prefix_rate_per_sec = 1000.0
prefix_burst = 1000
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "paced"
sha256 = "{hash}"
streams = ["logs"]
[[streams]]
name = "logs"
rate_per_sec = 1000.0
burst = 1000
content_types = ["text/plain"]
"#,
        store = d.join("store").display(),
        hash = hex::encode(openssl_sha256(b"k-paced"))
    )
}

fn request(key: &str) -> Vec<u8> {
    let body = "line";
    format!(
        "POST /v1/ingest/logs HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A keep-alive HTTP/1.1 connection through the "load balancer".
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: &str, client: &str) -> std::io::Result<Conn> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(format!("PROXY TCP4 {client} 10.0.0.1 51000 443\r\n").as_bytes())?;
        Ok(Conn { stream, buf: Vec::with_capacity(1024) })
    }

    /// Sends `req`, reads the whole answer; (status, whether the server
    /// closes the connection after it).
    fn exchange(&mut self, req: &[u8]) -> std::io::Result<(u16, bool)> {
        self.stream.write_all(req)?;
        self.buf.clear();
        let mut chunk = [0u8; 2048];
        loop {
            if let Some(answer) = answer(&self.buf) {
                return Ok(answer);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The status of the answer in `buf` and whether the server closes after
/// it, once `buf` holds all of it (head and Content-Length body).
fn answer(buf: &[u8]) -> Option<(u16, bool)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= end + 4 + length).then(|| (status, head.contains("connection: close")))
}

/// The flood's switches and what it saw, by answer.
#[derive(Default)]
struct Flood {
    on: AtomicBool,
    stop: AtomicBool,
    /// Connections past their first request.
    warm: AtomicUsize,
    connects: AtomicU64,
    unauthorized: AtomicU64,
    too_many: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
}

/// Four fifths of the flood come from one address (400 requests/s, over
/// its rate of 150/s: 429 once its burst is spent), the rest from 100
/// addresses of one /24 (1/s each, 100/s for the network, both under their
/// rates: 401). The paced client (125/s) is in another network.
fn flood_address(i: usize) -> String {
    match i % 5 {
        0 => format!("203.0.113.{}", i / 5 + 1),
        _ => "198.51.100.66".to_owned(),
    }
}

impl Flood {
    /// Posts `req` on `conn` (opened first when there is none) and counts the answer.
    async fn post(&self, addr: &str, client: &str, req: &[u8], conn: &mut Option<FloodConn>) {
        if conn.is_none() {
            self.connects.fetch_add(1, Ordering::Relaxed);
            *conn = FloodConn::open(addr, client).await.ok();
        }
        let answer = match conn.as_mut() {
            Some(c) => c.exchange(req).await,
            None => Err(std::io::ErrorKind::NotConnected.into()),
        };
        let counter = match answer {
            Ok((401, _)) => &self.unauthorized,
            Ok((429, _)) => &self.too_many,
            Ok((503, _)) => &self.unavailable,
            Ok(_) => &self.other,
            Err(_) => &self.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !matches!(answer, Ok((_, false))) {
            *conn = None;
        }
    }

    fn refused(&self) -> u64 {
        [&self.unauthorized, &self.too_many, &self.unavailable]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// A flood connection: as [`Conn`], on the flood's own event loop.
struct FloodConn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl FloodConn {
    async fn open(addr: &str, client: &str) -> std::io::Result<FloodConn> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(format!("PROXY TCP4 {client} 10.0.0.1 51000 443\r\n").as_bytes()).await?;
        Ok(FloodConn { stream, buf: Vec::with_capacity(1024) })
    }

    async fn exchange(&mut self, req: &[u8]) -> std::io::Result<(u16, bool)> {
        self.stream.write_all(req).await?;
        self.buf.clear();
        let read = async {
            loop {
                if let Some(answer) = answer(&self.buf) {
                    return Ok(answer);
                }
                if self.stream.read_buf(&mut self.buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read).await.map_err(|_| std::io::ErrorKind::TimedOut)?
    }
}

/// One flood connection: a first bad key at once (the connection's first
/// request costs more, in buffers and first looks: not measured), then one
/// every `FLOOD_INTERVAL` while the flood is on, from a phase of its own
/// (500 connections firing together would be a burst test), reconnecting
/// when the gateway closes.
async fn flood(addr: Arc<str>, i: usize, flood: Arc<Flood>) {
    let (client, req) = (flood_address(i), request(&format!("bad-key-{i}")));
    let mut conn = None;
    flood.post(&addr, &client, &req, &mut conn).await;
    flood.warm.fetch_add(1, Ordering::Relaxed);
    let mut next = tokio::time::Instant::now() + FLOOD_INTERVAL.mul_f64(i as f64 / FLOOD_CONNECTIONS as f64);
    while !flood.stop.load(Ordering::Relaxed) {
        tokio::time::sleep_until(next).await;
        // Late (a busy host): the next turn is an interval from now, not a
        // burst to catch up.
        next = (next + FLOOD_INTERVAL).max(tokio::time::Instant::now());
        if flood.on.load(Ordering::Relaxed) {
            flood.post(&addr, &client, &req, &mut conn).await;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The gateway's own count of requests on `logs` ending as `outcome`.
fn counted(metrics: &str, outcome: &str) -> u64 {
    let series = format!("cartorio_gateway_requests_total{{stream=\"logs\",outcome=\"{outcome}\"}}");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// CPU time of the gateway and of this process (the clients), and wall
/// time, by condition (alone, in the flood).
struct Meter {
    gateway: u32,
    cpu: [[f64; 2]; 2],
    wall: [f64; 2],
    since: ([f64; 2], Instant),
    condition: usize,
}

impl Meter {
    fn start(gateway: u32) -> Self {
        let since = ([cpu_seconds(gateway), cpu_seconds(std::process::id())], Instant::now());
        Self { gateway, cpu: [[0.0; 2]; 2], wall: [0.0; 2], since, condition: 0 }
    }

    /// Closes the current condition's stretch and starts one of `condition`.
    fn switch(&mut self, condition: usize) {
        let now = ([cpu_seconds(self.gateway), cpu_seconds(std::process::id())], Instant::now());
        for who in 0..2 {
            self.cpu[self.condition][who] += now.0[who] - self.since.0[who];
        }
        self.wall[self.condition] += now.1.duration_since(self.since.1).as_secs_f64();
        (self.since, self.condition) = (now, condition);
    }

    /// CPU cores the gateway (0) or the clients (1) used on average under `condition`.
    fn cores(&self, condition: usize, who: usize) -> f64 {
        if self.wall[condition] > 0.0 { self.cpu[condition][who] / self.wall[condition] } else { 0.0 }
    }
}

/// CPU seconds a process has used (user + system), from /proc (0 where
/// there is none: the figure is only reported).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command (which may hold spaces), from the third on.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime, fields 14 and 15 of proc_pid_stat(5), in USER_HZ (100 on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

#[test]
fn an_unauthenticated_flood_does_not_delay_authenticated_clients() {
    // The store in memory when the host has /dev/shm: the client's 202
    // waits for fsyncs, which on a shared CI disk vary by tens of ms from
    // one second to the next and would drown what is under test (the flood
    // never writes to the store).
    let tmp = tempfile::Builder::new()
        .prefix("cartorio-flood")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("tempdir");
    let d = tmp.path();
    let port = free_port();
    let gateway = start_alone_probed("gateway", d, &config(d, port), port, "PROXY UNKNOWN\r\n");
    let addr = format!("127.0.0.1:{port}");

    let mut client = Conn::open(&addr, PACED_CLIENT).expect("paced client");
    let paced = request("k-paced");
    // Warm up: the store's directories, the connection, the code paths.
    for _ in 0..50 {
        assert_eq!(client.exchange(&paced).expect("warm-up").0, 202);
    }

    // The flood runs on one thread of its own, an event loop for its 500
    // connections: the load generator takes as little as it can of the
    // CPU the gateway and the paced client share with it.
    let state = Arc::new(Flood::default());
    let flood_thread = {
        let (addr, state): (Arc<str>, _) = (addr.as_str().into(), state.clone());
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("flood runtime");
            runtime.block_on(async move {
                let tasks: Vec<_> = (0..FLOOD_CONNECTIONS)
                    .map(|i| tokio::spawn(flood(addr.clone(), i, state.clone())))
                    .collect();
                for task in tasks {
                    task.await.expect("flood connection");
                }
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.warm.load(Ordering::Relaxed) < FLOOD_CONNECTIONS {
        assert!(Instant::now() < deadline, "the flood's connections did not open");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Measured twice at most: a second run only when the first misses the
    // bound, so one burst of host noise (hypervisor steal reached 35% here)
    // does not fail the test, while a gateway that does queue its clients
    // behind the flood misses it both times.
    let mut runs = 0;
    let (summary, wall, p99, bound) = loop {
        runs += 1;
        let (alone, during, meter) = measure(&mut client, &paced, &state, gateway.0.id());
        let summary = summarize(&alone, &during, &meter, &state);
        eprintln!("run {runs}: {summary}");
        let bound = 2 * percentile(&alone, 0.99).max(P99_FLOOR);
        let p99 = percentile(&during, 0.99);
        if p99 < bound || runs == 2 {
            break (summary, meter.wall[1] * runs as f64, p99, bound);
        }
    };
    state.stop.store(true, Ordering::Relaxed);
    flood_thread.join().expect("flood thread");
    let sent = [&state.unauthorized, &state.too_many, &state.unavailable, &state.other, &state.errors]
        .map(|c| c.load(Ordering::Relaxed));

    // The flood ran (at least half its paced volume answered) and was refused.
    let expected = FLOOD_CONNECTIONS as f64 * wall / FLOOD_INTERVAL.as_secs_f64();
    assert!(state.refused() as f64 >= expected / 2.0, "the flood fell short of {expected:.0}: {summary}");
    assert_eq!((sent[3], sent[4]), (0, 0), "every flood request gets a refusal: {summary}");
    assert!(sent[0] > 0 && sent[1] > 0, "bad keys get 401, an address over its rate 429: {summary}");
    // The gateway counted the same refusals, and the client's 202s.
    let metrics =
        http(&addr, "PROXY UNKNOWN\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let metrics = String::from_utf8_lossy(&metrics.2);
    assert_eq!(counted(&metrics, "unauthenticated"), sent[0], "{summary}");
    assert_eq!(counted(&metrics, "address_limited"), sent[1], "{summary}");
    assert_eq!(counted(&metrics, "shed"), sent[2], "{summary}");
    assert_eq!(counted(&metrics, "accepted"), (50 + runs * ROUNDS * 2 * PHASE) as u64, "{summary}");
    assert!(p99 < bound, "the flood delayed the authenticated client (p99 bound {bound:?}): {summary}");
    drop(gateway);
}

/// One measurement: the paced client alone and in the flood, in
/// alternating phases; the sorted latencies of each, and the CPU meter.
fn measure(
    client: &mut Conn,
    paced: &[u8],
    state: &Flood,
    gateway: u32,
) -> (Vec<Duration>, Vec<Duration>, Meter) {
    // By condition, alone (0) and in the flood (1).
    let mut latencies = [Vec::new(), Vec::new()];
    let mut meter = Meter::start(gateway);
    let start = Instant::now();
    for n in 0..ROUNDS * 2 * PHASE {
        let flooding = (n / PHASE) % 2;
        if n % PHASE == 0 {
            state.on.store(flooding == 1, Ordering::Relaxed);
            meter.switch(flooding);
        }
        std::thread::sleep((start + PACE * n as u32).saturating_duration_since(Instant::now()));
        let sent = Instant::now();
        let (status, _) = client.exchange(paced).unwrap_or_else(|e| panic!("paced request {n}: {e}"));
        let latency = sent.elapsed();
        assert_eq!(status, 202, "paced request {n} (flood {}) was not accepted", flooding == 1);
        if n % PHASE >= SETTLE {
            latencies[flooding].push(latency);
        }
    }
    state.on.store(false, Ordering::Relaxed);
    meter.switch(0);
    let [alone, during] = latencies.map(|mut l| {
        l.sort();
        l
    });
    (alone, during, meter)
}

fn summarize(alone: &[Duration], during: &[Duration], meter: &Meter, state: &Flood) -> String {
    let sent = [&state.unauthorized, &state.too_many, &state.unavailable, &state.other, &state.errors]
        .map(|c| c.load(Ordering::Relaxed));
    format!(
        "alone: p50 {:?} p99 {:?} max {:?}, CPU: gateway {:.2} cores, clients {:.2}; in the flood: \
         p50 {:?} p99 {:?} max {:?}, CPU: gateway {:.2} cores, clients {:.2}; flood over {:.1} s: \
         401 {} 429 {} 503 {} other {} errors {} connects {}",
        percentile(alone, 0.5),
        percentile(alone, 0.99),
        percentile(alone, 1.0),
        meter.cores(0, 0),
        meter.cores(0, 1),
        percentile(during, 0.5),
        percentile(during, 0.99),
        percentile(during, 1.0),
        meter.cores(1, 0),
        meter.cores(1, 1),
        meter.wall[1],
        sent[0],
        sent[1],
        sent[2],
        sent[3],
        sent[4],
        state.connects.load(Ordering::Relaxed),
    )
}
