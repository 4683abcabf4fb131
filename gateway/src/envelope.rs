//! Envelope encryption of stored payloads: a fresh AES-256-GCM data key
//! (DEK) per object, wrapped by a key-encryption key (KEK). The stream and
//! object id are associated data of both layers, so an object cannot be
//! passed off as another (moved or renamed, it no longer opens).
//!
//! Layout: `CARTENV1`, KEK id (u8 length + bytes), wrapped DEK (u8 length +
//! nonce ‖ ciphertext ‖ tag), payload nonce (12), payload ciphertext ‖ tag.

use anyhow::Context;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use std::path::Path;

const MAGIC: &[u8; 8] = b"CARTENV1";
const KEY_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not an envelope (bad magic or truncated)")]
    Malformed,
    #[error("sealed under key {0}, not this one")]
    OtherKek(String),
    #[error("authentication failed: wrong key, or the object was altered or moved")]
    Forged,
}

/// A key-encryption key held locally (a 32-octet key file, raw or hex).
pub struct Kek {
    id: String,
    key: LessSafeKey,
}

impl Kek {
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        let text = std::str::from_utf8(bytes).map(str::trim).unwrap_or_default();
        let mut key = [0u8; KEY_LEN];
        if hex::decode_to_slice(text, &mut key).is_err() {
            anyhow::ensure!(bytes.len() == KEY_LEN, "a KEK is 32 octets, raw or as 64 hex digits");
            key.copy_from_slice(bytes);
        }
        // The id names the key without revealing it.
        let id = format!("local:{}", &hex::encode(ring::digest::digest(&ring::digest::SHA256, &key))[..16]);
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| anyhow::anyhow!("bad KEK"))?;
        Ok(Self { id, key: LessSafeKey::new(unbound) })
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading the KEK {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
    }

    /// A new random KEK, as 64 hex digits for a key file.
    pub fn generate_hex() -> anyhow::Result<String> {
        let mut key = [0u8; KEY_LEN];
        SystemRandom::new().fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness"))?;
        Ok(hex::encode(key))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
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

/// Encrypts `plaintext` for object `id` of `stream` under a fresh DEK.
pub fn seal(kek: &Kek, stream: &str, id: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut dek = [0u8; KEY_LEN];
    SystemRandom::new().fill(&mut dek).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let wrapped = seal_with(&kek.key, &aad("dek", stream, id), &dek)?;
    let data_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &dek).map_err(|_| anyhow::anyhow!("DEK"))?);
    let body = seal_with(&data_key, &aad("payload", stream, id), plaintext)?;
    let kek_id = kek.id.as_bytes();
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + kek_id.len() + wrapped.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.push(u8::try_from(kek_id.len()).context("KEK id too long")?);
    out.extend_from_slice(kek_id);
    out.push(u8::try_from(wrapped.len()).context("wrapped key too long")?);
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&body);
    Ok(out)
}

/// The parts of an envelope, borrowed from it.
struct Parts<'a> {
    kek_id: &'a [u8],
    wrapped: &'a [u8],
    body: &'a [u8],
}

/// A length-prefixed (u8) field and what follows it.
fn take(rest: &[u8]) -> Result<(&[u8], &[u8]), EnvelopeError> {
    let (len, rest) = rest.split_first().ok_or(EnvelopeError::Malformed)?;
    rest.split_at_checked(usize::from(*len)).ok_or(EnvelopeError::Malformed)
}

fn parse(envelope: &[u8]) -> Result<Parts<'_>, EnvelopeError> {
    let rest = envelope.strip_prefix(MAGIC).ok_or(EnvelopeError::Malformed)?;
    let (kek_id, rest) = take(rest)?;
    let (wrapped, body) = take(rest)?;
    Ok(Parts { kek_id, wrapped, body })
}

/// Decrypts an envelope made by [`seal`] for the same stream and id.
pub fn open(kek: &Kek, stream: &str, id: &str, envelope: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let parts = parse(envelope)?;
    if parts.kek_id != kek.id.as_bytes() {
        return Err(EnvelopeError::OtherKek(String::from_utf8_lossy(parts.kek_id).into_owned()));
    }
    let dek = open_with(&kek.key, &aad("dek", stream, id), parts.wrapped)?;
    let unbound = UnboundKey::new(&AES_256_GCM, &dek).map_err(|_| EnvelopeError::Forged)?;
    open_with(&LessSafeKey::new(unbound), &aad("payload", stream, id), parts.body)
}

/// Property checked by the `envelope_open` fuzz target: any bytes are
/// refused or opened, never a panic.
pub fn fuzz_check(data: &[u8]) {
    if let Ok(kek) = Kek::from_bytes(&[7u8; KEY_LEN]) {
        let _ = open(&kek, "s", "i", data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_objects_open_only_as_themselves() {
        let kek = Kek::from_bytes(Kek::generate_hex().expect("key").as_bytes()).expect("kek");
        let sealed = seal(&kek, "demo", "ID1", b"payload").expect("seal");
        assert_eq!(open(&kek, "demo", "ID1", &sealed).as_deref(), Ok(&b"payload"[..]));
        assert_ne!(seal(&kek, "demo", "ID1", b"payload").expect("seal"), sealed, "fresh DEK and nonces");
        assert_eq!(open(&kek, "demo", "ID2", &sealed), Err(EnvelopeError::Forged), "moved");
        assert_eq!(open(&kek, "other", "ID1", &sealed), Err(EnvelopeError::Forged));
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open(&kek, "demo", "ID1", &flipped), Err(EnvelopeError::Forged));
        let other = Kek::from_bytes(&[1u8; 32]).expect("kek");
        assert!(matches!(open(&other, "demo", "ID1", &sealed), Err(EnvelopeError::OtherKek(_))));
        for cut in [0, 8, 9, 30, sealed.len() - 1] {
            assert!(open(&kek, "demo", "ID1", &sealed[..cut]).is_err(), "truncated at {cut}");
        }
        assert!(!String::from_utf8_lossy(&sealed).contains("payload"));
    }
}
