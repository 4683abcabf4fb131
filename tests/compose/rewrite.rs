//! From a container's view to this machine's. The test runs each service's
//! command line, environment, health check and configuration files as
//! compose.yaml and docker/config/ state them, with exactly these
//! substitutions and nothing else:
//!
//! 1. compose's `$$` becomes `$` (the only interpolation the file may use);
//! 2. a `postgres://...` URL becomes a fresh database on the throwaway
//!    cluster (`CARTORIO_TEST_POSTGRES_URL`), which stands for the
//!    `postgres` service;
//! 3. the container paths of the service's volumes become directories of
//!    the test: a named volume `NAME` is `ROOT/volumes/NAME` (shared, as
//!    Docker shares it), a file of docker/ a copy rewritten by these rules;
//! 4. `0.0.0.0:N`, `127.0.0.1:N` and `localhost:N` in a service's own
//!    strings become `127.0.0.1:P`, and `HOST:N` for a compose host name
//!    that one service answers to becomes that service's `127.0.0.1:P`, P
//!    a loopback port of the test's for each (service, N). A host name
//!    without a port (a certificate's name) is left alone. On a command
//!    line, where host and port may be arguments of their own (moto's
//!    `-H 0.0.0.0 -p 5000`), an argument `0.0.0.0` becomes `127.0.0.1` and
//!    the number after `-p` or `--port` becomes P.
//!
//! Files of docker/ get one more, named in [`Rewriter::file`]: the TSA
//! trusts the clock of this machine, whose kernel does not report it
//! synchronised.

use super::{Compose, Mount, Source};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Rewriter<'a> {
    pub compose: &'a Compose,
    pub root: PathBuf,
    pub database_url: String,
    ports: Mutex<BTreeMap<(String, u16), u16>>,
}

impl<'a> Rewriter<'a> {
    pub fn new(compose: &'a Compose, root: &Path, database_url: &str) -> Self {
        Self {
            compose,
            root: root.to_owned(),
            database_url: database_url.to_owned(),
            ports: Mutex::new(BTreeMap::new()),
        }
    }

    /// The loopback port standing for `service`'s container port `port`.
    pub fn port(&self, service: &str, port: u16) -> u16 {
        let mut ports = self.ports.lock().unwrap_or_else(|p| p.into_inner());
        *ports.entry((service.to_owned(), port)).or_insert_with(crate::common::free_port)
    }

    pub fn volume(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name)
    }

    /// Where `service` finds its copy of a file of docker/.
    fn bind_copy(&self, service: &str, target: &str) -> PathBuf {
        let file = Path::new(target).file_name().expect("a bind mount names a file");
        self.root.join("services").join(service).join(file)
    }

    /// A string of compose.yaml (argument, environment value, health check).
    pub fn compose_string(&self, service: &str, text: &str) -> String {
        let unescaped = text.replace("$$", "\u{0}");
        assert!(!unescaped.contains('$'), "{service}: {text:?}: compose interpolation is not used here");
        self.rewrite(service, &unescaped.replace('\u{0}', "$"))
    }

    /// A command line of compose.yaml (entrypoint and command, or a health check).
    pub fn command_line(&self, service: &str, argv: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(argv.len());
        for arg in argv {
            let after_port_flag = out.last().is_some_and(|flag| flag == "-p" || flag == "--port");
            let rewritten = match (arg.as_str(), arg.parse::<u16>()) {
                ("0.0.0.0", _) => "127.0.0.1".to_owned(),
                (_, Ok(port)) if after_port_flag => self.port(service, port).to_string(),
                _ => self.compose_string(service, arg),
            };
            out.push(rewritten);
        }
        out
    }

    /// A file of docker/ as `service` sees it.
    pub fn file(&self, service: &str, text: &str) -> String {
        // The one substitution that is not an address: this machine's
        // kernel reports its clock unsynchronised, and the TSA (rightly)
        // refuses to time-stamp then. A host running compose has NTP.
        self.rewrite(service, text)
            .replace("danger_trust_system_clock = false", "danger_trust_system_clock = true")
    }

    /// Creates the service's volumes and rewritten files (rules 3 and 1-4).
    pub fn prepare_mounts(&self, service: &str) {
        for mount in self.compose.services[service].mounts() {
            match &mount.source {
                Source::Volume(name) => std::fs::create_dir_all(self.volume(name)).expect("volume dir"),
                Source::Bind(path) => {
                    let text = std::fs::read_to_string(path)
                        .unwrap_or_else(|e| panic!("{service}: {}: {e}", path.display()));
                    let copy = self.bind_copy(service, &mount.target);
                    std::fs::create_dir_all(copy.parent().expect("parent")).expect("service dir");
                    std::fs::write(&copy, self.file(service, &text)).expect("rewritten file");
                }
            }
        }
    }

    /// Addresses first and the database URL last: the cluster's own
    /// `127.0.0.1:PORT` must not be taken for one of the service's.
    fn rewrite(&self, service: &str, text: &str) -> String {
        let text = self.addresses(service, text);
        let text = self.paths(service, &text);
        self.database_urls(&text)
    }

    /// Rule 2.
    fn database_urls(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("postgres://") {
            out.push_str(&rest[..at]);
            let url = &rest[at..];
            let end = url.find(|c: char| c.is_whitespace() || c == '"' || c == '\'').unwrap_or(url.len());
            out.push_str(&self.database_url);
            rest = &url[end..];
        }
        out.push_str(rest);
        out
    }

    /// Rule 3, the longest container path first.
    fn paths(&self, service: &str, text: &str) -> String {
        let mut mounts: Vec<Mount> = self.compose.services[service].mounts();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.target.len()));
        let mut text = text.to_owned();
        for mount in mounts {
            let host = match &mount.source {
                Source::Volume(name) => self.volume(name),
                Source::Bind(_) => self.bind_copy(service, &mount.target),
            };
            text = text.replace(&mount.target, &host.display().to_string());
        }
        text
    }

    /// Rule 4, in one pass (a replacement is never rewritten again).
    fn addresses(&self, service: &str, text: &str) -> String {
        let mut hosts: Vec<(String, String)> = ["0.0.0.0", "127.0.0.1", "localhost"]
            .iter()
            .map(|h| (h.to_string(), service.to_owned()))
            .collect();
        for host in self.compose.host_names() {
            if let Some(owner) = self.compose.service_of_host(&host) {
                hosts.push((host.clone(), owner.to_owned()));
            }
        }
        hosts.sort_by_key(|(host, _)| std::cmp::Reverse(host.len()));
        let mut out = String::new();
        let mut rest = text;
        'scan: while let Some(c) = rest.chars().next() {
            let at_boundary =
                out.chars().last().is_none_or(|p| !(p.is_ascii_alphanumeric() || p == '.' || p == '-'));
            if at_boundary {
                for (host, owner) in &hosts {
                    let Some(after) = rest.strip_prefix(host.as_str()).and_then(|r| r.strip_prefix(':'))
                    else {
                        continue;
                    };
                    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                    let Ok(port) = after[..digits].parse::<u16>() else { continue };
                    out.push_str(&format!("127.0.0.1:{}", self.port(owner, port)));
                    rest = &after[digits..];
                    continue 'scan;
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    // The rules are exercised by the compose test itself; these pin the
    // corner cases a typo in compose.yaml would hit.
    use super::*;

    fn compose() -> Compose {
        Compose::load()
    }

    #[test]
    fn addresses_paths_and_urls_are_rewritten_once() {
        let compose = compose();
        let root = Path::new("/tmp/root");
        let rw = Rewriter::new(&compose, root, "postgres://postgres@127.0.0.1:1/db");
        let p = rw.port("s3", 5000);
        let own = rw.port("tsa", 8443);
        let text = "endpoint = \"https://s3.cartorio.internal:5000\"\nlisten = \"0.0.0.0:8443\"\n\
                    ocsp = \"http://ocsp.cartorio.internal:8080\"\nurl = \"postgres://u:p@postgres.cartorio.internal:5432/c\"\n\
                    log = \"/var/lib/cartorio/tsa/issued.log\"\nname = s3.cartorio.internal";
        let out = rw.rewrite("tsa", text);
        assert!(out.contains(&format!("https://127.0.0.1:{p}\"")), "{out}");
        assert!(out.contains(&format!("listen = \"127.0.0.1:{own}\"")), "{out}");
        assert!(out.contains("http://ocsp.cartorio.internal:8080"), "a shared name stays: {out}");
        assert!(out.contains("url = \"postgres://postgres@127.0.0.1:1/db\""), "{out}");
        assert!(out.contains("/tmp/root/volumes/tsa/issued.log"), "{out}");
        assert!(out.ends_with("name = s3.cartorio.internal"), "a name without a port stays: {out}");
        let argv: Vec<String> = ["-H", "0.0.0.0", "-p", "5000", "-c", "5000"].map(String::from).to_vec();
        let out = rw.command_line("s3", &argv);
        assert_eq!(out, ["-H", "127.0.0.1", "-p", &p.to_string(), "-c", "5000"], "{out:?}");
    }
}
