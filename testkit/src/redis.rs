//! A throwaway `redis-server` (Debian's `redis-server`, which
//! `scripts/test.sh` installs) on a loopback port, nothing persisted;
//! killed when dropped. `stop` and `start` again on the same port stand for
//! an outage and a recovery.

use crate::free_port;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    /// Arguments beyond the port (TLS, a password).
    extra: Vec<String>,
}

impl Redis {
    /// Starts a server on a free loopback port and waits until it accepts
    /// connections. A port found free can be taken by another test's server
    /// before this one binds it; the server then exits and the port answers
    /// for someone else, so it is checked to be the process started and
    /// started again elsewhere if not.
    pub fn start() -> Self {
        Self::start_checked(Vec::new)
    }

    /// [`Redis::start_with`] on free ports until the server answering is
    /// the one started (up to five tries); `extra` is given the port.
    fn start_checked(extra: impl Fn() -> Vec<String>) -> Self {
        for _ in 0..5 {
            let redis = Self::start_with(free_port(), extra());
            if redis.is_the_server_on_its_port() {
                return redis;
            }
        }
        panic!("no redis-server kept its port in five tries");
    }

    /// A server speaking only TLS on `port`, with the PEM files in `dir`
    /// (`server.pem`/`server.key`, clients' CA `ca.pem`), requiring client
    /// certificates and the password `password`.
    pub fn start_tls(port: u16, dir: &std::path::Path, password: &str) -> Self {
        let file = |name: &str| dir.join(name).display().to_string();
        let extra = [
            ("--port", "0".to_owned()),
            ("--tls-port", port.to_string()),
            ("--tls-cert-file", file("server.pem")),
            ("--tls-key-file", file("server.key")),
            ("--tls-ca-cert-file", file("ca.pem")),
            ("--tls-auth-clients", "yes".to_owned()),
            ("--requirepass", password.to_owned()),
        ];
        Self::start_with(port, extra.into_iter().flat_map(|(k, v)| [k.to_owned(), v]).collect())
    }

    fn start_with(port: u16, extra: Vec<String>) -> Self {
        let mut redis = Self { child: None, port, extra };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against it; its standard output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("redis-cli: {e}"));
        assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Whether the server answering on `port` is the process this started
    /// (by the process id it reports), not another that held the port.
    fn is_the_server_on_its_port(&self) -> bool {
        let Some(pid) = self.child.as_ref().map(Child::id) else { return false };
        let out = Command::new("redis-cli").args(["-p", &self.port.to_string(), "info", "server"]).output();
        out.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == format!("process_id:{pid}"))
        })
    }

    /// Kills the server (an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server on its port, empty, and waits until the port
    /// accepts connections.
    fn spawn(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server; scripts/test.sh does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port, empty (a recovery after
    /// [`Redis::stop`]), and checks that the server answering there is this
    /// one: another test's server may have taken the port meanwhile. (A TLS
    /// server is not asked: the check speaks plain RESP.)
    pub fn restart(&mut self) {
        self.spawn();
        let tls = self.extra.iter().any(|a| a == "--tls-port");
        assert!(tls || self.is_the_server_on_its_port(), "port {} was taken during the outage", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A three-node Redis Cluster (primaries only) on loopback, its state in
/// `dir`; killed when dropped.
pub struct RedisCluster {
    pub nodes: Vec<Redis>,
}

impl RedisCluster {
    /// Three nodes on free loopback ports. A port found free can be taken
    /// by another test's server before a node binds it; the node then
    /// exits and the port answers for someone else, so each node is
    /// checked to be the process started and started again elsewhere if not.
    pub fn start(dir: &std::path::Path) -> Self {
        let nodes: Vec<Redis> = (0..3).map(|_| Self::node(dir)).collect();
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(out.status.success(), "cluster create: {}", String::from_utf8_lossy(&out.stdout));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nodes.iter().all(|n| n.cli(&["cluster", "info"]).contains("cluster_state:ok")) {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { nodes }
    }

    fn node(dir: &std::path::Path) -> Redis {
        Redis::start_checked(|| {
            // The bus port is given: the default (port + 10000) may be
            // past 65535 for an ephemeral port. Each node's configuration
            // file is its own.
            let bus = free_port();
            let extra = [
                ("--cluster-enabled", "yes".to_owned()),
                ("--cluster-port", bus.to_string()),
                ("--cluster-config-file", dir.join(format!("nodes-{bus}.conf")).display().to_string()),
                ("--dir", dir.display().to_string()),
            ];
            extra.into_iter().flat_map(|(k, v)| [k.to_owned(), v]).collect()
        })
    }

    pub fn url(&self) -> String {
        self.nodes[0].url()
    }

    /// Keys matching `pattern` on each node.
    pub fn keys_per_node(&self, pattern: &str) -> Vec<usize> {
        self.nodes.iter().map(|n| n.cli(&["--scan", "--pattern", pattern]).lines().count()).collect()
    }
}
