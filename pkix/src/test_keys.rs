//! Throwaway keys and certificates for this crate's unit tests (compiled only
//! under `cfg(test)`). Other crates use `cartorio_testkit::pki`, which cannot
//! serve here: through it, these tests would see a second copy of this
//! crate's types.

use crate::cert::{CertificateTemplate, build_certificate, name};
use crate::oid;
use crate::signer::{EcCurve, EcdsaSigner, Signer};

pub fn ec_key(curve: EcCurve) -> EcdsaSigner {
    let pkcs8 = EcdsaSigner::generate_pkcs8(curve).expect("key generation");
    EcdsaSigner::from_pkcs8(curve, &pkcs8).expect("key load")
}

/// Self-signed, `CN=cn`, valid from 0 to year 2096.
pub fn self_signed(signer: &EcdsaSigner, cn: &str, extensions: Vec<Vec<u8>>) -> Vec<u8> {
    let subject = name(&[(oid::COMMON_NAME, cn)]);
    let template = CertificateTemplate {
        serial: vec![0x11; 16],
        issuer: subject.clone(),
        subject,
        not_before: 0,
        not_after: 4_000_000_000,
        spki: signer.spki().to_vec(),
        extensions,
    };
    build_certificate(&template, signer).expect("certificate")
}
