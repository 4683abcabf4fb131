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
    /// Strictly increasing; responders ignore a manifest not newer than theirs.
    pub generation: u64,
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

impl Manifest {
    /// Generation 0: nothing published yet.
    pub fn empty() -> Self {
        Self { generation: 0, created_at: 0, issuers: vec![], segments: vec![], cert_id_hashes: vec![] }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
