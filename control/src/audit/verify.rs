//! `cartorio audit verify`: the audit log checked with the audit public key
//! alone, against every signed checkpoint it can find.
//!
//! The registry's own chain hashes prove nothing to someone who can write
//! the registry (they can re-chain it), and neither do its checkpoint rows
//! (they can delete them). What they cannot do is sign. So:
//! 1. the chain is walked (an edit that was not re-chained is named at once);
//! 2. every checkpoint found (the registry's, the ones exported to the
//!    object store, any copy the operator keeps) must carry a valid
//!    signature by the audit key, and no two may disagree on one size;
//! 3. the log must reach each checkpoint's size (else it was truncated),
//!    give its tree head at that size (else entries were rewritten, removed
//!    or reordered: named by range), and each checkpoint must be proven
//!    consistent with the next by an RFC 9162 consistency proof built from
//!    the log and checked from the two heads alone.

use super::merkle::{Tree, verify_consistency};
use super::{Checkpoint, Hash, chain_hash, leaf_hash};
use crate::registry::db::Sql;
use std::collections::BTreeMap;

/// The audit public key and the signature algorithm our signer uses with it.
pub struct AuditKey {
    spki: Vec<u8>,
    algorithm: Vec<u8>,
}

impl AuditKey {
    pub fn from_spki(spki: &[u8]) -> anyhow::Result<Self> {
        let algorithm = cartorio_pkix::verify::signature_algorithm_for(spki)
            .map_err(|e| anyhow::anyhow!("the audit public key: {e}"))?;
        Ok(Self { spki: spki.to_vec(), algorithm })
    }

    pub fn from_pem(text: &str) -> anyhow::Result<Self> {
        let spki = cartorio_pkix::cert::public_key_from_pem(text)
            .ok_or_else(|| anyhow::anyhow!("no PUBLIC KEY block"))?;
        Self::from_spki(&spki)
    }

    /// `sha256:` and the hex SHA-256 of the SubjectPublicKeyInfo: what an
    /// operator compares with the key recorded at the ceremony.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", cartorio_pkix::hash::sha256_hex(&self.spki))
    }

    fn signed(&self, cp: &Checkpoint, root: &Hash) -> bool {
        use base64::Engine;
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(&cp.signature) else {
            return false;
        };
        let message = Checkpoint::message(cp.size, root, cp.at);
        cartorio_pkix::verify::verify(&self.spki, &self.algorithm, &message, &signature).is_ok()
    }
}

/// A checkpoint and where it was found (for the report).
#[derive(Debug, Clone)]
pub struct Sourced {
    pub checkpoint: Checkpoint,
    pub source: String,
}

/// What an intact log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intact {
    pub entries: i64,
    /// Distinct signed checkpoints the log was checked against.
    pub checkpoints: usize,
    /// Entries covered by a signed checkpoint (the largest size); the
    /// ones after it rest on the hash chain only, until the next.
    pub covered: i64,
}

/// The first fault: an entry, or a checkpoint the log does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The first entry known bad (or the first of a range).
    pub seq: Option<i64>,
    pub why: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "audit log broken at entry {seq}: {}", self.why),
            None => write!(f, "audit log broken: {}", self.why),
        }
    }
}

fn broken(seq: impl Into<Option<i64>>, why: String) -> anyhow::Result<Result<Intact, Broken>> {
    Ok(Err(Broken { seq: seq.into(), why }))
}

/// Checks the log in `db` against its own checkpoints and `external` ones,
/// with `key` (see the module doc).
pub fn verify(
    db: &mut impl Sql,
    key: &AuditKey,
    external: &[Sourced],
) -> anyhow::Result<Result<Intact, Broken>> {
    let leaves = match walk_chain(db)? {
        Ok(leaves) => leaves,
        Err(broken) => return Ok(Err(broken)),
    };
    let mut found: Vec<Sourced> = db
        .query("SELECT size, root, at, signature, frontier FROM audit_checkpoints ORDER BY size", &[], |r| {
            let frontier = r.get::<Option<Vec<u8>>>(4)?.unwrap_or_default();
            Ok(Checkpoint {
                size: r.get(0)?,
                root: r.get(1)?,
                at: r.get(2)?,
                signature: r.get(3)?,
                frontier: frontier.chunks(32).map(hex::encode).collect(),
            })
        })?
        .into_iter()
        .map(|checkpoint| Sourced { checkpoint, source: "the registry".into() })
        .collect();
    found.extend_from_slice(external);
    // One signed head per size; every one must be the audit key's.
    let mut heads: BTreeMap<i64, (Hash, &Sourced)> = BTreeMap::new();
    for sourced in &found {
        let cp = &sourced.checkpoint;
        let root = match <Hash>::try_from(hex::decode(&cp.root).unwrap_or_default()) {
            Ok(root) if cp.size > 0 && key.signed(cp, &root) => root,
            _ => {
                let why = format!(
                    "the checkpoint of {} entries in {} is not signed by the audit key (replaced or forged)",
                    cp.size, sourced.source
                );
                return broken(None, why);
            }
        };
        match heads.get(&cp.size) {
            Some((other, first)) if *other != root => {
                let why = format!(
                    "two signed checkpoints of {} entries disagree ({} and {}): the log was forked",
                    cp.size, first.source, sourced.source
                );
                return broken(None, why);
            }
            Some(_) => {}
            None => {
                heads.insert(cp.size, (root, sourced));
            }
        }
    }
    let entries = leaves.len() as u64;
    let tree = Tree::new(leaves);
    let mut previous: Option<(u64, Hash)> = None;
    for (&size, (root, sourced)) in &heads {
        let size_u = u64::try_from(size)?;
        let Some(recomputed) = tree.root(size_u) else {
            let why = format!(
                "the log ends after {entries} entries, but the checkpoint of {size} in {} covers {size}: entries {} to {size} were removed",
                sourced.source,
                entries + 1
            );
            return broken(i64::try_from(entries + 1)?, why);
        };
        if recomputed != *root {
            let after = previous.map_or(0, |(m, _)| m);
            let (first, last) = changed_range(&tree, &sourced.checkpoint, after, size_u);
            let why = format!(
                "entries {first} to {last} do not match the signed checkpoint of {size} entries in {} (rewritten, removed or reordered)",
                sourced.source
            );
            return broken(i64::try_from(first)?, why);
        }
        if let Some((m, first_root)) = previous {
            let proof = tree.consistency(m, size_u).unwrap_or_default();
            if !verify_consistency(m, size_u, &first_root, root, &proof) {
                let why = format!("the checkpoints of {m} and {size} entries are not consistent (RFC 9162)");
                return broken(None, why);
            }
        }
        previous = Some((size_u, *root));
    }
    Ok(Ok(Intact {
        entries: i64::try_from(entries)?,
        checkpoints: heads.len(),
        covered: previous.map_or(0, |(m, _)| i64::try_from(m).unwrap_or(i64::MAX)),
    }))
}

/// The chain from the first entry; the leaf hashes, or the first entry
/// that is not as it was chained.
fn walk_chain(db: &mut impl Sql) -> anyhow::Result<Result<Vec<Hash>, Broken>> {
    let mut leaves = Vec::new();
    let mut previous = [0u8; 32];
    let mut bad = None;
    db.for_each(
        "SELECT seq, at, kind, actor, detail, chain_hash FROM audit_log ORDER BY seq",
        &[],
        &mut |r| {
            if bad.is_some() {
                return Ok(());
            }
            let (seq, at, kind, actor, detail, stored) = (
                r.get::<i64>(0)?,
                r.get::<i64>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?,
                r.get::<String>(4)?,
                r.get::<Vec<u8>>(5)?,
            );
            let expected = leaves.len() as i64 + 1;
            if seq != expected {
                let why = format!("found entry {seq} where entry {expected} belongs (removed or reordered)");
                bad = Some(Broken { seq: Some(expected), why });
                return Ok(());
            }
            let leaf = leaf_hash(seq, at, &kind, &actor, &detail);
            let chain = chain_hash(&previous, &leaf);
            if stored != chain {
                let why = "its content does not match its chain hash (altered, or moved here)".into();
                bad = Some(Broken { seq: Some(seq), why });
                return Ok(());
            }
            leaves.push(leaf);
            previous = chain;
            Ok(())
        },
    )?;
    Ok(bad.map_or(Ok(leaves), Err))
}

/// The entries (1-based, inclusive) a checkpoint of `size` the log no
/// longer matches says changed: after `after` (the last checkpoint that
/// matched), narrowed to the first of its perfect subtrees that differs
/// when it carries its frontier.
fn changed_range(tree: &Tree, cp: &Checkpoint, after: u64, size: u64) -> (u64, u64) {
    let mut start = 0u64;
    let subtrees = (0..64).rev().filter(|bit| size & (1 << bit) != 0).map(|bit| 1u64 << bit);
    for (width, exported) in subtrees.zip(&cp.frontier) {
        if hex::encode(tree.range(start, start + width)) != *exported {
            return (after.max(start) + 1, size.min(start + width));
        }
        start += width;
    }
    (after + 1, size)
}
