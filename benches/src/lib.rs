//! Shared fixtures for Cartorio's benchmarks.

use cartorio_pkix::cert::extensions as ext;
use cartorio_pkix::der::encode::{integer_u64, octet_string, seq};
use cartorio_pkix::tsp::{TimePrecision, TokenTemplate};
use cartorio_pkix::{EcCurve, EcdsaSigner, oid};
use std::sync::Arc;

/// A fresh P-256 key.
pub fn p256_signer() -> EcdsaSigner {
    cartorio_testkit::pki::ec_key(EcCurve::P256)
}

/// A TSA token template over a self-issued TSA certificate, as `up` builds it.
pub fn tsa_template() -> TokenTemplate {
    let signer = p256_signer();
    let eku = ext::extended_key_usage(&[oid::KP_TIME_STAMPING], true);
    let cert = cartorio_testkit::pki::self_signed(&signer, "Bench TSA", vec![eku]);
    TokenTemplate::new(Arc::new(signer), &[cert], TimePrecision::Millis, 1_000_000).expect("template")
}

/// A TimeStampReq like `openssl ts -query -sha256 -cert` sends.
pub fn tsa_request() -> Vec<u8> {
    let imprint = seq(&[&seq(&[oid::SHA256]), &octet_string(&[0x5a; 32])]);
    seq(&[&integer_u64(1), &imprint, &integer_u64(0x1234_5678_9abc_def0), &[0x01, 0x01, 0xff]])
}

/// What raw signing signs in a token: the signed attributes are about this long.
pub const SIGNED_ATTRS_LEN: usize = 230;

/// An index of `n` responses under one issuer (serials 1..=n as 4-octet
/// INTEGER contents) in one segment, then `newer` segments of 10,000 other
/// serials each (the worst case for a lookup of the first: every newer layer
/// is probed first), and the issuer's hashes for building requests.
/// Response bytes are a fixed 500-octet blob: lookup never parses them.
pub fn ocsp_index(n: u32, newer: u32) -> (cartorio_responder::Index, cartorio_pkix::ocsp::IssuerHashes) {
    use cartorio_pkix::cert::CertificateView;
    use cartorio_pkix::hash::{HashAlg, sha256_hex};
    use cartorio_pkix::publication::{EntryMeta, SegmentBuilder, SegmentRef};
    let cert = cartorio_testkit::pki::self_signed(&p256_signer(), "Bench Issuer", vec![]);
    let view = CertificateView::parse(&cert).expect("view");
    let hashes = cartorio_pkix::ocsp::IssuerHashes::of(&view).expect("hashes");
    let id: [u8; 32] = HashAlg::Sha256.digest(view.spki).try_into().expect("32 octets");
    let blob = vec![0x30u8; 500];
    let (mut manifest, _) = cartorio_testkit::pki::one_segment_manifest(&cert, &[], 0);
    manifest.segments.clear();
    let mut segments = std::collections::HashMap::new();
    let ranges = std::iter::once(1..=n).chain((0..newer).map(|i| n + 1 + i * 10_000..=n + (i + 1) * 10_000));
    for serials in ranges {
        let mut segment = SegmentBuilder::new();
        for serial in serials {
            let meta = EntryMeta {
                this_update: 0,
                next_update: 4_000_000_000,
                revoked: false,
                cert_id_hash: HashAlg::Sha1,
            };
            segment.push(&id, &serial_contents(serial), meta, &blob).expect("push");
        }
        let entries = segment.len() as u64;
        let bytes = segment.finish();
        let sha256 = sha256_hex(&bytes);
        manifest.segments.push(SegmentRef { sha256: sha256.clone(), entries, bytes: bytes.len() as u64 });
        segments.insert(sha256, bytes::Bytes::from(bytes));
    }
    (cartorio_responder::Index::build(&manifest, &segments).expect("index"), hashes)
}

/// Minimal DER INTEGER contents of a positive serial.
pub fn serial_contents(serial: u32) -> Vec<u8> {
    cartorio_pkix::ocsp::serial_integer_contents(&serial.to_be_bytes())
}

/// A DER OCSPRequest for `serial` with SHA-1 CertID and a 16-octet nonce, as
/// `openssl ocsp` sends it.
pub fn ocsp_request(hashes: &cartorio_pkix::ocsp::IssuerHashes, serial: u32) -> Vec<u8> {
    use cartorio_pkix::der::encode::{explicit, null, tlv};
    let (name_hash, key_hash) = hashes.hashes(cartorio_pkix::hash::HashAlg::Sha1).expect("sha1");
    let cert_id = seq(&[
        &seq(&[oid::SHA1, &null()]),
        &octet_string(name_hash),
        &octet_string(key_hash),
        &tlv(0x02, &[&serial_contents(serial)]),
    ]);
    let nonce = seq(&[&seq(&[oid::OCSP_NONCE, &octet_string(&octet_string(&[7; 16]))])]);
    seq(&[&seq(&[&seq(&[&seq(&[&cert_id])]), &explicit(2, &nonce)])])
}

/// A real issuer and one good and one revoked response it signed, for
/// publishing many entries that share those bytes (the index never parses
/// them; only their serials differ).
pub struct SignedFixture {
    pub issuer_cert: Vec<u8>,
    pub hashes: cartorio_pkix::ocsp::IssuerHashes,
    pub issuer_id: [u8; 32],
    pub good: Vec<u8>,
    pub revoked: Vec<u8>,
}

impl SignedFixture {
    pub fn new() -> anyhow::Result<Self> {
        use cartorio_pkix::Signer;
        use cartorio_pkix::hash::HashAlg;
        use cartorio_pkix::ocsp::{CertStatus, ResponderTemplate, cert_id, sign_response};
        let key = p256_signer();
        let issuer_cert = cartorio_testkit::pki::self_signed(&key, "Bench Issuer", vec![]);
        let view = cartorio_pkix::cert::CertificateView::parse(&issuer_cert)?;
        let hashes = cartorio_pkix::ocsp::IssuerHashes::of(&view)?;
        let template = ResponderTemplate::new(&issuer_cert, key.spki())?;
        let id = cert_id(&hashes, HashAlg::Sha1, &[1]);
        let good = sign_response(&template, &key, &id, CertStatus::Good, 0, 4_000_000_000)?.der;
        let revoked = CertStatus::Revoked { at: 1, reason: Some(1) };
        let revoked = sign_response(&template, &key, &id, revoked, 0, 4_000_000_000)?.der;
        let issuer_id = HashAlg::Sha256.digest(view.spki).try_into().map_err(|_| anyhow::anyhow!("id"))?;
        Ok(Self { issuer_cert, hashes, issuer_id, good, revoked })
    }

    /// Writes one segment holding `serials` (SHA-1 CertIDs) to `store`.
    pub async fn put_segment(
        &self,
        store: &cartorio_platform::ObjectStore,
        serials: impl Iterator<Item = u32>,
        revoked: bool,
    ) -> anyhow::Result<cartorio_pkix::publication::SegmentRef> {
        use cartorio_pkix::hash::{HashAlg, sha256_hex};
        use cartorio_pkix::publication::{EntryMeta, SegmentBuilder, SegmentRef, segment_key};
        let der = if revoked { &self.revoked } else { &self.good };
        let meta =
            EntryMeta { this_update: 0, next_update: 4_000_000_000, revoked, cert_id_hash: HashAlg::Sha1 };
        let mut segment = SegmentBuilder::new();
        for serial in serials {
            segment.push(&self.issuer_id, &serial_contents(serial), meta, der)?;
        }
        let entries = segment.len() as u64;
        let bytes = segment.finish();
        let (sha256, size) = (sha256_hex(&bytes), bytes.len() as u64);
        store.put(&segment_key(&sha256), bytes::Bytes::from(bytes)).await?;
        Ok(SegmentRef { sha256, entries, bytes: size })
    }

    /// A manifest of `generation` naming this issuer and `segments`.
    pub fn manifest(
        &self,
        generation: u64,
        segments: Vec<cartorio_pkix::publication::SegmentRef>,
    ) -> cartorio_pkix::publication::Manifest {
        let (mut manifest, _) = cartorio_testkit::pki::one_segment_manifest(&self.issuer_cert, &[], 0);
        manifest.generation = generation;
        manifest.segments = segments;
        manifest
    }
}

/// This process's resident set size.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
