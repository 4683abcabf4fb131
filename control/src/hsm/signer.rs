//! An ECDSA key inside a PKCS#11 token behind the `Signer` trait.
//!
//! The message is hashed here (ring) and the token signs the digest with
//! CKM_ECDSA, so any module that can do plain ECDSA works. Every signature
//! is verified against the public key before it leaves: a faulty device must
//! not put a bad signature into a certificate or an OCSP response.

use super::Token;
use anyhow::Context;
use cartorio_pkix::der::{self, tag};
use cartorio_pkix::hash::HashAlg;
use cartorio_pkix::signer::ecdsa_sig_value;
use cartorio_pkix::{EcCurve, SignError, Signer};
use cryptoki::error::Error;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use ring::signature::UnparsedPublicKey;
use std::sync::{Arc, Mutex, PoisonError};

pub struct Pkcs11Signer {
    token: Arc<Token>,
    label: String,
    curve: EcCurve,
    /// The uncompressed public point.
    point: Vec<u8>,
    spki: Vec<u8>,
    algorithm: Vec<u8>,
    /// The private key's handle, valid for one module generation.
    handle: Mutex<Option<(u64, ObjectHandle)>>,
}

impl Pkcs11Signer {
    /// Finds the key pair labelled `label` on `token`.
    pub fn open(token: Arc<Token>, label: &str) -> anyhow::Result<Self> {
        let (curve, point) = token
            .run(|session, _| public_key(session, label))?
            .with_context(|| format!("no EC public key labelled {label:?} on the token"))?;
        let signer = Self {
            token,
            label: label.to_owned(),
            curve,
            spki: curve.spki(&point),
            algorithm: curve.signature_algorithm(),
            point,
            handle: Mutex::new(None),
        };
        // Fails now, not at the first signature, if the private half is missing.
        signer.sign(b"cartorio key check").with_context(|| format!("signing with {label:?}"))?;
        Ok(signer)
    }

    pub fn curve(&self) -> EcCurve {
        self.curve
    }

    fn private_key(&self, session: &Session, generation: u64) -> Result<ObjectHandle, Error> {
        let mut cached = self.handle.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((g, handle)) = *cached
            && g == generation
        {
            return Ok(handle);
        }
        let template =
            [Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(self.label.clone().into())];
        let found = session.find_objects(&template)?;
        let handle = match found.as_slice() {
            [one] => *one,
            // Reported as a key problem: retrying cannot conjure the key.
            _ => {
                return Err(Error::Pkcs11(
                    cryptoki::error::RvError::KeyHandleInvalid,
                    cryptoki::context::Function::FindObjects,
                ));
            }
        };
        *cached = Some((generation, handle));
        Ok(handle)
    }

    fn forget_handle(&self) {
        *self.handle.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> &[u8] {
        &self.algorithm
    }

    fn spki(&self) -> &[u8] {
        &self.spki
    }

    fn digest(&self) -> HashAlg {
        self.curve.digest()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let digest = self.curve.digest().digest(message);
        let raw = self
            .token
            .run(|session, generation| {
                let key = self.private_key(session, generation)?;
                session.sign(&Mechanism::Ecdsa, key, digest.as_ref()).inspect_err(|_| self.forget_handle())
            })
            .map_err(|e| SignError::Backend(format!("{e:#}")))?;
        let der = ecdsa_sig_value(self.curve, &raw)?;
        UnparsedPublicKey::new(self.curve.verification(), &self.point).verify(message, &der).map_err(
            |_| SignError::Backend(format!("the token's signature with {:?} does not verify", self.label)),
        )?;
        Ok(der)
    }
}

/// The curve and uncompressed point of the public key labelled `label`.
pub(super) fn public_key(session: &Session, label: &str) -> Result<Option<(EcCurve, Vec<u8>)>, Error> {
    let template = [Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Label(label.as_bytes().to_vec())];
    let Some(&handle) = session.find_objects(&template)?.first() else {
        return Ok(None);
    };
    let attributes = session.get_attributes(handle, &[AttributeType::EcParams, AttributeType::EcPoint])?;
    let (mut params, mut point) = (None, None);
    for attribute in attributes {
        match attribute {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    let curve = params.as_deref().and_then(EcCurve::from_oid);
    Ok(curve.zip(point).and_then(|(curve, point)| Some((curve, uncompressed_point(curve, &point)?))))
}

/// CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40);
/// some modules return the bare point.
fn uncompressed_point(curve: EcCurve, value: &[u8]) -> Option<Vec<u8>> {
    let bare_len = 1 + 2 * curve.field_len();
    let point =
        if value.len() == bare_len { value } else { der::single(value, tag::OCTET_STRING).ok()?.value };
    (point.len() == bare_len && point.first() == Some(&0x04)).then(|| point.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_are_accepted_wrapped_or_bare() {
        let mut bare = vec![0x04];
        bare.extend([7u8; 64]);
        let wrapped = cartorio_pkix::der::encode::octet_string(&bare);
        assert_eq!(uncompressed_point(EcCurve::P256, &bare).as_deref(), Some(bare.as_slice()));
        assert_eq!(uncompressed_point(EcCurve::P256, &wrapped).as_deref(), Some(bare.as_slice()));
        assert_eq!(uncompressed_point(EcCurve::P384, &wrapped), None);
        assert_eq!(uncompressed_point(EcCurve::P256, &bare[..40]), None);
    }
}
