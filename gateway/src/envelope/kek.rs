//! Key-encryption keys: a local AES-256-GCM key, or a key in AWS KMS
//! (`GenerateDataKey`, `Decrypt`, and `Encrypt` to rewrap an existing data
//! key). KMS data keys may be cached ([`super::cache`]).

use super::cache::{DataKeyCache, DataKeyCacheConfig};
use super::{EnvelopeError, KEY_LEN, aad, open_with, seal_with};
use anyhow::Context;
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// A key-encryption key: held locally (a 32-octet key file, raw or hex),
/// or in AWS KMS.
pub struct Kek {
    pub(super) id: String,
    holder: Holder,
}

enum Holder {
    Local(Box<LessSafeKey>),
    Kms(Box<KmsKek>),
}

struct KmsKek {
    client: aws_sdk_kms::Client,
    key_id: String,
    cache: DataKeyCache,
}

/// `[encryption.kms]`: a KMS key, and the endpoint of a KMS-compatible
/// service when not AWS's. Credentials as for S3.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsConfig {
    pub key_id: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Reuse of KMS data keys (`[encryption.kms.data_key_cache]`).
    #[serde(default)]
    pub data_key_cache: DataKeyCacheConfig,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// The KMS encryption context of a data key: the stream, and the object
/// when the key is the object's own (not a cached, shared one).
pub(super) fn context(stream: &str, object: Option<&str>) -> HashMap<String, String> {
    let mut context = HashMap::from([("stream".to_owned(), stream.to_owned())]);
    if let Some(id) = object {
        context.insert("object".into(), id.into());
    }
    context
}

/// Times and counts one KMS call: `cartorio_gateway_kms_calls_total{op,outcome}`
/// and `cartorio_gateway_kms_seconds{op}`.
fn record_kms_call<T, E>(op: &'static str, started: Instant, result: &Result<T, E>) {
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("cartorio_gateway_kms_calls_total", "op" => op, "outcome" => outcome).increment(1);
    metrics::histogram!("cartorio_gateway_kms_seconds", "op" => op).record(started.elapsed().as_secs_f64());
}

impl Kek {
    /// A KEK in KMS: data keys come from `GenerateDataKey` and are opened by `Decrypt`.
    pub fn kms(config: &KmsConfig) -> Self {
        use cartorio_platform::aws::{credentials, http_client};
        let mut builder = aws_sdk_kms::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_kms::config::Region::new(config.region.clone()))
            .credentials_provider(credentials(&config.region))
            .http_client(http_client());
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let client = aws_sdk_kms::Client::from_conf(builder.build());
        Self {
            id: format!("kms:{}", config.key_id),
            holder: Holder::Kms(Box::new(KmsKek {
                client,
                key_id: config.key_id.clone(),
                cache: DataKeyCache::new(&config.data_key_cache),
            })),
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

    /// Whether object keys are derived from shared (cached) data keys.
    pub(super) fn shares_data_keys(&self) -> bool {
        matches!(&self.holder, Holder::Kms(kms) if kms.cache.seals_shared())
    }

    /// A fresh data key and its wrapped form: the object's own (bound to
    /// `stream` and `object`), or with `object` None a key for many objects
    /// of `stream`, reused from the cache while it allows.
    pub(super) async fn data_key(
        &self,
        stream: &str,
        object: Option<&str>,
    ) -> anyhow::Result<([u8; KEY_LEN], Vec<u8>)> {
        match &self.holder {
            Holder::Local(key) => {
                let mut dek = [0u8; KEY_LEN];
                SystemRandom::new().fill(&mut dek).map_err(|_| anyhow::anyhow!("no randomness"))?;
                Ok((dek, seal_with(key, &aad("dek", stream, object.unwrap_or("")), &dek)?))
            }
            Holder::Kms(kms) => match object {
                Some(_) => generate_data_key(&kms.client, &kms.key_id, stream, object).await,
                None => {
                    let generate = || generate_data_key(&kms.client, &kms.key_id, stream, None);
                    kms.cache.sealing_key(stream, generate).await
                }
            },
        }
    }

    /// Opens a wrapped data key (bound as [`Kek::data_key`] made it).
    pub(super) async fn open_data_key(
        &self,
        stream: &str,
        object: Option<&str>,
        wrapped: &[u8],
    ) -> Result<[u8; KEY_LEN], EnvelopeError> {
        let plain = match &self.holder {
            Holder::Local(key) => open_with(key, &aad("dek", stream, object.unwrap_or("")), wrapped)?,
            Holder::Kms(kms) => {
                let fetch = || async {
                    let started = Instant::now();
                    let opened = kms
                        .client
                        .decrypt()
                        .key_id(&kms.key_id)
                        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped))
                        .set_encryption_context(Some(context(stream, object)))
                        .send()
                        .await;
                    record_kms_call("decrypt", started, &opened);
                    let opened = opened.map_err(|_| EnvelopeError::Forged)?;
                    key_array(opened.plaintext().ok_or(EnvelopeError::Forged)?.as_ref())
                };
                return match object {
                    Some(_) => fetch().await,
                    // Shared keys are opened once per cache lifetime, not per object.
                    None => kms.cache.opening_key(stream, wrapped, fetch).await,
                };
            }
        };
        key_array(&plain)
    }

    /// Wraps an existing data key under this KEK (rewrapping objects
    /// sealed under an older one).
    pub(super) async fn wrap_data_key(
        &self,
        stream: &str,
        object: Option<&str>,
        dek: &[u8],
    ) -> anyhow::Result<Vec<u8>> {
        match &self.holder {
            Holder::Local(key) => seal_with(key, &aad("dek", stream, object.unwrap_or("")), dek),
            Holder::Kms(kms) => {
                let started = Instant::now();
                let encrypted = kms
                    .client
                    .encrypt()
                    .key_id(&kms.key_id)
                    .plaintext(aws_sdk_kms::primitives::Blob::new(dek))
                    .set_encryption_context(Some(context(stream, object)))
                    .send()
                    .await;
                record_kms_call("encrypt", started, &encrypted);
                let encrypted = encrypted.map_err(|e| {
                    anyhow::anyhow!("KMS Encrypt: {}", aws_sdk_kms::error::DisplayErrorContext(e))
                })?;
                Ok(encrypted.ciphertext_blob().context("KMS returned no ciphertext")?.as_ref().to_vec())
            }
        }
    }
}

fn key_array(plain: &[u8]) -> Result<[u8; KEY_LEN], EnvelopeError> {
    plain.try_into().map_err(|_| EnvelopeError::Forged)
}

async fn generate_data_key(
    client: &aws_sdk_kms::Client,
    key_id: &str,
    stream: &str,
    object: Option<&str>,
) -> anyhow::Result<([u8; KEY_LEN], Vec<u8>)> {
    let started = Instant::now();
    let generated = client
        .generate_data_key()
        .key_id(key_id)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .set_encryption_context(Some(context(stream, object)))
        .send()
        .await;
    record_kms_call("generate_data_key", started, &generated);
    let generated = generated.map_err(|e| {
        anyhow::anyhow!("KMS GenerateDataKey: {}", aws_sdk_kms::error::DisplayErrorContext(e))
    })?;
    let plain = generated.plaintext().context("KMS returned no plaintext key")?.as_ref();
    let dek = plain.try_into().map_err(|_| anyhow::anyhow!("KMS data key is not 32 octets"))?;
    let wrapped = generated.ciphertext_blob().context("KMS returned no wrapped key")?.as_ref().to_vec();
    Ok((dek, wrapped))
}
