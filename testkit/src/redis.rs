//! A throwaway `redis-server` (Debian's `redis-server`, which
//! `scripts/test.sh` installs) on a loopback port, nothing persisted;
//! killed when dropped. `stop` and `start` again on the same port stand for
//! an outage and a recovery.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    /// Arguments beyond the port (TLS, a password).
    extra: Vec<String>,
}

impl Redis {
    /// Starts a server on `port` and waits until it accepts connections.
    pub fn start(port: u16) -> Self {
        Self::start_with(port, Vec::new())
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
        redis.restart();
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

    /// Kills the server (an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
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
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
