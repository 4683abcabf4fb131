//! `Idempotency-Key`: a retry with the same key (same stream, same client)
//! gets the first result instead of storing the payload again. Results are
//! kept in the object store, so they survive restarts and are shared by
//! every gateway on the same store; a second request racing the first with
//! the same key gets 409 until the first is done.

use bytes::Bytes;
use cartorio_platform::ObjectStore;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Recorded {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

#[derive(Default)]
pub struct Idempotency {
    in_flight: Arc<Mutex<HashSet<String>>>,
}

/// Holds a key while its first request runs.
pub struct Claim {
    key: String,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

/// Whether a client's Idempotency-Key is usable: 1 to 255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The object key under which a result is kept.
pub fn record_key(stream: &str, client: &str, key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [client.as_bytes(), b"\0", key.as_bytes()] {
        ctx.update(part);
    }
    format!("idempotency/{stream}/{}.json", hex::encode(ctx.finish()))
}

impl Idempotency {
    pub async fn recall(&self, store: &ObjectStore, record: &str) -> Option<Recorded> {
        let bytes = store.get(record).await.ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    /// `None` while another request holds the same key.
    pub fn claim(&self, record: &str) -> Option<Claim> {
        let mut held = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(record.to_owned())
            .then(|| Claim { key: record.to_owned(), in_flight: self.in_flight.clone() })
    }

    pub async fn remember(&self, store: &ObjectStore, record: &str, result: &Recorded) {
        let json = serde_json::to_vec(result).unwrap_or_default();
        if let Err(error) = store.put(record, Bytes::from(json)).await {
            tracing::warn!(%error, "could not record an idempotent result");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_are_recalled_and_keys_claimed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let idem = Idempotency::default();
        let record = record_key("demo", "alice", "k1");
        assert_ne!(record, record_key("demo", "bob", "k1"), "keys are per client");
        assert!(idem.recall(&store, &record).await.is_none());
        let claim = idem.claim(&record).expect("first");
        assert!(idem.claim(&record).is_none(), "held");
        let result = Recorded { status: 202, content_type: "application/json".into(), body: "{}".into() };
        idem.remember(&store, &record, &result).await;
        drop(claim);
        assert!(idem.claim(&record).is_some(), "released");
        assert_eq!(idem.recall(&store, &record).await, Some(result));
        assert!(valid_key("abc-123") && !valid_key("") && !valid_key("a b") && !valid_key(&"x".repeat(256)));
    }
}
