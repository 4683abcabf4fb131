use crate::hash::HashAlg;
use serde::{Deserialize, Serialize};

/// Object-store key of the current manifest.
pub const MANIFEST_KEY: &str = "ocsp/manifest.json";

/// Object-store key of a segment, by its content hash.
pub fn segment_key(sha256_hex: &str) -> String {
    format!("ocsp/segments/{sha256_hex}.seg")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Strictly increasing within an epoch; responders ignore a manifest
    /// older than theirs (see [`ManifestVersion`]).
    pub generation: u64,
    /// When the history its generations count in began: 0, or the time
    /// (Unix seconds) of the latest restore of the registry or re-signing of
    /// every response. A control plane restored from a backup counts
    /// generations again from the backup's manifest; with a later epoch its
    /// manifests are newer than those published before the restore, which
    /// responders still serve. Manifests from before this field: 0.
    #[serde(default)]
    pub epoch: i64,
    /// Unix seconds.
    pub created_at: i64,
    pub issuers: Vec<ManifestIssuer>,
    /// In override order: later segments win.
    pub segments: Vec<SegmentRef>,
    /// The CertID hash algorithms responses are pre-signed for; a request
    /// hashed otherwise has no response (clients match the whole CertID).
    /// Manifests from before this field: SHA-1 and SHA-256.
    #[serde(default = "pre_signed_before_configurable")]
    pub cert_id_hashes: Vec<HashAlg>,
}

fn pre_signed_before_configurable() -> Vec<HashAlg> {
    vec![HashAlg::Sha1, HashAlg::Sha256]
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestIssuer {
    /// Hex of the [`super::IssuerId`] used inside segments.
    pub id: String,
    /// Its name in the hierarchy (`tls`, `documents`): the `{issuer}` of
    /// `/crl/{issuer}.crl` and `/ca/{issuer}.cer`. Empty in manifests of
    /// older versions.
    #[serde(default)]
    pub name: String,
    /// Base64 (standard) of the issuer certificate DER.
    pub certificate: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    /// Hex SHA-256 of the segment bytes (its content address).
    pub sha256: String,
    pub entries: u64,
    pub bytes: u64,
}

/// How new a manifest is: by epoch, then generation. A manifest older than
/// the one served is a stale read or a rollback, and could hide a
/// revocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ManifestVersion {
    pub epoch: i64,
    pub generation: u64,
}

impl Manifest {
    /// Generation 0: nothing published yet.
    pub fn empty() -> Self {
        Self {
            generation: 0,
            epoch: 0,
            created_at: 0,
            issuers: vec![],
            segments: vec![],
            cert_id_hashes: vec![],
        }
    }

    pub fn version(&self) -> ManifestVersion {
        ManifestVersion { epoch: self.epoch, generation: self.generation }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_epoch_is_newer_whatever_its_generation() {
        let version = |epoch, generation| ManifestVersion { epoch, generation };
        assert!(version(0, 2) > version(0, 1));
        assert!(version(1_700_000_000, 1) > version(0, 900));
        assert!(version(1_700_000_000, 1) < version(1_700_000_000, 2));
    }

    #[test]
    fn manifests_from_before_epochs_are_epoch_0() {
        let mut json: serde_json::Value =
            serde_json::from_slice(&Manifest::empty().to_json()).unwrap_or_default();
        json.as_object_mut().map(|o| o.remove("epoch"));
        let parsed = Manifest::from_json(json.to_string().as_bytes()).map(|m| m.version());
        assert_eq!(parsed.ok(), Some(ManifestVersion { epoch: 0, generation: 0 }));
    }
}
