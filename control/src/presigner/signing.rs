//! Signing a batch of responses on every core, and the segment they are
//! laid out in.

use crate::ca::{Hierarchy, IssuingCa, OcspSigning};
use crate::registry::OcspWork;
use crate::revocation::ocsp_reason;
use cartorio_pkix::ocsp::{CertStatus, cert_id, serial_integer_contents, sign_response};
use cartorio_pkix::publication::{EntryMeta, IssuerId, SegmentBuilder};
use std::collections::HashSet;
use std::sync::Arc;

use super::OcspPolicy;

/// `segment` without the responses for `serials` (hex, as the registry
/// writes them), and how many entries are left.
pub(super) fn without_serials(
    segment: &[u8],
    serials: &HashSet<String>,
) -> anyhow::Result<(bytes::Bytes, u64)> {
    let drop: HashSet<Vec<u8>> = serials
        .iter()
        .map(|s| Ok(serial_integer_contents(&hex::decode(s)?)))
        .collect::<anyhow::Result<_>>()?;
    let mut kept = SegmentBuilder::new();
    for entry in cartorio_pkix::publication::parse_segment(segment)? {
        if !drop.contains(entry.serial) {
            kept.push(
                entry.issuer,
                entry.serial,
                entry.meta,
                segment.get(entry.der.clone()).unwrap_or_default(),
            )?;
        }
    }
    let entries = kept.len() as u64;
    Ok((bytes::Bytes::from(kept.finish()), entries))
}

/// Responses signed and laid out in segment parts (in order), not yet
/// published. The parts are joined by the publishing step, which in a bulk
/// run overlaps the signing of the next batch.
pub(super) struct SignedBatch {
    pub parts: Vec<SegmentBuilder>,
    pub published: Published,
    /// The registry's change mark when the batch's certificates were read:
    /// a certificate changed after it may have a stale response here.
    pub as_of: i64,
}

/// Signs `work` (see [`sign_batch`]) on threads of its own, off the async
/// runtime.
pub(super) async fn sign_off_async(
    ca: Arc<Hierarchy>,
    policy: OcspPolicy,
    work: Arc<[OcspWork]>,
    now: i64,
    as_of: i64,
) -> anyhow::Result<SignedBatch> {
    let (parts, published) =
        tokio::task::spawn_blocking(move || sign_batch(&ca, &policy, &work, now)).await??;
    Ok(SignedBatch { parts, published, as_of })
}

pub(super) type Published = Vec<(String, i64, i64)>;

/// Signs `work` on `policy.signing_threads` threads, each laying out its
/// responses in segment parts of its own; the parts come back in the order
/// of `work`.
fn sign_batch(
    ca: &Hierarchy,
    policy: &OcspPolicy,
    work: &[OcspWork],
    now: i64,
) -> anyhow::Result<(Vec<SegmentBuilder>, Published)> {
    /// Certificates a thread takes at a time: threads finish together.
    const CHUNK: usize = 256;
    let threads = policy.signing_threads.clamp(1, work.len().div_ceil(CHUNK).max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let start = next.fetch_add(CHUNK, std::sync::atomic::Ordering::Relaxed);
        work.get(start..).filter(|rest| !rest.is_empty()).map(|rest| (start, &rest[..CHUNK.min(rest.len())]))
    };
    let mut parts: Vec<(usize, SegmentBuilder, Published)> = Vec::new();
    std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while let Some((start, chunk)) = take() {
                        let (part, done) = sign_part(ca, policy, chunk, now)?;
                        mine.push((start, part, done));
                    }
                    anyhow::Ok(mine)
                })
            })
            .collect();
        for thread in running {
            parts.extend(thread.join().map_err(|_| anyhow::anyhow!("a signing thread panicked"))??);
        }
        anyhow::Ok(())
    })?;
    parts.sort_unstable_by_key(|(start, _, _)| *start);
    let mut published = Vec::with_capacity(work.len());
    let mut segment_parts = Vec::with_capacity(parts.len());
    for (_, part, done) in parts {
        segment_parts.push(part);
        published.extend(done);
    }
    Ok((segment_parts, published))
}

/// An issuing CA as one part signs for it: loaded once per part.
struct Signing<'a> {
    ca: &'a IssuingCa,
    id: IssuerId,
    ocsp: arc_swap::Guard<Arc<OcspSigning>>,
    next_update: i64,
}

impl<'a> Signing<'a> {
    fn of(ca: &'a IssuingCa, policy: &OcspPolicy, now: i64) -> anyhow::Result<Self> {
        let id: IssuerId =
            hex::decode(&ca.id)?.try_into().map_err(|_| anyhow::anyhow!("issuer id is not 32 octets"))?;
        let ocsp = ca.ocsp.load();
        anyhow::ensure!(
            now < ocsp.not_after,
            "the {} CA's OCSP signer certificate expired at {}: not signing with it (see renewal)",
            ca.name,
            ocsp.not_after
        );
        // No response outlives its signer's certificate.
        let next_update = (now + policy.validity_secs).min(ocsp.not_after);
        Ok(Self { ca, id, ocsp, next_update })
    }
}

fn sign_part(
    hierarchy: &Hierarchy,
    policy: &OcspPolicy,
    work: &[OcspWork],
    now: i64,
) -> anyhow::Result<(SegmentBuilder, Published)> {
    let mut part = SegmentBuilder::new();
    let mut published = Vec::with_capacity(work.len());
    let mut signing: Vec<Signing<'_>> = Vec::with_capacity(hierarchy.issuers.len());
    for cert in work {
        let at = match signing.iter().position(|s| s.ca.id == cert.issuer_id) {
            Some(at) => at,
            None => match hierarchy.by_id(&cert.issuer_id) {
                Some(ca) => {
                    signing.push(Signing::of(ca, policy, now)?);
                    signing.len() - 1
                }
                None => {
                    tracing::warn!(
                        serial = cert.serial,
                        "certificate from an issuer without a loaded key; skipped"
                    );
                    continue;
                }
            },
        };
        let Some(issuer) = signing.get(at) else { continue };
        let serial = serial_integer_contents(&hex::decode(&cert.serial)?);
        let status = match cert.revoked_at {
            Some(at) => CertStatus::Revoked { at, reason: cert.revocation_reason.and_then(ocsp_reason) },
            None => CertStatus::Good,
        };
        for &hash in &policy.cert_id_hashes {
            let id = cert_id(&issuer.ca.hashes, hash, &serial);
            let response = sign_response(
                &issuer.ocsp.template,
                &*issuer.ocsp.signer,
                &id,
                status,
                now,
                issuer.next_update,
            )?;
            let meta = EntryMeta {
                this_update: now,
                next_update: issuer.next_update,
                revoked: cert.revoked_at.is_some(),
                cert_id_hash: hash,
            };
            part.push(&issuer.id, &serial, meta, &response.der)?;
        }
        published.push((cert.serial.clone(), cert.status_version, issuer.next_update));
        if published.len() == 1 {
            // The rest are about the size of the first: grown once, not doubling.
            part.reserve(part.record_bytes() * (work.len() - 1));
        }
    }
    Ok((part, published))
}

#[cfg(test)]
mod tests {
    use super::{HashSet, SegmentBuilder, without_serials};
    use cartorio_pkix::hash::HashAlg;
    use cartorio_pkix::publication::{EntryMeta, parse_segment};

    #[test]
    fn stale_responses_leave_the_segment_and_nothing_else_does() {
        let meta = EntryMeta { this_update: 1, next_update: 2, revoked: false, cert_id_hash: HashAlg::Sha1 };
        let mut segment = SegmentBuilder::new();
        for serial in [[0x01u8], [0x02], [0x7f]] {
            for hash in [HashAlg::Sha1, HashAlg::Sha256] {
                segment
                    .push(&[9; 32], &serial, EntryMeta { cert_id_hash: hash, ..meta }, &serial)
                    .expect("push");
            }
        }
        let bytes = segment.finish();
        let stale: HashSet<String> = ["02".to_owned()].into();
        let (kept, entries) = without_serials(&bytes, &stale).expect("filter");
        let serials: Vec<&[u8]> = parse_segment(&kept).expect("parse").iter().map(|e| e.serial).collect();
        assert_eq!(serials, [&[0x01][..], &[0x01], &[0x7f], &[0x7f]]);
        assert_eq!(entries, 4);
    }
}
