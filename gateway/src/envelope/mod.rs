//! Envelope encryption of stored payloads: each object is sealed with
//! AES-256-GCM under its own key, which comes from a data key (DEK) wrapped
//! by a key-encryption key (KEK): a local key, or AWS KMS
//! (`GenerateDataKey`/`Decrypt`, with the stream, and the object when the
//! DEK is the object's own, as the encryption context). The stream and
//! object id are bound to every layer, so an object cannot be passed off as
//! another (moved, it no longer opens).
//!
//! KEKs form a [`Keyring`]: new objects are sealed under the current one,
//! older ones still open what they sealed, and [`rewrap`] moves an object's
//! DEK to the current KEK without touching its payload.
//!
//! Layout (v2): `CARTENV2`, KEK id (u8 length + bytes), wrapped DEK (u8
//! length + bytes), derivation (u8: 0 = the DEK is the object's key;
//! 1 = the object's key is HKDF-SHA256 of a DEK shared by many objects of
//! the stream, see [`cache`]), payload nonce (12), payload ciphertext ‖ tag.
//! v1 (`CARTENV1`, no derivation octet, always 0) is still read.

mod cache;
mod kek;
mod keyring;

pub use cache::DataKeyCacheConfig;
pub use kek::{Kek, KmsConfig};
pub use keyring::Keyring;

use anyhow::Context;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const MAGIC_V1: &[u8; 8] = b"CARTENV1";
const MAGIC: &[u8; 8] = b"CARTENV2";
const KEY_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not an envelope (bad magic or truncated)")]
    Malformed,
    #[error("sealed under key {0}, which is not in the keyring")]
    OtherKek(String),
    #[error("authentication failed: wrong key, or the object was altered or moved")]
    Forged,
}

fn aad(layer: &str, stream: &str, id: &str) -> Vec<u8> {
    [layer.as_bytes(), b"\0", stream.as_bytes(), b"\0", id.as_bytes()].concat()
}

fn seal_with(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut sealed)
        .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    Ok([&nonce[..], &sealed].concat())
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(EnvelopeError::Malformed)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| EnvelopeError::Malformed)?;
    let mut buf = ciphertext.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).map_err(|_| EnvelopeError::Forged)?;
    Ok(plain.to_vec())
}

/// How an object's key comes from its data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Derivation {
    /// The DEK is the object's key, wrapped with the object in its context.
    Own = 0,
    /// HKDF of a DEK shared by objects of the stream (KMS data-key cache).
    Shared = 1,
}

/// The key object `id` of `stream` is sealed under.
fn object_key(
    dek: &[u8; KEY_LEN],
    derivation: Derivation,
    stream: &str,
    id: &str,
) -> Result<LessSafeKey, EnvelopeError> {
    struct Len;
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            KEY_LEN
        }
    }
    let mut key = *dek;
    if derivation == Derivation::Shared {
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"cartorio envelope v2").extract(dek);
        let info = [stream.as_bytes(), b"\0", id.as_bytes()];
        let okm = prk.expand(&info, Len).map_err(|_| EnvelopeError::Forged)?;
        okm.fill(&mut key).map_err(|_| EnvelopeError::Forged)?;
    }
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).map_err(|_| EnvelopeError::Forged)?))
}

/// Encrypts `plaintext` for object `id` of `stream` under the keyring's
/// current KEK.
pub async fn seal(keyring: &Keyring, stream: &str, id: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let kek = keyring.current();
    let (derivation, binding) =
        if kek.shares_data_keys() { (Derivation::Shared, None) } else { (Derivation::Own, Some(id)) };
    let (dek, wrapped) = kek.data_key(stream, binding).await?;
    let body = seal_with(&object_key(&dek, derivation, stream, id)?, &aad("payload", stream, id), plaintext)?;
    assemble(kek.id(), &wrapped, derivation, &body)
}

fn assemble(kek_id: &str, wrapped: &[u8], derivation: Derivation, body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(MAGIC.len() + 3 + kek_id.len() + wrapped.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.push(u8::try_from(kek_id.len()).context("KEK id too long")?);
    out.extend_from_slice(kek_id.as_bytes());
    out.push(u8::try_from(wrapped.len()).context("wrapped key too long")?);
    out.extend_from_slice(wrapped);
    out.push(derivation as u8);
    out.extend_from_slice(body);
    Ok(out)
}

/// The parts of an envelope, borrowed from it.
struct Parts<'a> {
    kek_id: &'a [u8],
    wrapped: &'a [u8],
    derivation: Derivation,
    body: &'a [u8],
}

/// A length-prefixed (u8) field and what follows it.
fn take(rest: &[u8]) -> Result<(&[u8], &[u8]), EnvelopeError> {
    let (len, rest) = rest.split_first().ok_or(EnvelopeError::Malformed)?;
    rest.split_at_checked(usize::from(*len)).ok_or(EnvelopeError::Malformed)
}

fn parse(envelope: &[u8]) -> Result<Parts<'_>, EnvelopeError> {
    let (v2, rest) = match (envelope.strip_prefix(MAGIC), envelope.strip_prefix(MAGIC_V1)) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(EnvelopeError::Malformed),
    };
    let (kek_id, rest) = take(rest)?;
    let (wrapped, rest) = take(rest)?;
    let (derivation, body) = match v2 {
        false => (Derivation::Own, rest),
        true => match rest.split_first() {
            Some((0, body)) => (Derivation::Own, body),
            Some((1, body)) => (Derivation::Shared, body),
            _ => return Err(EnvelopeError::Malformed),
        },
    };
    Ok(Parts { kek_id, wrapped, derivation, body })
}

/// Whether `bytes` is a sealed object (else a payload stored in clear).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC) || bytes.starts_with(MAGIC_V1)
}

/// The KEK an envelope's data key is wrapped under.
fn kek_for<'k>(keyring: &'k Keyring, parts: &Parts<'_>) -> Result<&'k Kek, EnvelopeError> {
    keyring
        .find(parts.kek_id)
        .ok_or_else(|| EnvelopeError::OtherKek(String::from_utf8_lossy(parts.kek_id).into_owned()))
}

fn binding(parts: &Parts<'_>, id: &str) -> Option<String> {
    (parts.derivation == Derivation::Own).then(|| id.to_owned())
}

/// Opens `parts` with whichever KEK of the keyring sealed them: the data
/// key and the authenticated payload.
async fn open_parts(
    keyring: &Keyring,
    stream: &str,
    id: &str,
    parts: &Parts<'_>,
) -> Result<([u8; KEY_LEN], Vec<u8>), EnvelopeError> {
    let kek = kek_for(keyring, parts)?;
    let dek = kek.open_data_key(stream, binding(parts, id).as_deref(), parts.wrapped).await?;
    let payload =
        open_with(&object_key(&dek, parts.derivation, stream, id)?, &aad("payload", stream, id), parts.body)?;
    Ok((dek, payload))
}

/// Decrypts an envelope made by [`seal`] for the same stream and id, with
/// whichever KEK of the keyring sealed it.
pub async fn open(
    keyring: &Keyring,
    stream: &str,
    id: &str,
    envelope: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let parts = parse(envelope)?;
    Ok(open_parts(keyring, stream, id, &parts).await?.1)
}

/// The envelope with its data key wrapped under the keyring's current KEK
/// (the payload is not re-encrypted), or `None` when it already is. The
/// payload is authenticated first: a forged object is refused, not rewrapped.
pub async fn rewrap(
    keyring: &Keyring,
    stream: &str,
    id: &str,
    envelope: &[u8],
) -> anyhow::Result<Option<Vec<u8>>> {
    let parts = parse(envelope)?;
    let current = keyring.current();
    if parts.kek_id == current.id().as_bytes() {
        return Ok(None);
    }
    let (dek, _) = open_parts(keyring, stream, id, &parts).await?;
    let bound = binding(&parts, id);
    let wrapped = current.wrap_data_key(stream, bound.as_deref(), &dek).await?;
    Ok(Some(assemble(current.id(), &wrapped, parts.derivation, parts.body)?))
}

/// Property checked by the `envelope_open` fuzz target: any bytes are
/// refused or opened, never a panic.
pub fn fuzz_check(data: &[u8]) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; KEY_LEN]).expect("a 32-octet key"));
    if let Ok(parts) = parse(data)
        && let Ok(dek) = open_with(&key, &aad("dek", "s", "i"), parts.wrapped)
        && let Ok(dek) = <[u8; KEY_LEN]>::try_from(dek.as_slice())
        && let Ok(object) = object_key(&dek, parts.derivation, "s", "i")
    {
        let _ = open_with(&object, &aad("payload", "s", "i"), parts.body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(seed: u8) -> Kek {
        Kek::from_bytes(&[seed; KEY_LEN]).expect("kek")
    }

    #[tokio::test]
    async fn sealed_objects_open_only_as_themselves() {
        let kek = Kek::from_bytes(Kek::generate_hex().expect("key").as_bytes()).expect("kek");
        let keyring = Keyring::new(kek, vec![]);
        let sealed = seal(&keyring, "demo", "ID1", b"payload").await.expect("seal");
        assert_eq!(open(&keyring, "demo", "ID1", &sealed).await.as_deref(), Ok(&b"payload"[..]));
        assert_ne!(
            seal(&keyring, "demo", "ID1", b"payload").await.expect("seal"),
            sealed,
            "fresh DEK and nonces"
        );
        assert_eq!(open(&keyring, "demo", "ID2", &sealed).await, Err(EnvelopeError::Forged), "moved");
        assert_eq!(open(&keyring, "other", "ID1", &sealed).await, Err(EnvelopeError::Forged));
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open(&keyring, "demo", "ID1", &flipped).await, Err(EnvelopeError::Forged));
        let other = Keyring::new(local(1), vec![]);
        assert!(matches!(open(&other, "demo", "ID1", &sealed).await, Err(EnvelopeError::OtherKek(_))));
        for cut in [0, 8, 9, 30, sealed.len() - 1] {
            assert!(open(&keyring, "demo", "ID1", &sealed[..cut]).await.is_err(), "truncated at {cut}");
        }
        assert!(!String::from_utf8_lossy(&sealed).contains("payload"));
    }

    #[tokio::test]
    async fn older_keks_open_and_rewrap_moves_objects_to_the_newest() {
        let old = Keyring::new(local(1), vec![]);
        let sealed = seal(&old, "demo", "ID1", b"payload").await.expect("seal");
        let rotated = Keyring::new(local(2), vec![local(1)]);
        assert_eq!(open(&rotated, "demo", "ID1", &sealed).await.as_deref(), Ok(&b"payload"[..]));
        let rewrapped = rewrap(&rotated, "demo", "ID1", &sealed).await.expect("rewrap").expect("moved");
        assert!(
            rewrap(&rotated, "demo", "ID1", &rewrapped).await.expect("rewrap").is_none(),
            "already current"
        );
        assert!(rewrapped.ends_with(&sealed[sealed.len() - 20..]), "the payload is not re-encrypted");
        let newest_only = Keyring::new(local(2), vec![]);
        assert_eq!(open(&newest_only, "demo", "ID1", &rewrapped).await.as_deref(), Ok(&b"payload"[..]));
        assert!(rewrap(&rotated, "demo", "ID2", &sealed).await.is_err(), "a moved object is refused");
        assert!(matches!(open(&newest_only, "demo", "ID1", &sealed).await, Err(EnvelopeError::OtherKek(_))));
    }

    #[tokio::test]
    async fn version_1_envelopes_still_open() {
        let keyring = Keyring::new(local(3), vec![]);
        let v2 = seal(&keyring, "demo", "ID1", b"payload").await.expect("seal");
        let parts = parse(&v2).expect("parts");
        assert_eq!(parts.derivation, Derivation::Own);
        let header = MAGIC.len() + 2 + parts.kek_id.len() + parts.wrapped.len();
        let v1 = [&MAGIC_V1[..], &v2[MAGIC.len()..header], &v2[header + 1..]].concat();
        assert_eq!(open(&keyring, "demo", "ID1", &v1).await.as_deref(), Ok(&b"payload"[..]));
        let mut bad = v2.clone();
        bad[header] = 7;
        assert_eq!(open(&keyring, "demo", "ID1", &bad).await, Err(EnvelopeError::Malformed));
    }
}
