//! Revocation data and CA certificates, served from the object store the
//! control plane publishes to: `GET /crl/{issuer}.crl`,
//! `/crl/{issuer}/{shard}.crl` (`application/pkix-crl`) and
//! `/ca/{issuer}.cer` (`application/pkix-cert`), the URLs issued
//! certificates carry in CRLDP and AIA caIssuers.
//!
//! Objects are kept a few seconds, so a load of CRL fetches costs the store
//! one read per object per interval, and a new CRL is served within that
//! interval, or at once when a new manifest is loaded (the pre-signer puts
//! a CRL with a revocation before the manifest with its responses). When
//! the store fails, what was read last is served (fail soft on
//! availability; a CRL past its nextUpdate is never served).

use bytes::Bytes;
use cartorio_pkix::publication::ManifestVersion;
use cartorio_platform::ObjectStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an object read from the store is served before it is read again.
const FRESH_FOR: Duration = Duration::from_secs(5);
/// Objects (and known misses) kept at most.
const MAX_KEPT: usize = 4096;

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Crl,
    CaCertificate,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Crl => "application/pkix-crl",
            Kind::CaCertificate => "application/pkix-cert",
        }
    }
}

fn issuer_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The store key a request path names, if it names one.
pub fn key_of(path: &str) -> Option<(String, Kind)> {
    if let Some(rest) = path.strip_prefix("/crl/") {
        let stem = rest.strip_suffix(".crl")?;
        return match stem.split_once('/') {
            None if issuer_name(stem) => Some((format!("crl/{stem}.crl"), Kind::Crl)),
            Some((issuer, shard))
                if issuer_name(issuer)
                    && (1..=6).contains(&shard.len())
                    && shard.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some((format!("crl/{issuer}/{shard}.crl"), Kind::Crl))
            }
            _ => None,
        };
    }
    let issuer = path.strip_prefix("/ca/")?.strip_suffix(".cer")?;
    issuer_name(issuer).then(|| (format!("ca/{issuer}.cer"), Kind::CaCertificate))
}

/// One object as served.
#[derive(Debug)]
pub struct Object {
    pub bytes: Bytes,
    /// A strong ETag from the content (quoted hex).
    pub etag: String,
    /// thisUpdate of a CRL.
    pub last_modified: Option<i64>,
    /// nextUpdate of a CRL.
    pub expires: Option<i64>,
}

impl Object {
    fn of(bytes: Bytes, kind: Kind) -> Self {
        let digest = cartorio_pkix::hash::sha256_hex(&bytes);
        let view = match kind {
            Kind::Crl => cartorio_pkix::crl::CrlView::parse(&bytes),
            Kind::CaCertificate => None,
        };
        Self {
            etag: format!("\"{}\"", digest.get(..32).unwrap_or(&digest)),
            last_modified: view.map(|v| v.this_update),
            expires: view.and_then(|v| v.next_update),
            bytes,
        }
    }
}

/// Objects read from the store, each kept [`FRESH_FOR`].
pub struct Published {
    store: ObjectStore,
    /// key -> (read at, manifest version then, object or miss).
    kept: Mutex<HashMap<String, Kept>>,
}

type Kept = (Instant, ManifestVersion, Option<Arc<Object>>);

impl Published {
    pub fn new(store: ObjectStore) -> Self {
        // Present from the start, so alerts on its increase see a zero.
        metrics::counter!("cartorio_published_read_failures_total").increment(0);
        Self { store, kept: Mutex::new(HashMap::new()) }
    }

    /// The object under `key`; `None` when there is none. `served` is the
    /// manifest served now: another one makes what was kept stale (after a
    /// restore, a generation seen before may come back under a new epoch).
    pub async fn get(&self, key: &str, kind: Kind, served: ManifestVersion) -> Option<Arc<Object>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned();
        if let Some((read_at, seen, object)) = &kept
            && read_at.elapsed() < FRESH_FOR
            && *seen == served
        {
            return object.clone();
        }
        let object = match self.store.get(key).await {
            Ok(found) => found.map(|bytes| Arc::new(Object::of(bytes, kind))),
            Err(error) => {
                metrics::counter!("cartorio_published_read_failures_total").increment(1);
                tracing::warn!(key, %error, "the store could not be read; serving what was read last");
                return kept.and_then(|(_, _, object)| object);
            }
        };
        let mut map = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEPT {
            map.retain(|_, (_, _, object)| object.is_some());
        }
        if map.len() < MAX_KEPT {
            map.insert(key.to_owned(), (Instant::now(), served, object.clone()));
        }
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_crls_shards_and_ca_certificates_and_nothing_else() {
        assert_eq!(key_of("/crl/tls.crl"), Some(("crl/tls.crl".into(), Kind::Crl)));
        assert_eq!(key_of("/crl/documents/3.crl"), Some(("crl/documents/3.crl".into(), Kind::Crl)));
        assert_eq!(key_of("/ca/documents.cer"), Some(("ca/documents.cer".into(), Kind::CaCertificate)));
        for bad in [
            "/crl/../x.crl",
            "/crl/TLS.crl",
            "/crl/tls/x.crl",
            "/crl/tls/1/2.crl",
            "/crl/.crl",
            "/ca/tls.pem",
            "/ca/a/b.cer",
            "/crl/tls.crl/",
            "/MEIwQDA",
        ] {
            assert_eq!(key_of(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn objects_are_read_again_once_stale_and_misses_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let published = Published::new(store.clone());
        let version = |epoch, generation| ManifestVersion { epoch, generation };
        assert!(published.get("ca/tls.cer", Kind::CaCertificate, version(0, 1)).await.is_none());
        store.put("ca/tls.cer", Bytes::from_static(b"cert")).await.expect("put");
        // A miss is kept as long as a hit: the next read is after FRESH_FOR,
        // or once another manifest is served.
        assert!(published.get("ca/tls.cer", Kind::CaCertificate, version(0, 1)).await.is_none());
        let object = published.get("ca/tls.cer", Kind::CaCertificate, version(0, 2)).await.expect("object");
        assert_eq!(&object.bytes[..], b"cert");
        assert!(object.etag.starts_with('"') && object.last_modified.is_none());
        // The same generation under a later epoch (a restore) is another
        // manifest.
        store.put("ca/tls.cer", Bytes::from_static(b"renewed")).await.expect("put");
        let object = published.get("ca/tls.cer", Kind::CaCertificate, version(7, 2)).await.expect("object");
        assert_eq!(&object.bytes[..], b"renewed");
    }
}
