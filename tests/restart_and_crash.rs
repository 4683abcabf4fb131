//! Restarts keep the CA and the registry; SIGKILL during issuance loses no
//! certificate whose issuance was acknowledged.

mod common;

use common::*;
use std::time::Duration;

fn wait_for(up: &Up, cert: &std::path::Path, want: &str) -> String {
    ocsp_until(&up.ocsp_url(), &up.dir.join("pki"), cert, want, &["-no_nonce"], Duration::from_secs(10))
}

#[test]
fn restart_keeps_ca_registry_and_statuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let root_before = std::fs::read(up.pki("root.pem")).expect("root");
    let (good, _) = issue(&data, &make_csr(tmp.path(), "good", "good.example.test"));
    let (revoked, serial) = issue(&data, &make_csr(tmp.path(), "revoked", "revoked.example.test"));
    let out = run(std::process::Command::new(BIN).args(["revoke", "--data-dir"]).arg(&data).args([
        "--serial",
        &serial,
        "--reason",
        "superseded",
    ]));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(status_of(&wait_for(&up, &revoked, "revoked"), &revoked).as_deref(), Some("revoked"));
    assert!(up.stop(), "clean exit on SIGTERM");

    let up = Up::start(&data);
    assert_eq!(std::fs::read(up.pki("root.pem")).expect("root"), root_before, "CA reused");
    let out = wait_for(&up, &good, "good");
    assert_eq!(status_of(&out, &good).as_deref(), Some("good"), "{out}");
    let out = wait_for(&up, &revoked, "revoked");
    assert_eq!(status_of(&out, &revoked).as_deref(), Some("revoked"), "{out}");
    assert!(out.contains("Reason: superseded"), "{out}");
}

#[test]
fn sigkill_during_issuance_loses_no_acknowledged_certificate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let csrs: Vec<_> =
        (0..24).map(|i| make_csr(tmp.path(), &format!("c{i}"), &format!("c{i}.example.test"))).collect();

    // Four clients issue concurrently; the server is killed part-way through.
    let workers: Vec<_> = csrs
        .chunks(6)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let data = data.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for csr in chunk {
                    let cert = csr.with_extension("pem");
                    let out = run(std::process::Command::new(BIN)
                        .args(["issue", "--data-dir"])
                        .arg(&data)
                        .arg("--csr")
                        .arg(&csr)
                        .arg("--out")
                        .arg(&cert));
                    if out.status.success() {
                        acknowledged.push(cert);
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    up.kill9();
    let acknowledged: Vec<_> = workers.into_iter().flat_map(|w| w.join().expect("worker")).collect();
    println!("{} of {} issuances acknowledged around the SIGKILL", acknowledged.len(), csrs.len());
    assert!(!acknowledged.is_empty(), "some issuance should have completed");

    let up = Up::start(&data);
    for cert in &acknowledged {
        let out = wait_for(&up, cert, "good");
        assert_eq!(status_of(&out, cert).as_deref(), Some("good"), "{}: {out}", cert.display());
    }
}
