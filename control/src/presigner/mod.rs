//! The OCSP pre-signer: signs a response for every certificate that needs
//! one (revocations first, then issuances, then refreshes), publishes them,
//! and records what was published.

mod signing;

use crate::ca::Hierarchy;
use crate::publisher::Publisher;
use crate::registry::{OcspWork, Registry, lock};
use cartorio_pkix::hash::HashAlg;
use cartorio_pkix::publication::SegmentBuilder;
use cartorio_platform::Shutdown;
use cartorio_platform::rounds::{Reload, Rounds};
use signing::{SignedBatch, sign_off_async, without_serials};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Most certificates signed per publication in the steady loop: small
/// enough that a revocation waits little behind a refresh.
const BATCH: usize = 10_000;
/// Per publication in a bulk run (`drain`): fewer, bigger segments, so less
/// compaction and fewer pipeline stalls per response. Between these bounds,
/// the batch is what fits the backlog into the segments the manifest has
/// room for, so a bulk run rarely merges.
const BULK_BATCH: usize = 50_000;
const MAX_BULK_BATCH: usize = 250_000;
/// Longest a publication waits for the responder in the same process to
/// serve it (a reload reads a manifest and a segment: milliseconds).
const RELOAD_WAIT: Duration = Duration::from_secs(2);
/// How often to look for due refreshes and changes made by other processes.
const POLL: Duration = Duration::from_secs(1);
/// The least time between two publications of the steady loop. Under a
/// stream of issuances (ACME at a few hundred orders/s) publishing after
/// every few certificates made tiny segments whose merges, and the
/// responders' reloads of them, cost about a fifth of the CPU
/// (`benches/acme_pebble.sh`, perf); waiting this long gathers them into one.
/// A revocation so waits at most this much more, well inside its 2 s budget.
const COALESCE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct OcspPolicy {
    /// nextUpdate - thisUpdate.
    pub validity_secs: i64,
    /// One response is pre-signed per CertID hash: a client matches the
    /// SingleResponse by its whole CertID, hash algorithm included.
    pub cert_id_hashes: Vec<HashAlg>,
    /// Threads that sign a batch in parallel (default: one per CPU; an HSM
    /// session pool bounds them further).
    pub signing_threads: usize,
}

impl OcspPolicy {
    /// Baseline Requirements §4.9.10: a response is valid for at least 8
    /// hours and at most 10 days.
    pub fn validate(&self) -> anyhow::Result<()> {
        const MIN: i64 = 8 * 3600;
        const MAX: i64 = 10 * 24 * 3600;
        anyhow::ensure!(
            (MIN..=MAX).contains(&self.validity_secs),
            "OCSP validity of {} s is outside the Baseline Requirements' 8 hours to 10 days",
            self.validity_secs
        );
        anyhow::ensure!(!self.cert_id_hashes.is_empty(), "no CertID hash to pre-sign for");
        Ok(())
    }

    /// Refresh at half-life, but never later than 8 hours before nextUpdate
    /// (Baseline Requirements §4.9.10).
    fn refresh_margin(&self) -> i64 {
        (self.validity_secs / 2).max(8 * 3600).min(self.validity_secs)
    }
}

impl Default for OcspPolicy {
    fn default() -> Self {
        // SHA-1 for RFC 5019 clients, SHA-256 for those that hash with it.
        Self {
            validity_secs: 4 * 24 * 3600,
            cert_id_hashes: vec![HashAlg::Sha1, HashAlg::Sha256],
            signing_threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        }
    }
}

pub struct PreSigner {
    pub registry: Arc<Mutex<Registry>>,
    pub ca: Arc<Hierarchy>,
    pub publisher: Publisher,
    pub policy: OcspPolicy,
    /// CRL shards besides each full CRL.
    pub crl_sharding: Option<crate::crl::CrlSharding>,
    /// Asked after each publication: a responder in this process (`up`)
    /// reloads at once, and the cycle ends when it serves what was published.
    pub on_publish: Arc<Reload>,
    /// Cycles begun and ended, for callers waiting on a publication.
    pub progress: Arc<Rounds>,
    /// When the CRL was last published (unix seconds; 0: not yet).
    pub crl_published_at: i64,
    /// When the audit log was last checkpointed (unix seconds; 0: not yet).
    pub checkpoint_at: i64,
}

/// The audit log is checkpointed at most this often (when it grew).
const CHECKPOINT_EVERY_SECS: i64 = 10;

impl PreSigner {
    pub async fn run(mut self, wake: Arc<Notify>, shutdown: Shutdown) {
        if let Err(error) = self.refresh_for_new_cert_id_hashes().await {
            tracing::error!(
                error = format!("{error:#}"),
                "could not schedule re-signing for new CertID hashes"
            );
        }
        // Present from the start, so alerts on them see a value.
        metrics::counter!("cartorio_presign_failures_total").increment(0);
        let backlog = metrics::gauge!("cartorio_presign_backlog");
        backlog.set(0.0);
        let mut last_published: Option<Instant> = None;
        self.progress.start();
        loop {
            if let Some(at) = last_published {
                tokio::time::sleep_until((at + COALESCE).into()).await;
            }
            let cycle = self.progress.begin();
            let outcome = self.cycle().await;
            self.progress.end(cycle);
            match outcome {
                // A full batch: at least that many more may be due.
                Ok(n) if n >= BATCH => {
                    backlog.set(n as f64);
                    continue;
                }
                Ok(n) => {
                    backlog.set(0.0);
                    last_published = (n > 0).then(Instant::now);
                }
                Err(error) => {
                    metrics::counter!("cartorio_presign_failures_total").increment(1);
                    tracing::error!(error = format!("{error:#}"), "pre-signing cycle failed; will retry");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = wake.notified() => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// When the policy lists a CertID hash the published responses lack
    /// (the operator added one), every response is re-signed: until then a
    /// request with that hash gets `unauthorized`.
    async fn refresh_for_new_cert_id_hashes(&mut self) -> anyhow::Result<()> {
        let Some(published) = self.publisher.published_cert_id_hashes() else {
            return Ok(());
        };
        let added: Vec<&str> =
            self.policy.cert_id_hashes.iter().filter(|h| !published.contains(h)).map(|h| h.name()).collect();
        if added.is_empty() {
            return Ok(());
        }
        let registry = self.registry.clone();
        let now = cartorio_platform::clock::unix_seconds();
        let due = tokio::task::spawn_blocking(move || lock(&registry).refresh_all(now)).await??;
        tracing::info!(
            added = added.join(","),
            responses = due,
            "new CertID hashes: re-signing every response"
        );
        Ok(())
    }

    /// Signs for the CertID hashes the published manifest lists (when
    /// there is one) instead of this process's policy: `cartorio presign`
    /// beside a running `up` follows the deployment's choice.
    pub fn follow_published_cert_id_hashes(&mut self) {
        if let Some(published) = self.publisher.published_cert_id_hashes().filter(|h| !h.is_empty()) {
            self.policy.cert_id_hashes = published.to_vec();
            self.publisher.set_cert_id_hashes(published.to_vec());
        }
    }

    /// One round: sign what is due, publish it, record it. Returns how many
    /// certificates' responses were published.
    pub async fn cycle(&mut self) -> anyhow::Result<usize> {
        let now = cartorio_platform::clock::unix_seconds();
        let (work, as_of) = self.due(now, &HashSet::new(), BATCH).await?;
        self.housekeeping(&work, now).await?;
        if work.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let batch = sign_off_async(self.ca.clone(), self.policy.clone(), work.into(), now, as_of).await?;
        self.publish(batch, now, started).await
    }

    /// Up to `batch` certificates due for signing, leaving out `in_flight`
    /// (signed, not yet recorded as published), and the registry's change
    /// mark read just before them (see [`SignedBatch::as_of`]).
    async fn due(
        &self,
        now: i64,
        in_flight: &HashSet<&str>,
        batch: usize,
    ) -> anyhow::Result<(Vec<OcspWork>, i64)> {
        let horizon = now + self.policy.refresh_margin();
        let registry = self.registry.clone();
        let limit = batch + in_flight.len();
        let (mut work, mark) = tokio::task::spawn_blocking(move || {
            let mut registry = lock(&registry);
            let mark = registry.change_mark()?;
            anyhow::Ok((registry.signing_work(horizon, now, limit)?, mark))
        })
        .await??;
        work.retain(|c| !in_flight.contains(c.serial.as_str()));
        work.truncate(batch);
        Ok((work, mark))
    }

    /// The audit checkpoint and the CRL, when due (the CRL at once when
    /// `work` revokes).
    async fn housekeeping(&mut self, work: &[OcspWork], now: i64) -> anyhow::Result<()> {
        if now - self.checkpoint_at >= CHECKPOINT_EVERY_SECS {
            self.checkpoint(now).await?;
        }
        let revocations = work.iter().any(|c| c.revoked_at.is_some());
        if revocations || now - self.crl_published_at >= crate::crl::CRL_REFRESH_SECS {
            self.publish_crl().await?;
        }
        Ok(())
    }

    /// Publishes a signed batch and records it in the registry.
    ///
    /// Other publishers may share the store, and certificates may be
    /// revoked while the batch was signed. Before each attempt to swap the
    /// manifest, responses whose certificate changed after the batch was
    /// read are dropped: published over the change, a stale "good" would
    /// hide the revocation. The manifest an attempt builds on was read
    /// before that check, so whatever it holds is covered by the check;
    /// whatever another publisher adds after it fails the swap, and the
    /// next attempt reads and checks again.
    async fn publish(&mut self, batch: SignedBatch, now: i64, started: Instant) -> anyhow::Result<usize> {
        let SignedBatch { parts, mut published, as_of } = batch;
        let (mut segment, mut entries) = tokio::task::spawn_blocking(move || {
            let built = SegmentBuilder::concat(parts)?;
            let entries = built.len() as u64;
            anyhow::Ok((bytes::Bytes::from(built.finish()), entries))
        })
        .await??;
        // In key order the registry's updates walk its index sequentially.
        published.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let issuers = {
            let registry = self.registry.clone();
            tokio::task::spawn_blocking(move || lock(&registry).issuers()).await??
        };
        let mut stored = None;
        let generation = loop {
            let registry = self.registry.clone();
            let changed = tokio::task::spawn_blocking(move || lock(&registry).changed_since(as_of)).await??;
            let stale: HashSet<String> = published
                .iter()
                .filter(|(serial, version, _)| changed.get(serial).is_some_and(|now| now != version))
                .map(|(serial, _, _)| serial.clone())
                .collect();
            if !stale.is_empty() {
                metrics::counter!("cartorio_presign_stale_dropped_total").increment(stale.len() as u64);
                tracing::info!(
                    responses = stale.len(),
                    "dropped responses whose certificate changed since signing"
                );
                published.retain(|(serial, _, _)| !stale.contains(serial));
                (segment, entries) = without_serials(&segment, &stale)?;
                stored = None;
            }
            if published.is_empty() {
                return Ok(0);
            }
            let segment_ref = match stored.take() {
                Some(stored) => stored,
                None => self.publisher.put_segment(segment.clone(), entries).await?,
            };
            match self.publisher.try_publish(&issuers, &segment_ref, now).await? {
                Some(generation) => break generation,
                None => {
                    self.publisher.reload().await?;
                    stored = Some(segment_ref);
                }
            }
        };
        let count = published.len();
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || lock(&registry).mark_published(&published, now)).await??;
        self.on_publish.reloaded(RELOAD_WAIT).await;
        metrics::counter!("cartorio_presign_responses_total").increment(count as u64);
        metrics::histogram!("cartorio_presign_batch_seconds").record(started.elapsed().as_secs_f64());
        tracing::info!(
            responses = count,
            generation,
            took_ms = started.elapsed().as_millis() as u64,
            "published OCSP responses"
        );
        Ok(count)
    }
}

impl PreSigner {
    /// Signs and publishes until nothing is due: `cartorio presign` and the
    /// bulk bench. `progress` gets (certificates done, backlog at the start)
    /// after each batch; the backlog is also the `cartorio_presign_backlog`
    /// gauge.
    pub async fn drain(&mut self, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<u64> {
        let now = cartorio_platform::clock::unix_seconds();
        let horizon = now + self.policy.refresh_margin();
        let registry = self.registry.clone();
        let backlog = tokio::task::spawn_blocking(move || {
            let mut registry = lock(&registry);
            registry.refresh_statistics()?;
            registry.signing_backlog(horizon, now)
        })
        .await??;
        let mut done = 0u64;
        progress(done, backlog);
        self.publisher.set_bulk(true);
        let room = self.publisher.room().max(1);
        let batch = usize::try_from(backlog.div_ceil(room as u64))
            .unwrap_or(MAX_BULK_BATCH)
            .clamp(BULK_BATCH, MAX_BULK_BATCH);
        let drained = self.drain_pipeline(backlog, batch, &mut done, &mut progress).await;
        self.publisher.set_bulk(false);
        drained.map(|()| done)
    }

    async fn drain_pipeline(
        &mut self,
        backlog: u64,
        batch: usize,
        done: &mut u64,
        progress: &mut impl FnMut(u64, u64),
    ) -> anyhow::Result<()> {
        // A pipeline: while batch k+1 is signed, batch k is published and
        // recorded and, every FETCH_AHEAD batches, the next ones are
        // fetched, so the signing threads never wait on the disk or the
        // registry. A fetch skips the batch being signed, but still reads
        // past it: fetching ahead reads it once per FETCH_AHEAD batches.
        const FETCH_AHEAD: usize = 4;
        let mut pending: Option<(SignedBatch, i64, Instant)> = None;
        let mut queue = std::collections::VecDeque::new();
        // The change mark of the fetch the queue came from.
        let mut as_of = 0;
        loop {
            metrics::gauge!("cartorio_presign_backlog").set(backlog.saturating_sub(*done) as f64);
            let now = cartorio_platform::clock::unix_seconds();
            if queue.is_empty() && pending.is_none() {
                // One batch only: the signing threads wait for this fetch.
                let (work, mark) = self.due(now, &HashSet::new(), batch).await?;
                (queue, as_of) = (work.into(), mark);
                if queue.is_empty() {
                    return Ok(());
                }
            }
            let work: Arc<[OcspWork]> = queue.drain(..batch.min(queue.len())).collect();
            self.housekeeping(&work, now).await?;
            let refill = queue.len() < batch;
            let started = Instant::now();
            let signing = {
                let (ca, policy, work) = (self.ca.clone(), self.policy.clone(), work.clone());
                async move {
                    match work.is_empty() {
                        true => Ok(None),
                        false => sign_off_async(ca, policy, work, now, as_of).await.map(Some),
                    }
                }
            };
            let previous = pending.take();
            let publishing_then_fetching = async {
                let published = match previous {
                    Some((batch, at, began)) => self.publish(batch, at, began).await?,
                    None => 0,
                };
                let next = match refill {
                    true => {
                        // Built here, off the signing threads' path.
                        let in_flight: HashSet<&str> = work.iter().map(|c| c.serial.as_str()).collect();
                        let now = cartorio_platform::clock::unix_seconds();
                        Some(self.due(now, &in_flight, FETCH_AHEAD * batch).await?)
                    }
                    false => None,
                };
                anyhow::Ok((published, next))
            };
            let (signed, recorded) = tokio::join!(signing, publishing_then_fetching);
            let (published, next) = recorded?;
            *done += published as u64;
            progress(*done, backlog.max(*done));
            pending = signed?.map(|batch| (batch, now, started));
            if let Some((next, mark)) = next {
                // Fresh from the registry, in its order: it supersedes what was left.
                (queue, as_of) = (next.into(), mark);
            }
        }
    }

    /// Signs a checkpoint over the audit log when it grew, and exports it
    /// to the object store (`audit/checkpoints/{size}.json`).
    async fn checkpoint(&mut self, now: i64) -> anyhow::Result<()> {
        let (registry, ca) = (self.registry.clone(), self.ca.clone());
        let made =
            tokio::task::spawn_blocking(move || lock(&registry).audit_checkpoint(&*ca.audit_signer, now))
                .await??;
        if let Some(checkpoint) = made {
            self.publisher.put_audit_key(self.ca.audit_signer.spki()).await?;
            self.publisher.put_checkpoint(&checkpoint).await?;
            tracing::info!(entries = checkpoint.size, "audit log checkpoint signed");
        }
        self.checkpoint_at = now;
        Ok(())
    }

    /// Signs every issuing CA's CRLs (full, and shards when configured)
    /// and puts them in the store beside the segments, with the CA
    /// certificates the responder serves at `/ca/{issuer}.cer`.
    async fn publish_crl(&mut self) -> anyhow::Result<()> {
        let now = cartorio_platform::clock::unix_micros();
        for ca in self.ca.issuers.clone() {
            let (registry, sharding) = (self.registry.clone(), self.crl_sharding.clone());
            let issuer = ca.clone();
            let (full, shards) = tokio::task::spawn_blocking(move || {
                let mut registry = lock(&registry);
                anyhow::Ok((
                    crate::crl::issue(&mut registry, &issuer, now)?,
                    crate::crl::issue_shards(&mut registry, &issuer, sharding.as_ref(), now)?,
                ))
            })
            .await??;
            self.publisher.put_crl(&crate::crl::crl_key(&ca.name), full.der).await?;
            for (shard, crl) in shards {
                self.publisher.put_crl(&crate::crl::CrlSharding::shard_key(&ca.name, shard), crl.der).await?;
            }
            self.publisher.put_ca(&crate::crl::ca_key(&ca.name), &ca.cert).await?;
        }
        self.crl_published_at = now.div_euclid(1_000_000);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::OcspPolicy;

    #[test]
    fn validity_stays_within_the_baseline_requirements() {
        let with = |validity_secs| OcspPolicy { validity_secs, ..OcspPolicy::default() };
        assert!(OcspPolicy::default().validate().is_ok());
        assert!(with(8 * 3600).validate().is_ok());
        assert!(with(10 * 24 * 3600).validate().is_ok());
        assert!(with(8 * 3600 - 1).validate().is_err());
        assert!(with(10 * 24 * 3600 + 1).validate().is_err());
    }

    #[test]
    fn refresh_comes_at_half_life_and_never_later_than_eight_hours_before_expiry() {
        let with = |validity_secs| OcspPolicy { validity_secs, ..OcspPolicy::default() };
        assert_eq!(with(4 * 24 * 3600).refresh_margin(), 2 * 24 * 3600);
        assert_eq!(with(10 * 3600).refresh_margin(), 8 * 3600);
    }
}
