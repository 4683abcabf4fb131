//! docker/compose.yaml, run without Docker: every service's own command
//! line, environment, configuration files (docker/config/, docker/pki-init.sh),
//! start order and health checks, as local processes. The rewriting from
//! container paths and compose host names to this machine is mechanical
//! and documented in `compose::rewrite`. Third-party services run as
//! their local equivalents: PostgreSQL is the throwaway cluster of
//! scripts/test.sh (`CARTORIO_TEST_POSTGRES_URL`; the test fails without
//! it), S3 is moto_server with compose's own arguments.
//!
//! Then it checks what the deployment is for: every Cartorio service's
//! /readyz over TLS, verified against the compose CA's root under the
//! service's compose name; a certificate issued through the control node's
//! admin API is `good` at both responders (`openssl ocsp`); the TSA's token
//! passes `openssl ts -verify`; the gateway accepts an ingest (202).

mod common;
mod compose;

use cartorio_testkit::postgres::{POSTGRES_URL_VAR, TestDatabase};
use common::*;
use compose::process::{Runner, Running, tail};
use compose::rewrite::Rewriter;
use compose::{Compose, Condition, Image, Source};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(60);

#[test]
fn the_compose_deployment_comes_up_and_serves_over_tls() {
    let compose = Compose::load();
    let image = Image::load();
    check_static(&compose, &image);

    let admin_url = std::env::var(POSTGRES_URL_VAR).ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
        panic!(
            "{POSTGRES_URL_VAR} is not set: this test runs compose's control node on PostgreSQL. \
             scripts/test.sh starts a throwaway cluster and sets it; alone: \
             `. scripts/postgres-throwaway.sh && start_throwaway_postgres`"
        )
    });
    let database = TestDatabase::create(&admin_url, "compose").expect("a database on the throwaway cluster");
    let tmp = tempfile::tempdir().expect("tempdir");
    let rewriter = Rewriter::new(&compose, tmp.path(), &database.url);
    let runner = Runner { rewriter: &rewriter, image: &image };

    let started = Instant::now();
    let mut running: Vec<Running> = Vec::new();
    for name in compose.start_order() {
        let service = &compose.services[name];
        for (dependency, on) in &service.depends_on {
            if on.condition == Condition::Healthy
                && let Some(dep) = running.iter_mut().find(|r| r.name == *dependency)
            {
                runner.wait_healthy(dep, STARTUP);
            }
        }
        if service.image.starts_with("postgres:") {
            continue; // the throwaway cluster stands for it (its URL is rewritten)
        }
        if compose.is_one_shot(name) {
            runner.complete(name, STARTUP);
        } else {
            running.push(runner.start(name));
        }
    }
    for service in running.iter_mut() {
        runner.wait_healthy(service, STARTUP);
    }
    eprintln!("compose services healthy in {:.1} s", started.elapsed().as_secs_f64());

    let deployment = Deployment { rewriter: &rewriter, root: tmp.path() };
    deployment.readyz_over_tls();
    let cert = deployment.issue_through_control(tmp.path());
    deployment.good_at_both_responders(&cert);
    deployment.time_stamp(tmp.path());
    deployment.ingest();
    drop(running);
}

/// What compose.yaml and the Dockerfile must say, checked before running.
fn check_static(compose: &Compose, image: &Image) {
    assert!(!image.user.starts_with("root") && !image.user.starts_with("0"), "the image runs as root");
    for (name, service) in &compose.services {
        // Pulled images are pinned to a version; ours is built here.
        let (_, tag) =
            service.image.rsplit_once(':').unwrap_or_else(|| panic!("{name}: image without a tag"));
        let pinned = tag.chars().any(|c| c.is_ascii_digit()) && tag != "latest";
        assert!(pinned || service.is_cartorio(), "{name}: pin {}", service.image);
        // Compose restarts a one-shot step that has done its job, unless told not to.
        let restart = service.restart.as_deref();
        match compose.is_one_shot(name) {
            true => assert_eq!(restart, Some("no"), "{name} is a one-shot step"),
            false => assert!(restart.is_some_and(|r| r != "no"), "{name}: restart policy {restart:?}"),
        }
        for mount in service.mounts() {
            match &mount.source {
                Source::Volume(volume) => assert!(compose.volumes.contains_key(volume), "{name}: {volume}"),
                Source::Bind(file) => {
                    assert!(mount.read_only, "{name}: {} is mounted writable", file.display())
                }
            }
        }
        if !service.is_cartorio() {
            continue;
        }
        let build = service.build.as_ref().expect("build");
        assert_eq!(
            (build.context.as_str(), build.dockerfile.as_str()),
            ("..", "docker/Dockerfile"),
            "{name}"
        );
        // Every volume a Cartorio service mounts is declared by the image,
        // which creates it owned by its user.
        for mount in service.mounts() {
            if matches!(mount.source, Source::Volume(_)) {
                assert!(image.volumes.contains(&mount.target), "{name}: {} is not a VOLUME", mount.target);
            }
        }
        if !compose.is_one_shot(name) {
            let check = service.health_command().unwrap_or_else(|| panic!("{name} has no health check"));
            assert!(
                check.iter().any(|a| a.starts_with("https://") && a.ends_with("/readyz")),
                "{name}: {check:?}"
            );
        }
    }
}

struct Deployment<'a> {
    rewriter: &'a Rewriter<'a>,
    root: &'a Path,
}

impl Deployment<'_> {
    fn root_pem(&self) -> std::path::PathBuf {
        self.rewriter.volume("tls").join("root.pem")
    }

    /// The loopback port of `service`'s TLS listener: the one its health
    /// check asks (`https://127.0.0.1:N/readyz`).
    fn tls_port(&self, service: &str) -> u16 {
        let check = self.rewriter.compose.services[service].health_command().expect("health check");
        let url = check.iter().find(|a| a.starts_with("https://")).expect("an https URL");
        let port = url.trim_start_matches("https://127.0.0.1:").split('/').next().expect("port");
        self.rewriter.port(service, port.parse().expect("a port number"))
    }

    /// curl over TLS to `service` by its compose name (its first alias),
    /// trusting only the compose root; returns (status, body).
    fn curl(&self, service: &str, path: &str, extra: &[&str]) -> (u16, String) {
        let port = self.tls_port(service);
        let aliases = &self.rewriter.compose.services[service].networks["default"].aliases;
        let host = aliases.first().unwrap_or_else(|| panic!("{service} has no network alias"));
        let out = run(Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", "--cacert"])
            .arg(self.root_pem())
            .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
            .args(extra)
            .arg(format!("https://{host}:{port}{path}")));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", ""));
        assert!(out.status.success(), "curl https://{host}:{port}{path}: {}", text(&out));
        (status.parse().unwrap_or(0), body.to_owned())
    }

    fn readyz_over_tls(&self) {
        for (name, service) in &self.rewriter.compose.services {
            if service.is_cartorio() && !self.rewriter.compose.is_one_shot(name) {
                let (status, body) = self.curl(name, "/readyz", &[]);
                assert_eq!(
                    status,
                    200,
                    "{name} /readyz: {body}\n{}",
                    tail(&self.root.join(format!("{name}.log")))
                );
                serde_json::from_str::<serde_json::Value>(&body).expect("readyz JSON");
            }
        }
    }

    fn control_pki(&self) -> std::path::PathBuf {
        self.rewriter.volume("control").join("pki")
    }

    /// A server certificate issued through the control's admin API (TLS,
    /// bearer token); returns its PEM file.
    fn issue_through_control(&self, dir: &Path) -> std::path::PathBuf {
        let token_file = self.rewriter.volume("control").join("control/admin-token");
        let token = std::fs::read_to_string(&token_file).expect("the control's admin token");
        let csr = make_csr(dir, "site", "site.example.test");
        let auth = format!("Authorization: Bearer {}", token.trim());
        let (status, body) = self.curl(
            "control",
            "/v1/certificates?profile=server",
            &[
                "-H",
                &auth,
                "-H",
                "Content-Type: application/pkcs10",
                "--data-binary",
                &format!("@{}", csr.display()),
            ],
        );
        assert_eq!(status, 201, "issue: {body}");
        let issued: serde_json::Value = serde_json::from_str(&body).expect("issue JSON");
        let cert = dir.join("site.pem");
        std::fs::write(&cert, issued["certificate"].as_str().expect("certificate")).expect("write");
        cert
    }

    /// `openssl ocsp` over the responders' plain HTTP (where relying
    /// parties ask): each has read the control's publication from S3.
    fn good_at_both_responders(&self, cert: &Path) {
        for responder in ["responder-a", "responder-b"] {
            let url = format!("http://127.0.0.1:{}", self.rewriter.port(responder, 8080));
            let out = ocsp_until(&url, &self.control_pki(), cert, "good", &[], Duration::from_secs(20));
            assert!(out.contains("Response verify OK"), "{responder}: {out}");
            assert_eq!(status_of(&out, cert).as_deref(), Some("good"), "{responder}: {out}");
        }
    }

    /// An RFC 3161 token over TLS from the TSA, verified by openssl up to the root.
    fn time_stamp(&self, dir: &Path) {
        let data = dir.join("doc.txt");
        std::fs::write(&data, b"a document\n").expect("doc");
        let (query, reply) = (dir.join("doc.tsq"), dir.join("doc.tsr"));
        let out = run(Command::new("openssl")
            .args(["ts", "-query", "-sha256", "-cert", "-data"])
            .arg(&data)
            .arg("-out")
            .arg(&query));
        assert!(out.status.success(), "openssl ts -query: {}", text(&out));
        let (status, body) = self.curl(
            "tsa",
            "/tsa",
            &[
                "-H",
                "Content-Type: application/timestamp-query",
                "--data-binary",
                &format!("@{}", query.display()),
                "-o",
                &reply.display().to_string(),
            ],
        );
        assert_eq!(status, 200, "tsa: {body}");
        let out = run(Command::new("openssl")
            .args(["ts", "-verify", "-in"])
            .arg(&reply)
            .arg("-queryfile")
            .arg(&query)
            .arg("-CAfile")
            .arg(self.root_pem())
            .arg("-untrusted")
            .arg(self.rewriter.volume("tsa").join("tsa-chain.pem")));
        assert!(text(&out).contains("Verification: OK"), "openssl ts -verify: {}", text(&out));
    }

    /// The gateway's TLS listener takes an event with the demo key (202:
    /// sealed and durable in the S3 ingest bucket).
    fn ingest(&self) {
        let event = r#"{"id":"e1","ts":"2026-11-21T10:00:00Z","source":"compose","message":"hello"}"#;
        let (status, body) = self.curl(
            "gateway",
            "/v1/ingest/events",
            &["-H", "Authorization: Bearer test", "-H", "Content-Type: application/json", "--data", event],
        );
        assert_eq!(status, 202, "ingest: {body}");
    }
}
