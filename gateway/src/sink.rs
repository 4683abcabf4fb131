//! Stage 6, sink or quarantine: accepted payloads go to
//! `raw/{stream}/{yyyy}/{mm}/{dd}/{id}`, rejected ones (validation or WAF) to
//! `quarantine/{stream}/{yyyy}/{mm}/{dd}/{id}` under a size quota, each with
//! a `{id}.meta.json` beside it. The store's writes are atomic and durable,
//! so a 202 is only ever sent for a payload already on disk.

use crate::envelope::{self, Keyring};
use crate::intake::Validated;
use crate::quota::QuarantineQuota;
use crate::redis_link::RedisLink;
use anyhow::Context;
use bytes::Bytes;
use cartorio_platform::ObjectStore;
use cartorio_platform::store::StoreError;
use serde::Serialize;
use std::sync::Arc;

/// Which prefix an object goes under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Raw,
    Quarantine,
}

impl Zone {
    fn prefix(self) -> &'static str {
        match self {
            Zone::Raw => "raw",
            Zone::Quarantine => "quarantine",
        }
    }
}

/// What is recorded beside each object.
#[derive(Debug, Clone, Serialize)]
pub struct Meta<'a> {
    pub id: &'a str,
    pub stream: &'a str,
    pub sha256: &'a str,
    pub bytes: usize,
    pub content_type: &'a str,
    /// The API key identity and the client address.
    pub client: &'a str,
    pub client_ip: String,
    /// RFC 3339, UTC, microseconds.
    pub received_at: String,
    pub schema_version: &'a str,
    /// Quarantine only: why, and which WAF rules fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<u32>,
    /// Where each rule fired: what an operator names in an exclusion.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingMeta<'a>>,
}

/// One WAF finding as recorded beside a quarantined payload: its rule, the
/// location and the field (never the value) it fired in.
#[derive(Debug, Clone, Serialize)]
pub struct FindingMeta<'a> {
    pub rule: u32,
    pub class: &'static str,
    pub location: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl<'a> FindingMeta<'a> {
    pub fn of(findings: &'a [crate::waf::Finding]) -> Vec<Self> {
        findings
            .iter()
            .map(|f| FindingMeta {
                rule: f.rule,
                class: f.class.label(),
                location: f.location.label(),
                field: f.field.as_deref(),
            })
            .collect()
    }
}

/// A new object id: 48 bits of milliseconds then 80 random bits, in
/// Crockford base32 (26 characters, sorts by time, like a ULID).
pub fn object_id(unix_millis: u64) -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut random = [0u8; 10];
    ring::rand::SystemRandom::new().fill(&mut random).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let mut value = u128::from(unix_millis & 0xffff_ffff_ffff) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (72 - 8 * i);
    }
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    Ok((0..26).rev().map(|i| ALPHABET[((value >> (5 * i)) & 31) as usize] as char).collect())
}

/// `{zone}/{stream}/{yyyy}/{mm}/{dd}/{id}` for a receipt time in µs.
pub fn object_key(zone: Zone, stream: &str, unix_micros: i64, id: &str) -> String {
    let date = chrono::DateTime::from_timestamp_micros(unix_micros).unwrap_or_default();
    format!("{}/{stream}/{}/{id}", zone.prefix(), date.format("%Y/%m/%d"))
}

pub fn rfc3339_micros(unix_micros: i64) -> String {
    let date = chrono::DateTime::from_timestamp_micros(unix_micros).unwrap_or_default();
    date.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub struct Sink {
    store: ObjectStore,
    quota: QuarantineQuota,
    /// When set, payloads are stored sealed (see [`crate::envelope`]).
    keyring: Option<Arc<Keyring>>,
}

#[derive(Debug)]
pub enum SinkError {
    Store(StoreError),
    /// The quarantine is full: the rejected payload is not kept.
    QuotaExceeded,
    Seal(anyhow::Error),
}

impl Sink {
    pub fn new(store: ObjectStore, quarantine_quota: u64, keyring: Option<Arc<Keyring>>) -> Self {
        Self { store, quota: QuarantineQuota::new(quarantine_quota, None), keyring }
    }

    /// Counts the quarantine quota over every gateway on `shared` (Redis).
    pub fn with_shared_quota(mut self, shared: Option<Arc<RedisLink>>) -> Self {
        if shared.is_some() {
            self.quota = QuarantineQuota::new(self.quota.limit(), shared);
        }
        self
    }

    /// Stores an accepted payload (only a [`Validated`] one) under `key`.
    pub async fn accept(&self, key: &str, validated: &Validated, meta: &Meta<'_>) -> Result<(), SinkError> {
        self.write(Zone::Raw, key, validated.received().payload.clone(), meta).await
    }

    /// Keeps a refused payload under `key`, within the day's quota.
    pub async fn quarantine(&self, key: &str, payload: Bytes, meta: &Meta<'_>) -> Result<(), SinkError> {
        self.write(Zone::Quarantine, key, payload, meta).await
    }

    /// Writes the payload, then its metadata; both are durable on return.
    async fn write(&self, zone: Zone, key: &str, payload: Bytes, meta: &Meta<'_>) -> Result<(), SinkError> {
        if zone == Zone::Quarantine && !self.quota.take(payload.len() as u64, crate::ctx::now_secs()).await {
            return Err(SinkError::QuotaExceeded);
        }
        let mut meta_json = serde_json::to_value(meta).unwrap_or_default();
        let payload = match &self.keyring {
            Some(keyring) => {
                let sealed =
                    envelope::seal(keyring, meta.stream, meta.id, &payload).await.map_err(SinkError::Seal)?;
                if let Some(fields) = meta_json.as_object_mut() {
                    fields.insert("encryption".into(), encryption_label(keyring).into());
                }
                Bytes::from(sealed)
            }
            None => payload,
        };
        let meta_json = serde_json::to_vec(&meta_json).unwrap_or_default();
        self.store.put(key, payload).await.map_err(SinkError::Store)?;
        self.store.put(&format!("{key}.meta.json"), Bytes::from(meta_json)).await.map_err(SinkError::Store)
    }

    /// Whether payloads are stored sealed under a KEK.
    pub fn sealed(&self) -> bool {
        self.keyring.is_some()
    }

    pub fn store(&self) -> &ObjectStore {
        &self.store
    }
}

/// The stream and object id of a gateway object key
/// (`{zone}/{stream}/YYYY/MM/DD/{id}`).
pub fn stream_and_id(key: &str) -> anyhow::Result<(&str, &str)> {
    let parts: Vec<&str> = key.split('/').collect();
    match (parts.get(1), parts.last()) {
        (Some(stream), Some(id)) if parts.len() >= 3 => Ok((stream, id)),
        _ => anyhow::bail!("{key} is not a gateway object key"),
    }
}

/// Whether `key` names a payload (not its `.meta.json`).
pub fn is_payload_key(key: &str) -> bool {
    !key.ends_with(".meta.json") && stream_and_id(key).is_ok()
}

/// Reads back a stored payload (`raw/...` or `quarantine/...` key),
/// opening its envelope when it is sealed.
pub async fn read_back(store: &ObjectStore, keyring: Option<&Keyring>, key: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = store.get(key).await?.ok_or_else(|| anyhow::anyhow!("no object {key}"))?;
    let (stream, id) = stream_and_id(key)?;
    if !envelope::is_sealed(&bytes) {
        return Ok(bytes.to_vec());
    }
    let keyring = keyring.ok_or_else(|| anyhow::anyhow!("{key} is sealed and no KEK was given"))?;
    envelope::open(keyring, stream, id, &bytes).await.with_context(|| format!("opening {key}"))
}

/// Names the current KEK in the `.meta.json` beside a rewrapped object.
async fn restamp_meta(store: &ObjectStore, key: &str, keyring: &Keyring) -> anyhow::Result<()> {
    let meta_key = format!("{key}.meta.json");
    let Some(bytes) = store.get(&meta_key).await? else { return Ok(()) };
    let mut meta: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {meta_key}"))?;
    if let Some(fields) = meta.as_object_mut() {
        fields.insert("encryption".into(), encryption_label(keyring).into());
    }
    store.put(&meta_key, Bytes::from(serde_json::to_vec(&meta)?)).await?;
    Ok(())
}

fn encryption_label(keyring: &Keyring) -> String {
    format!("A256GCM envelope, KEK {}", keyring.current().id())
}

/// Rewraps the object at `key` under the current KEK; whether it changed.
pub async fn rewrap(store: &ObjectStore, keyring: &Keyring, key: &str) -> anyhow::Result<bool> {
    let (stream, id) = stream_and_id(key)?;
    let Some(bytes) = store.get(key).await? else { return Ok(false) };
    if !envelope::is_sealed(&bytes) {
        return Ok(false);
    }
    match envelope::rewrap(keyring, stream, id, &bytes).await.with_context(|| format!("rewrapping {key}"))? {
        Some(rewrapped) => {
            store.put(key, Bytes::from(rewrapped)).await?;
            restamp_meta(store, key, keyring).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_keys_by_day() {
        let a = object_id(1_700_000_000_000).expect("id");
        let b = object_id(1_700_000_000_001).expect("id");
        assert_eq!(a.len(), 26);
        assert!(a < b, "{a} < {b}");
        assert_ne!(object_id(5).expect("id"), object_id(5).expect("id"), "random part");
        assert_eq!(object_key(Zone::Raw, "demo", 1_763_700_000_000_000, "X"), "raw/demo/2025/11/21/X");
        assert_eq!(rfc3339_micros(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
    }

    #[tokio::test]
    async fn the_quarantine_quota_is_enforced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = Sink::new(ObjectStore::local(dir.path()), 10, None);
        let meta = Meta {
            id: "a",
            stream: "s",
            sha256: "",
            bytes: 6,
            content_type: "text/plain",
            client: "c",
            client_ip: "127.0.0.1".into(),
            received_at: String::new(),
            schema_version: "1",
            reason: Some("x"),
            rules: vec![],
            findings: vec![],
        };
        sink.write(Zone::Quarantine, "q/a", Bytes::from_static(b"123456"), &meta).await.expect("fits");
        let full = sink.write(Zone::Quarantine, "q/b", Bytes::from_static(b"123456"), &meta).await;
        assert!(matches!(full, Err(SinkError::QuotaExceeded)));
        assert!(
            sink.write(Zone::Raw, "r/c", Bytes::from_static(b"123456"), &meta).await.is_ok(),
            "raw has no quota"
        );
    }
}
