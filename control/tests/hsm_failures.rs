//! A signing batch on SoftHSM2 survives its sessions being killed and its
//! module being finalized under it: the pool opens new sessions, the module
//! is initialized again, and every signature of the batch verifies.
//!
//! Its own test binary: finalizing the module would disturb other tests.

mod softhsm;

use cartorio_control::hsm::{Pkcs11Signer, keys};
use cartorio_pkix::{EcCurve, Signer};
use cryptoki::context::Pkcs11;
use ring::signature::UnparsedPublicKey;

const BATCH: usize = 1200;

/// Closes every session of this process on the token's slot, as a crashed
/// device driver or another thread's C_CloseAllSessions would.
fn kill_all_sessions(module: &std::path::Path, token_label: &str) {
    let context = Pkcs11::new(module).expect("load the module");
    let slot = context
        .get_slots_with_initialized_token()
        .expect("slots")
        .into_iter()
        .find(|slot| {
            context.get_token_info(*slot).map(|i| i.label().trim_end() == token_label).unwrap_or(false)
        })
        .expect("the test token");
    // SAFETY: loads the same PKCS#11 library the signer uses (already
    // loaded and initialized in this process) and calls C_CloseAllSessions
    // with a valid slot id while no other thread is inside the module: the
    // batch below runs on this thread.
    let rv = unsafe {
        let raw = cryptoki_sys::Pkcs11::new(module).expect("load the module");
        raw.C_CloseAllSessions(slot.id())
    };
    assert_eq!(rv, cryptoki_sys::CKR_OK, "C_CloseAllSessions");
}

#[test]
fn a_batch_completes_when_its_sessions_and_its_module_fail_mid_way() {
    let Some(token) = softhsm::token() else { return };
    let module = token.config().module.clone();
    let label = softhsm::fresh_label("failures");
    keys::generate(&token, &label, EcCurve::P256).expect("generate");
    let signer = Pkcs11Signer::open(token.clone(), &label).expect("open");
    let spki = signer.spki().to_vec();
    let point = &spki[spki.len() - 65..];
    let generation = token.generation();

    let mut signatures = Vec::with_capacity(BATCH);
    for i in 0..BATCH {
        if i == BATCH / 4 {
            kill_all_sessions(&module, &token.config().token_label);
        }
        if i == BATCH / 2 {
            // Another user of the library finalizes it (module failure).
            Pkcs11::new(&module).expect("load").finalize().expect("C_Finalize");
        }
        let message = (i as u32).to_be_bytes();
        signatures.push(signer.sign(&message).unwrap_or_else(|e| panic!("signature {i} of the batch: {e}")));
    }
    for (i, signature) in signatures.iter().enumerate() {
        UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
            .verify(&(i as u32).to_be_bytes(), signature)
            .unwrap_or_else(|_| panic!("signature {i} verifies"));
    }
    assert!(token.generation() > generation, "the module was initialized again");
}
