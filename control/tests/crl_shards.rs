//! CRLs sharded by serial: every certificate names its shard in
//! cRLDistributionPoints, each shard CRL names itself in a critical
//! issuingDistributionPoint and lists exactly the revoked certificates of
//! its shard; `openssl crl -verify` accepts every shard, and the pre-signer
//! publishes them all beside the full CRL.

use cartorio_control::crl::CrlSharding;
use cartorio_control::paths::DataDir;
use cartorio_control::{Control, ControlConfig};
use std::path::Path;
use std::process::Command;

const SHARDS: u32 = 4;
const URL: &str = "http://crl.example.test/shards";

fn csr(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(format!("{name}.csr"));
    let status = Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout"])
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(&path)
        .args(["-subj", &format!("/CN={name}.example.test")])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl req");
    std::fs::read(path).expect("csr")
}

fn openssl(args: &[&str], files: &[&Path]) -> String {
    let out = Command::new("openssl").args(args).args(files).output().expect("openssl");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn shards_partition_revocations_and_certificates_point_at_theirs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::new(tmp.path().join("data"));
    let sharding = CrlSharding { shards: SHARDS, url: URL.into() };
    let config =
        ControlConfig { crl_sharding: Some(sharding.clone()), ..ControlConfig::embedded(dir.clone()) };
    let control = Control::open(config, true).expect("open");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut issued = Vec::new();
    for i in 0..12 {
        let cert = runtime
            .block_on(control.issue(csr(tmp.path(), &format!("c{i}")), "server".into(), None))
            .expect("issue");
        issued.push(cert);
    }
    // Revoke every other certificate.
    for cert in issued.iter().step_by(2) {
        runtime.block_on(control.revoke(cert.serial.clone(), "keyCompromise".into())).expect("revoke");
    }
    let pki = dir.pki();
    let chain = tmp.path().join("chain.pem");
    let pem = [
        std::fs::read_to_string(pki.join("root.pem")).expect("root"),
        std::fs::read_to_string(pki.join("issuer.pem")).expect("issuer"),
    ]
    .concat();
    std::fs::write(&chain, pem).expect("chain");
    // Shards are named by the issuing CA's name, `tls` for `issuer.pem`.
    let issuer_id = "tls";

    let mut listed = 0;
    for shard in 0..SHARDS {
        let crl = runtime.block_on(control.crl_shard(None, sharding.clone(), shard)).expect("shard CRL");
        let path = tmp.path().join(format!("{shard}.crl"));
        std::fs::write(&path, &crl.der).expect("write");
        let shown = openssl(
            &["crl", "-inform", "DER", "-noout", "-text", "-verify", "-CAfile"],
            &[&chain, Path::new("-in"), &path],
        );
        assert!(shown.contains("verify OK"), "{shown}");
        assert!(shown.contains("Issuing Distribution Point: critical"), "{shown}");
        assert!(shown.contains(&format!("URI:{URL}/{issuer_id}/{shard}.crl")), "{shown}");
        assert!(shown.contains("Only User Certificates"), "{shown}");
        for (i, cert) in issued.iter().enumerate() {
            let serial_bytes = hex::decode(&cert.serial).expect("hex");
            let in_shard = sharding.shard_of(&serial_bytes) == shard;
            let present = shown.to_ascii_uppercase().contains(&cert.serial.to_ascii_uppercase());
            assert_eq!(present, in_shard && i % 2 == 0, "serial {} in shard {shard}: {shown}", cert.serial);
            listed += usize::from(present);
        }
    }
    assert_eq!(listed, 6, "each revoked certificate in exactly one shard");

    // Each certificate points at its shard.
    for cert in &issued {
        let path = tmp.path().join(format!("{}.der", cert.serial));
        std::fs::write(&path, &cert.der).expect("write");
        let text = openssl(&["x509", "-inform", "DER", "-noout", "-text", "-in"], &[&path]);
        let shard = sharding.shard_of(&hex::decode(&cert.serial).expect("hex"));
        assert!(text.contains(&format!("URI:{URL}/{issuer_id}/{shard}.crl")), "{text}");
    }

    // The pre-signer publishes the full CRL and every shard.
    runtime
        .block_on(async {
            let mut presigner = control.presigner(std::sync::Arc::default()).await?;
            presigner.cycle().await
        })
        .expect("cycle");
    assert!(dir.store().join(format!("crl/{issuer_id}.crl")).exists());
    for shard in 0..SHARDS {
        assert!(dir.store().join(format!("crl/{issuer_id}/{shard}.crl")).exists(), "shard {shard} published");
    }
}
