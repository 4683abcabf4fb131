//! A real S3/KMS API server (moto, which `scripts/test.sh` installs in its
//! virtualenv) on loopback, and boto3 to look at it from outside.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server on loopback, killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `moto_server` on a port it binds itself and waits until it
/// serves. The processes a test starts against it sign with the credentials
/// `scripts/test.sh` exports (moto takes any unless told to check).
pub fn start_moto() -> Moto {
    assert!(
        std::env::var_os("AWS_ACCESS_KEY_ID").is_some(),
        "AWS_ACCESS_KEY_ID is not set: scripts/test.sh exports test credentials for moto"
    );
    start_moto_with_env(&[])
}

/// As [`start_moto`], with `env` for the server: `INITIAL_NO_AUTH_ACTION_COUNT`
/// makes it check every request's signature against the IAM users it holds
/// once that many requests have been served.
///
/// Moto binds port 0 and names the port it got (` * Running on
/// http://127.0.0.1:PORT`): a port probed free and handed over could be
/// taken meanwhile by another test's server binding port 0, and moto,
/// failing to bind, would leave that server answering its clients.
pub fn start_moto_with_env(env: &[(&str, &str)]) -> Moto {
    let mut child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", "0"])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("moto_server (pip install 'moto[server]'; scripts/test.sh does)");
    let stderr = child.stderr.take().expect("piped stderr");
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    // Reads moto's log to the end, so it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(port) = line.split("Running on http://127.0.0.1:").nth(1) {
                let _ = port_tx.send(port.trim().parse::<u16>().ok());
            }
        }
    });
    let port = match port_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(port)) => port,
        other => panic!("moto_server did not say where it listens: {other:?}"),
    };
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

/// Runs a boto3 snippet against `endpoint` (`s3` and `kms` clients ready); returns stdout.
pub fn boto3(endpoint: &str, code: &str) -> String {
    let script = format!(
        "import boto3\nkw = dict(endpoint_url={endpoint:?}, region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')\ns3 = boto3.client('s3', **kw)\nkms = boto3.client('kms', **kw)\n{code}\n"
    );
    let out = Command::new("python3").arg("-c").arg(script).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
