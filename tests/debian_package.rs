//! The Debian package (`[package.metadata.deb]` in Cargo.toml, files in
//! packaging/debian/), made by `cargo deb --no-build` from the binary this
//! test run already built (never a release build: CI has two cores), then
//! checked as dpkg and systemd see it: control fields, files and conffiles,
//! maintainer scripts, the units' sandboxing and `systemd-analyze verify`,
//! the sysusers.d and tmpfiles.d entries applied to a scratch root, and the
//! packaged configurations started for real.

mod common;

use common::{BIN, free_port, http, post, run, start_alone};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SERVICES: [&str; 3] = ["responder", "gateway", "control"];
/// scripts/test.sh installs this version.
const CARGO_DEB: &str = "cargo install cargo-deb --locked --version 3.8.0";

/// The package, built once for every test of this file.
struct Package {
    deb: PathBuf,
    /// `dpkg-deb -x`: the files as installed.
    root: PathBuf,
    /// `dpkg-deb -e`: control, conffiles, maintainer scripts.
    control: PathBuf,
    work: PathBuf,
}

fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(build)
}

/// Runs `cmd`, fails the test unless it succeeds; returns its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A hard link where it can be (same file system: no 100 MB copy), else a copy.
fn link_or_copy(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
    }
}

fn build() -> Package {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let version = run(Command::new(&cargo).args(["deb", "--version"]));
    assert!(
        version.status.success(),
        "cargo-deb is missing (`cargo deb --version`: {}): scripts/test.sh installs it ({CARGO_DEB})",
        String::from_utf8_lossy(&version.stderr).trim()
    );
    // A target directory of our own holding the test's binary where cargo-deb
    // looks for a release build, so that --no-build packages it as it is.
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-package");
    match std::fs::remove_dir_all(&work) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("clearing {}: {e}", work.display()),
        _ => {}
    }
    let release = work.join("target/release");
    std::fs::create_dir_all(&release).expect("target dir");
    link_or_copy(Path::new(BIN), &release.join("cartorio"));
    let out = work.join("out");
    ok(Command::new(&cargo)
        .args(["deb", "--no-build", "--no-strip", "--no-dbgsym", "--fast", "--offline", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--output")
        .arg(&out)
        .env("CARGO_TARGET_DIR", work.join("target")));
    let debs: Vec<PathBuf> = std::fs::read_dir(&out)
        .expect("cargo deb's output directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one .deb expected in {}: {debs:?}", out.display());
    let deb = debs[0].clone();
    let (root, control) = (work.join("root"), work.join("control"));
    ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    ok(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    Package { deb, root, control, work }
}

/// `Key: value` fields of `dpkg-deb --field` (continuation lines dropped).
fn field<'a>(fields: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    fields
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} field in:\n{fields}"))
}

#[test]
fn control_fields_files_and_conffiles() {
    let pkg = package();
    let fields = ok(Command::new("dpkg-deb").arg("--field").arg(&pkg.deb));
    assert_eq!(field(&fields, "Package"), "cartorio");
    assert_eq!(field(&fields, "Version"), format!("{}-1", env!("CARGO_PKG_VERSION")));
    let arch = ok(Command::new("dpkg").arg("--print-architecture"));
    assert_eq!(field(&fields, "Architecture"), arch.trim());
    assert_eq!(field(&fields, "Section"), "net");
    assert_eq!(field(&fields, "Priority"), "optional");
    assert!(field(&fields, "Maintainer").contains('@'), "Maintainer names an address");
    // $auto: dpkg-shlibdeps found the C library the binary links.
    let depends = field(&fields, "Depends");
    assert!(depends.contains("libc6 (>="), "Depends lacks the shared libraries: {depends}");
    assert!(
        depends.contains("systemd | systemd-standalone-sysusers"),
        "postinst runs systemd-sysusers: {depends}"
    );
    // Debian's synopsis: one line under 80 characters, then the long text.
    let synopsis = field(&fields, "Description");
    assert!(synopsis.len() < 80, "synopsis too long ({}): {synopsis}", synopsis.len());
    assert!(
        fields.contains("\n Cartorio serves pre-signed OCSP responses"),
        "extended description:\n{fields}"
    );

    // Each file's mode as dpkg-deb --contents lists it, after checking that
    // root owns it (by number: cargo-deb's archive carries no names).
    let listing = ok(Command::new("dpkg-deb").arg("--contents").arg(&pkg.deb));
    let mode = |path: &str| {
        let line = listing
            .lines()
            .find(|l| l.split_whitespace().last() == Some(path))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(matches!(cols[1], "0/0" | "root/root"), "{path} is not root's: {line}");
        cols[0].to_owned()
    };
    assert_eq!(mode("./usr/bin/cartorio"), "-rwxr-xr-x");
    let mut files = vec![
        "./usr/lib/sysusers.d/cartorio.conf".to_owned(),
        "./usr/lib/tmpfiles.d/cartorio.conf".to_owned(),
        "./usr/share/doc/cartorio/copyright".to_owned(),
        "./usr/share/doc/cartorio/README.md".to_owned(),
        "./usr/share/doc/cartorio/runbook.md".to_owned(),
        "./usr/share/doc/cartorio/examples/ceremony.toml".to_owned(),
    ];
    for s in SERVICES {
        files.push(format!("./etc/cartorio/{s}.toml"));
        files.push(format!("./usr/lib/systemd/system/cartorio-{s}.service"));
    }
    for f in &files {
        assert_eq!(mode(f), "-rw-r--r--", "{f}");
    }
    // Nothing is shipped into the state directory: it is the operator's.
    assert!(!listing.contains("./var/"), "the package ships files under /var:\n{listing}");

    // Every file under /etc, and only those, survives upgrades as edited.
    let mut conffiles: Vec<String> =
        read(&pkg.control.join("conffiles")).lines().map(str::to_owned).collect();
    conffiles.sort();
    let mut want: Vec<String> = SERVICES.iter().map(|s| format!("/etc/cartorio/{s}.toml")).collect();
    want.sort();
    assert_eq!(conffiles, want);
}

#[test]
fn maintainer_scripts_create_the_user_but_neither_enable_nor_start_units() {
    let pkg = package();
    for script in ["postinst", "prerm", "postrm"] {
        let path = pkg.control.join(script);
        ok(Command::new("sh").arg("-n").arg(&path));
    }
    let postinst = read(&pkg.control.join("postinst"));
    let sysusers = postinst.find("systemd-sysusers ").expect("postinst runs systemd-sysusers");
    let tmpfiles =
        postinst.find("systemd-tmpfiles --create cartorio.conf").expect("postinst runs systemd-tmpfiles");
    assert!(sysusers < tmpfiles, "the user must exist before tmpfiles chowns to it:\n{postinst}");
    assert!(
        postinst[sysusers..]
            .starts_with("systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} cartorio.conf")
    );
    for s in SERVICES {
        // cargo-deb's "don't enable" snippet: re-enable only what the admin had enabled.
        let unit = format!("cartorio-{s}.service");
        assert!(
            postinst.contains(&format!("deb-systemd-helper debian-installed {unit}")),
            "{unit}:\n{postinst}"
        );
        assert!(postinst.contains(&format!("deb-systemd-helper --quiet was-enabled {unit}")), "{unit}");
    }
    // Not started on install; on upgrade, restarted only if running.
    assert!(!postinst.contains("deb-systemd-invoke start"), "postinst starts units:\n{postinst}");
    assert!(!postinst.contains("_dh_action"), "postinst starts units on install:\n{postinst}");
    assert!(
        postinst.contains("deb-systemd-invoke try-restart cartorio-control.service cartorio-gateway.service")
    );
    let prerm = read(&pkg.control.join("prerm"));
    assert!(prerm.contains("deb-systemd-invoke stop cartorio-control.service"), "prerm:\n{prerm}");

    // What the postinst does, applied to a scratch root: the user, then its
    // state directory.
    let sysroot = pkg.work.join("sysroot");
    for dir in ["sysusers.d", "tmpfiles.d"] {
        let to = sysroot.join("usr/lib").join(dir);
        std::fs::create_dir_all(&to).expect("scratch root");
        std::fs::copy(pkg.root.join("usr/lib").join(dir).join("cartorio.conf"), to.join("cartorio.conf"))
            .expect("copy");
    }
    std::fs::create_dir_all(sysroot.join("etc")).expect("etc");
    let root_arg = format!("--root={}", sysroot.display());
    ok(Command::new("systemd-sysusers").arg(&root_arg).arg("cartorio.conf"));
    let passwd = read(&sysroot.join("etc/passwd"));
    let user: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("cartorio:"))
        .unwrap_or_else(|| panic!("no cartorio user in:\n{passwd}"))
        .split(':')
        .collect();
    let uid: u32 = user[2].parse().expect("uid");
    assert!(uid < 1000, "cartorio is a system user, uid {uid}");
    assert_eq!((user[5], user[6]), ("/var/lib/cartorio", "/usr/sbin/nologin"));
    assert!(
        read(&sysroot.join("etc/group")).lines().any(|l| l.starts_with("cartorio:")),
        "no cartorio group"
    );
    ok(Command::new("systemd-tmpfiles").arg(&root_arg).args(["--create", "cartorio.conf"]));
    use std::os::unix::fs::MetadataExt;
    let state = std::fs::metadata(sysroot.join("var/lib/cartorio")).expect("tmpfiles made /var/lib/cartorio");
    assert_eq!((state.mode() & 0o7777, state.uid()), (0o750, uid));
}

/// The `[Service]` and `[Install]` assignments of a unit, in order.
fn assignments(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The ports of the uncommented `listen`-like addresses of a TOML file.
fn listen_ports(toml: &str) -> Vec<u16> {
    toml.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim().ends_with("listen"))
        .map(|(_, v)| {
            let addr = v.split('"').nth(1).unwrap_or_else(|| panic!("listen address: {v}"));
            let port = addr.rsplit(':').next().unwrap_or_default();
            port.parse().unwrap_or_else(|_| panic!("port of {addr}"))
        })
        .collect()
}

/// Every unit: these exactly (systemd.exec(5), as of systemd 252).
const SANDBOX: [(&str, &str); 22] = [
    ("User", "cartorio"),
    ("Group", "cartorio"),
    ("StateDirectory", "cartorio"),
    ("ConfigurationDirectory", "cartorio"),
    ("UMask", "0077"),
    ("Restart", "on-failure"),
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
];

#[test]
fn units_are_sandboxed_and_pass_systemd_analyze_verify() {
    let pkg = package();
    let units = pkg.root.join("usr/lib/systemd/system");
    for s in SERVICES {
        let name = format!("cartorio-{s}.service");
        let set = assignments(&read(&units.join(&name)));
        let values = |key: &str| -> Vec<&str> {
            set.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
        };
        let one = |key: &str| match values(key).as_slice() {
            [v] => *v,
            other => panic!("{name}: {key} set {} times: {other:?}", other.len()),
        };
        let exec = format!("/usr/bin/cartorio --log-format json {s} --config /etc/cartorio/{s}.toml");
        assert_eq!(one("ExecStart"), exec, "{name}");
        assert!(
            pkg.root.join(format!("etc/cartorio/{s}.toml")).is_file(),
            "{name} reads a file the package ships"
        );
        for (key, want) in SANDBOX {
            assert_eq!(one(key), want, "{name}: {key}");
        }
        assert_eq!(one("SystemCallArchitectures"), "native", "{name}");
        assert_eq!(values("SystemCallFilter").first(), Some(&"@system-service"), "{name}");
        assert_eq!(one("WantedBy"), "multi-user.target", "{name}");
        // No capability while every port the packaged config binds is >= 1024.
        let config = read(&pkg.root.join(format!("etc/cartorio/{s}.toml")));
        let ports = listen_ports(&config);
        assert!(!ports.is_empty(), "{s}.toml listens nowhere?");
        assert!(ports.iter().all(|&p| p >= 1024), "{s}.toml binds a privileged port: {ports:?}");
        assert_eq!(one("CapabilityBoundingSet"), "", "{name}");
        assert!(values("AmbientCapabilities").is_empty(), "{name}: no ambient capability needed");
        match s {
            // The TSA reads the kernel's clock state (clock_adjtime, read-only):
            // ProtectClock= would block the call and every time-stamp with it.
            "responder" => {
                assert!(values("ProtectClock").is_empty(), "{name}: ProtectClock breaks the TSA");
                let filters = values("SystemCallFilter").join(" ");
                assert!(filters.contains("clock_adjtime"), "{name}: the TSA's clock check is filtered out");
            }
            _ => assert_eq!(one("ProtectClock"), "yes", "{name}"),
        }
        let reload = values("ExecReload");
        match s {
            // SIGHUP reloads the gateway's keys and streams.
            "gateway" => assert_eq!(reload, ["/bin/kill -HUP $MAINPID"]),
            _ => assert!(reload.is_empty(), "{name}: SIGHUP would stop it"),
        }
    }

    // verify resolves ExecStart= and every unit the ones here pull in
    // (sysinit.target, ...) under --root: the unpacked package, plus the
    // host's own units and the kill(1) ExecReload= names.
    let vroot = pkg.work.join("verify-root");
    let vunits = vroot.join("usr/lib/systemd/system");
    std::fs::create_dir_all(&vunits).expect("verify root");
    std::fs::create_dir_all(vroot.join("usr/bin")).expect("usr/bin");
    std::fs::create_dir_all(vroot.join("bin")).expect("bin");
    link_or_copy(&pkg.root.join("usr/bin/cartorio"), &vroot.join("usr/bin/cartorio"));
    std::fs::copy("/bin/kill", vroot.join("bin/kill")).expect("/bin/kill (procps) on this machine");
    let host_units = std::fs::read_dir("/usr/lib/systemd/system")
        .or_else(|_| std::fs::read_dir("/lib/systemd/system"))
        .expect("the host's systemd units (scripts/test.sh installs systemd)");
    for entry in host_units {
        let path = entry.expect("dir entry").path();
        if path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("cartorio")) {
            std::fs::copy(&path, vunits.join(path.file_name().expect("name"))).expect("copy unit");
        }
    }
    let mut names = Vec::new();
    for s in SERVICES {
        let name = format!("cartorio-{s}.service");
        std::fs::copy(units.join(&name), vunits.join(&name)).expect("copy unit");
        names.push(format!("/usr/lib/systemd/system/{name}"));
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", vroot.display()))
        .args(["--man=no", "--generators=no"])
        .args(&names)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze ({e}): scripts/test.sh installs systemd"));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Unknown keys and bad values are only warnings (exit 0): any output fails.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify ({}):\n{said}",
        out.status
    );
}

/// Replaces `from` in `text`, which must hold it.
fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not found in:\n{text}");
    text.replace(from, to)
}

#[test]
fn packaged_configs_start_the_services() {
    let pkg = package();
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    // The packaged files, with /var/lib/cartorio and the ports moved to
    // places of this test's own.
    let config = |s: &str, addrs: &[(&str, u16)]| {
        let mut text = read(&pkg.root.join(format!("etc/cartorio/{s}.toml")));
        text = swap(&text, "\"/var/lib/cartorio", &format!("\"{}", state.display()));
        for (addr, port) in addrs {
            text = swap(&text, &format!("\"{addr}\""), &format!("\"127.0.0.1:{port}\""));
        }
        text
    };
    let get = |port: u16, path: &str| {
        http(
            &format!("127.0.0.1:{port}"),
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            b"",
        )
    };

    // Ready once its first look at the store is done: asked until then.
    let ready = |port: u16| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status, _, body) = get(port, "/readyz");
            if status == 200 || std::time::Instant::now() > deadline {
                return (status, String::from_utf8_lossy(&body).into_owned());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };

    // The control plane first: it makes the CA and the store the others read.
    let control_port = free_port();
    let control = config("control", &[("127.0.0.1:8070", control_port)]);
    let _control = start_alone("control", tmp.path(), &control, control_port);
    let (status, body) = ready(control_port);
    assert_eq!(status, 200, "control /readyz: {body}");
    assert!(state.join("pki/root.pem").is_file(), "control made its CA in the state directory");

    let responder_port = free_port();
    let responder = config("responder", &[("127.0.0.1:8080", responder_port)]);
    let _responder = start_alone("responder", tmp.path(), &responder, responder_port);
    let (status, body) = ready(responder_port);
    assert_eq!(status, 200, "responder /readyz: {body}");

    let (gateway_port, metrics_port) = (free_port(), free_port());
    let gateway = config("gateway", &[("127.0.0.1:8090", gateway_port), ("127.0.0.1:9464", metrics_port)]);
    let _gateway = start_alone("gateway", tmp.path(), &gateway, gateway_port);
    let (status, body) = ready(gateway_port);
    assert_eq!(status, 200, "gateway /readyz: {body}");
    assert_eq!(get(metrics_port, "/healthz").0, 200, "gateway metrics listener");
    // No API key ships: nothing is let in until the operator adds one.
    let (status, _, _) =
        post(&format!("127.0.0.1:{gateway_port}"), "/v1/ingest/events", "application/json", b"{}");
    assert_eq!(status, 401, "an unauthenticated ingest");
}
