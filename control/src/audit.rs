//! The tamper-evident audit log. Every action the control plane takes is
//! appended in the same registry transaction as the action itself, so one
//! never commits without the other. Entries are hash-chained
//! (`chain_i = SHA-256(chain_{i-1} ‖ leaf_i)`, leaves hashed as RFC 9162
//! leaves), and Merkle tree heads over them (RFC 9162 §2.1) are signed by
//! the audit key as checkpoints and exported to the object store: rewriting
//! history means forging those signatures too.

use crate::registry::db::Sql;
use anyhow::Context;
use cartorio_pkix::Signer;
use serde_json::Value;

pub type Hash = [u8; 32];

/// One action, as recorded.
pub struct Event<'a> {
    /// What happened: `certificate.issue`, `certificate.revoke`, ...
    pub kind: &'a str,
    /// Who did it: `admin`, `presigner`, `control` ...
    pub actor: &'a str,
    pub detail: Value,
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The RFC 9162 leaf hash of an entry: SHA-256(0x00 ‖ entry), where the
/// entry is its fields, length-prefixed so no two entries encode alike.
pub fn leaf_hash(seq: i64, at: i64, kind: &str, actor: &str, detail: &str) -> Hash {
    let field = |s: &str| [&(s.len() as u64).to_be_bytes()[..], s.as_bytes()].concat();
    sha256(&[&[0x00], &seq.to_be_bytes(), &at.to_be_bytes(), &field(kind), &field(actor), &field(detail)])
}

pub fn chain_hash(previous: &Hash, leaf: &Hash) -> Hash {
    sha256(&[previous, leaf])
}

/// The RFC 9162 Merkle tree hash of `leaves` (already leaf-hashed).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => sha256(&[]),
        [leaf] => *leaf,
        _ => {
            // The largest power of two smaller than the number of leaves.
            let split = leaves.len().next_power_of_two() / 2;
            let (left, right) = leaves.split_at(split);
            sha256(&[&[0x01], &merkle_root(left), &merkle_root(right)])
        }
    }
}

/// The last entry of the log as a transaction sees it; appends go after it.
pub struct ChainHead {
    seq: i64,
    hash: Hash,
}

impl ChainHead {
    /// Reads the head inside the caller's write transaction (which holds
    /// the registry's write lock, so it stays the head until commit).
    pub fn read(tx: &mut impl Sql) -> anyhow::Result<Self> {
        let last =
            tx.query_opt("SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1", &[], |r| {
                Ok((r.get::<i64>(0)?, r.get::<Vec<u8>>(1)?))
            })?;
        Ok(match last {
            Some((seq, hash)) => {
                Self { seq, hash: hash.try_into().map_err(|_| anyhow::anyhow!("corrupt chain hash"))? }
            }
            None => Self { seq: 0, hash: [0u8; 32] },
        })
    }

    /// Appends `event` inside the caller's transaction; returns its sequence number.
    pub fn append(&mut self, tx: &mut impl Sql, at: i64, event: &Event<'_>) -> anyhow::Result<i64> {
        let seq = self.seq + 1;
        let detail = event.detail.to_string();
        let leaf = leaf_hash(seq, at, event.kind, event.actor, &detail);
        let chain = chain_hash(&self.hash, &leaf);
        tx.execute(
            "INSERT INTO audit_log (seq, at, kind, actor, detail, leaf_hash, chain_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            crate::sql_params![seq, at, event.kind, event.actor, detail.as_str(), &leaf[..], &chain[..]],
        )
        .context("appending to the audit log")?;
        *self = Self { seq, hash: chain };
        Ok(seq)
    }
}

/// Appends `event` inside the caller's transaction; returns its sequence number.
pub fn append(tx: &mut impl Sql, at: i64, event: &Event<'_>) -> anyhow::Result<i64> {
    ChainHead::read(tx)?.append(tx, at, event)
}

/// A signed tree head over the first `size` entries.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub size: i64,
    pub root: String,
    pub at: i64,
    /// Base64 of the audit key's signature over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    pub fn message(size: i64, root: &Hash, at: i64) -> Vec<u8> {
        format!("cartorio audit checkpoint\n{size}\n{}\n{at}\n", hex::encode(root)).into_bytes()
    }
}

/// Signs a checkpoint over every entry so far, records it, and returns it;
/// `None` when no entry was added since the last one.
pub fn checkpoint(tx: &mut impl Sql, signer: &dyn Signer, at: i64) -> anyhow::Result<Option<Checkpoint>> {
    use base64::Engine;
    let last: i64 =
        tx.query_opt("SELECT COALESCE(MAX(size), 0) FROM audit_checkpoints", &[], |r| r.get(0))?.unwrap_or(0);
    let mut leaves = Vec::new();
    tx.for_each("SELECT leaf_hash FROM audit_log ORDER BY seq", &[], &mut |r| {
        leaves.push(Hash::try_from(r.get::<Vec<u8>>(0)?).map_err(|_| anyhow::anyhow!("leaf"))?);
        Ok(())
    })?;
    let size = leaves.len() as i64;
    if size == last {
        return Ok(None);
    }
    let root = merkle_root(&leaves);
    let signature = signer.sign(&Checkpoint::message(size, &root, at))?;
    let checkpoint = Checkpoint {
        size,
        root: hex::encode(root),
        at,
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
    };
    tx.execute(
        "INSERT INTO audit_checkpoints (size, root, at, signature) VALUES (?1, ?2, ?3, ?4)",
        crate::sql_params![checkpoint.size, &checkpoint.root, checkpoint.at, &checkpoint.signature],
    )?;
    Ok(Some(checkpoint))
}

/// The first entry that is not as it was written, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub seq: i64,
    pub why: String,
}

/// What an intact log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intact {
    pub entries: i64,
    pub checkpoints: usize,
}

/// Checks the chain from the first entry, then every checkpoint's tree head
/// and signature (by the audit key's SubjectPublicKeyInfo `spki`).
pub fn verify(db: &mut impl Sql, spki: &[u8], algorithm: &[u8]) -> anyhow::Result<Result<Intact, Broken>> {
    use base64::Engine;
    let mut leaves = Vec::new();
    let mut previous = [0u8; 32];
    let mut broken = None;
    db.for_each(
        "SELECT seq, at, kind, actor, detail, chain_hash FROM audit_log ORDER BY seq",
        &[],
        &mut |r| {
            if broken.is_some() {
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
                broken = Some(Broken { seq: expected, why });
                return Ok(());
            }
            let leaf = leaf_hash(seq, at, &kind, &actor, &detail);
            let chain = chain_hash(&previous, &leaf);
            if stored != chain {
                let why = "its content does not match its chain hash (altered, or moved here)".into();
                broken = Some(Broken { seq, why });
                return Ok(());
            }
            leaves.push(leaf);
            previous = chain;
            Ok(())
        },
    )?;
    if let Some(broken) = broken {
        return Ok(Err(broken));
    }
    let checkpoints =
        db.query("SELECT size, root, at, signature FROM audit_checkpoints ORDER BY size", &[], |r| {
            Ok(Checkpoint { size: r.get(0)?, root: r.get(1)?, at: r.get(2)?, signature: r.get(3)? })
        })?;
    for cp in &checkpoints {
        let size = usize::try_from(cp.size).unwrap_or(usize::MAX);
        let Some(covered) = leaves.get(..size) else {
            let why = format!("checkpoint of {} entries, only {} left (truncated)", cp.size, leaves.len());
            return Ok(Err(Broken { seq: leaves.len() as i64 + 1, why }));
        };
        let root = merkle_root(covered);
        let signature = base64::engine::general_purpose::STANDARD.decode(&cp.signature).unwrap_or_default();
        let signed = cartorio_pkix::verify::verify(
            spki,
            algorithm,
            &Checkpoint::message(cp.size, &root, cp.at),
            &signature,
        );
        if hex::encode(root) != cp.root || signed.is_err() {
            // A tree head cannot say which entry changed: the range it covers is suspect.
            let why = format!(
                "the signed checkpoint over entries 1 to {} does not match them (rewritten)",
                cp.size
            );
            return Ok(Err(Broken { seq: 1, why }));
        }
    }
    Ok(Ok(Intact { entries: leaves.len() as i64, checkpoints: checkpoints.len() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_roots_follow_rfc_9162() {
        let leaf = |i: u8| sha256(&[&[0x00], &[i]]);
        let node = |a: &Hash, b: &Hash| sha256(&[&[0x01], a, b]);
        let l: Vec<Hash> = (0..5).map(leaf).collect();
        assert_eq!(merkle_root(&l[..1]), l[0]);
        assert_eq!(merkle_root(&l[..2]), node(&l[0], &l[1]));
        assert_eq!(merkle_root(&l[..3]), node(&node(&l[0], &l[1]), &l[2]));
        let four = node(&node(&l[0], &l[1]), &node(&l[2], &l[3]));
        assert_eq!(merkle_root(&l[..4]), four);
        assert_eq!(merkle_root(&l), node(&four, &l[4]));
        assert_eq!(
            hex::encode(merkle_root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
