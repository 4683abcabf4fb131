//! Envelope encryption of stored payloads: a fresh AES-256-GCM data key
//! (DEK) per object, wrapped by a key-encryption key (KEK): a local key, or
//! AWS KMS (`GenerateDataKey`/`Decrypt` with the stream and object id as the
//! encryption context). The stream and object id are bound to both layers,
//! so an object cannot be passed off as another (moved, it no longer opens).
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

/// A key-encryption key: held locally (a 32-octet key file, raw or hex),
/// or in AWS KMS.
pub struct Kek {
    id: String,
    holder: Holder,
}

enum Holder {
    Local(Box<LessSafeKey>),
    Kms { client: aws_sdk_kms::Client, key_id: String },
}

/// `[encryption.kms]`: a KMS key, and the endpoint of a KMS-compatible
/// service when not AWS's. Credentials as for S3 (the standard variables).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsConfig {
    pub key_id: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Kek {
    /// A KEK in KMS: data keys come from `GenerateDataKey` and are opened by `Decrypt`.
    pub fn kms(config: &KmsConfig) -> Self {
        use cartorio_platform::s3::{env_credentials, http_client};
        let mut builder = aws_sdk_kms::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_kms::config::Region::new(config.region.clone()))
            .credentials_provider(env_credentials())
            .http_client(http_client());
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let client = aws_sdk_kms::Client::from_conf(builder.build());
        Self {
            id: format!("kms:{}", config.key_id),
            holder: Holder::Kms { client, key_id: config.key_id.clone() },
        }
    }

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
        Ok(Self { id, holder: Holder::Local(Box::new(LessSafeKey::new(unbound))) })
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

/// The KMS encryption context of an object's data key.
fn context(stream: &str, id: &str) -> std::collections::HashMap<String, String> {
    [("stream".to_owned(), stream.to_owned()), ("object".to_owned(), id.to_owned())].into()
}

impl Kek {
    /// A fresh data key for object `id` of `stream`, and its wrapped form.
    async fn new_data_key(&self, stream: &str, id: &str) -> anyhow::Result<([u8; KEY_LEN], Vec<u8>)> {
        match &self.holder {
            Holder::Local(key) => {
                let mut dek = [0u8; KEY_LEN];
                SystemRandom::new().fill(&mut dek).map_err(|_| anyhow::anyhow!("no randomness"))?;
                Ok((dek, seal_with(key, &aad("dek", stream, id), &dek)?))
            }
            Holder::Kms { client, key_id } => {
                let generated = client
                    .generate_data_key()
                    .key_id(key_id)
                    .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
                    .set_encryption_context(Some(context(stream, id)))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("KMS GenerateDataKey: {}", aws_sdk_kms::error::DisplayErrorContext(e))
                    })?;
                let plain = generated.plaintext().context("KMS returned no plaintext key")?.as_ref();
                let dek: [u8; KEY_LEN] =
                    plain.try_into().map_err(|_| anyhow::anyhow!("KMS data key is not 32 octets"))?;
                let wrapped =
                    generated.ciphertext_blob().context("KMS returned no wrapped key")?.as_ref().to_vec();
                Ok((dek, wrapped))
            }
        }
    }

    /// Opens the wrapped data key of object `id` of `stream`.
    async fn open_data_key(&self, stream: &str, id: &str, wrapped: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        match &self.holder {
            Holder::Local(key) => open_with(key, &aad("dek", stream, id), wrapped),
            Holder::Kms { client, key_id } => {
                let opened = client
                    .decrypt()
                    .key_id(key_id)
                    .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped))
                    .set_encryption_context(Some(context(stream, id)))
                    .send()
                    .await
                    .map_err(|_| EnvelopeError::Forged)?;
                Ok(opened.plaintext().ok_or(EnvelopeError::Forged)?.as_ref().to_vec())
            }
        }
    }
}

/// Encrypts `plaintext` for object `id` of `stream` under a fresh DEK.
pub async fn seal(kek: &Kek, stream: &str, id: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (dek, wrapped) = kek.new_data_key(stream, id).await?;
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
pub async fn open(kek: &Kek, stream: &str, id: &str, envelope: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let parts = parse(envelope)?;
    if parts.kek_id != kek.id.as_bytes() {
        return Err(EnvelopeError::OtherKek(String::from_utf8_lossy(parts.kek_id).into_owned()));
    }
    let dek = kek.open_data_key(stream, id, parts.wrapped).await?;
    open_body(&dek, stream, id, parts.body)
}

fn open_body(dek: &[u8], stream: &str, id: &str, body: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let unbound = UnboundKey::new(&AES_256_GCM, dek).map_err(|_| EnvelopeError::Forged)?;
    open_with(&LessSafeKey::new(unbound), &aad("payload", stream, id), body)
}

/// Property checked by the `envelope_open` fuzz target: any bytes are
/// refused or opened, never a panic.
pub fn fuzz_check(data: &[u8]) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; KEY_LEN]).expect("a 32-octet key"));
    if let Ok(parts) = parse(data)
        && let Ok(dek) = open_with(&key, &aad("dek", "s", "i"), parts.wrapped)
    {
        let _ = open_body(&dek, "s", "i", parts.body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sealed_objects_open_only_as_themselves() {
        let kek = Kek::from_bytes(Kek::generate_hex().expect("key").as_bytes()).expect("kek");
        let sealed = seal(&kek, "demo", "ID1", b"payload").await.expect("seal");
        assert_eq!(open(&kek, "demo", "ID1", &sealed).await.as_deref(), Ok(&b"payload"[..]));
        assert_ne!(
            seal(&kek, "demo", "ID1", b"payload").await.expect("seal"),
            sealed,
            "fresh DEK and nonces"
        );
        assert_eq!(open(&kek, "demo", "ID2", &sealed).await, Err(EnvelopeError::Forged), "moved");
        assert_eq!(open(&kek, "other", "ID1", &sealed).await, Err(EnvelopeError::Forged));
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open(&kek, "demo", "ID1", &flipped).await, Err(EnvelopeError::Forged));
        let other = Kek::from_bytes(&[1u8; 32]).expect("kek");
        assert!(matches!(open(&other, "demo", "ID1", &sealed).await, Err(EnvelopeError::OtherKek(_))));
        for cut in [0, 8, 9, 30, sealed.len() - 1] {
            assert!(open(&kek, "demo", "ID1", &sealed[..cut]).await.is_err(), "truncated at {cut}");
        }
        assert!(!String::from_utf8_lossy(&sealed).contains("payload"));
    }
}
