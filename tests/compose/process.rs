//! Compose services as local processes: the command line of a service (its
//! entrypoint and command; the Cartorio image's entrypoint is this build's
//! binary), its environment, its health check, each rewritten by
//! [`Rewriter`].

use super::Image;
use super::rewrite::Rewriter;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Variables the services read that must come from compose.yaml alone,
/// never from the environment the test runs in.
const CLEARED: &[&str] = &[
    "CARTORIO_DATABASE_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "SSL_CERT_FILE",
];

pub struct Runner<'a> {
    pub rewriter: &'a Rewriter<'a>,
    pub image: &'a Image,
}

/// A long-running service; killed when dropped (also when the test fails).
pub struct Running {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log, for a failure message.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

impl Runner<'_> {
    /// The command compose would run for `argv` in `service`'s container.
    fn command(&self, service: &str, argv: &[String]) -> Command {
        let argv = self.rewriter.command_line(service, argv);
        let (program, args) =
            argv.split_first().unwrap_or_else(|| panic!("{service}: an empty command line"));
        let program = match self.image.entrypoint.first() == Some(program) {
            true => crate::common::BIN.to_owned(),
            false => program.clone(),
        };
        let mut cmd = Command::new(program);
        cmd.args(args);
        for name in CLEARED {
            cmd.env_remove(name);
        }
        // `cartorio` on the PATH, as in the image (docker/pki-init.sh calls it).
        let bin_dir = Path::new(crate::common::BIN).parent().expect("binary dir");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin_dir.to_owned()];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).expect("PATH"));
        for (name, value) in &self.rewriter.compose.services[service].environment {
            cmd.env(name, self.rewriter.compose_string(service, value));
        }
        cmd.current_dir(self.rewriter.root.join("services").join(service));
        cmd
    }

    /// Entrypoint and command: the service's own, or the image's entrypoint.
    fn argv(&self, service: &str) -> Vec<String> {
        let spec = &self.rewriter.compose.services[service];
        let entrypoint = match (&spec.entrypoint, spec.is_cartorio()) {
            (Some(entrypoint), _) => entrypoint.clone(),
            (None, true) => self.image.entrypoint.clone(),
            (None, false) => {
                panic!("{service}: a third-party image's entrypoint must be stated in compose.yaml")
            }
        };
        [entrypoint, spec.command.clone().unwrap_or_default()].concat()
    }

    fn spawn(&self, service: &str) -> (Child, PathBuf) {
        self.rewriter.prepare_mounts(service);
        let dir = self.rewriter.root.join("services").join(service);
        std::fs::create_dir_all(&dir).expect("service dir");
        let log = self.rewriter.root.join(format!("{service}.log"));
        let file = std::fs::File::create(&log).expect("log");
        let child = self
            .command(service, &self.argv(service))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {service}: {e}"));
        (child, log)
    }

    pub fn start(&self, service: &str) -> Running {
        let (child, log) = self.spawn(service);
        Running { name: service.to_owned(), child, log }
    }

    /// Runs a one-shot service to its end; fails the test unless it succeeds.
    pub fn complete(&self, service: &str, within: Duration) {
        let (mut child, log) = self.spawn(service);
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "{service} failed ({status}):\n{}", tail(&log));
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{service} did not finish within {within:?}:\n{}", tail(&log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The body behind a failing health check's URL (/readyz names the
    /// component that is not ready), for the failure message.
    fn what_it_says(&self, service: &str, check: &[String]) -> String {
        let argv = self.rewriter.command_line(service, check);
        let Some(url) = argv.iter().find(|a| a.starts_with("https://")) else {
            return String::new();
        };
        let out = Command::new("curl").args(["-sk", "--max-time", "5", url]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    /// Runs `running`'s compose health check until it passes; fails the
    /// test when the service exits first or `within` passes.
    pub fn wait_healthy(&self, running: &mut Running, within: Duration) {
        let service = running.name.clone();
        let check = self.rewriter.compose.services[&service]
            .health_command()
            .unwrap_or_else(|| panic!("{service} has no health check to wait for"))
            .to_vec();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = running.child.try_wait().expect("wait") {
                panic!("{service} exited ({status}) before it was healthy:\n{}", tail(&running.log));
            }
            let out = self.command(&service, &check).output().expect("health check");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{service} never passed its health check {check:?}: {}{}\nit says: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.what_it_says(&service, &check),
                tail(&running.log)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
