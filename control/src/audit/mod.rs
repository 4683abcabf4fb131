//! The tamper-evident audit log. Every action the control plane takes is
//! appended in the same registry transaction as the action itself, so one
//! never commits without the other. Entries are hash-chained
//! (`chain_i = SHA-256(chain_{i-1} ‖ leaf_i)`, leaves hashed as RFC 9162
//! leaves), and Merkle tree heads over them (RFC 9162 §2.1) are signed by
//! the audit key as checkpoints and exported to the object store: rewriting
//! history means forging those signatures too.

mod merkle;

pub use merkle::Frontier;

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
    // The newest checkpoint's frontier, extended by the entries since. A
    // checkpoint from before frontiers were stored starts from scratch.
    let last =
        tx.query_opt("SELECT size, frontier FROM audit_checkpoints ORDER BY size DESC LIMIT 1", &[], |r| {
            Ok((r.get::<i64>(0)?, r.get::<Option<Vec<u8>>>(1)?))
        })?;
    let last_size = last.as_ref().map_or(0, |(size, _)| *size);
    let mut frontier = match &last {
        Some((size, Some(bytes))) => Frontier::from_bytes(u64::try_from(*size)?, bytes)
            .with_context(|| format!("the frontier stored with checkpoint {size} is malformed"))?,
        _ => Frontier::default(),
    };
    // Entry seq n is leaf n (verify checks they run 1, 2, 3 ...).
    let after = i64::try_from(frontier.size())?;
    tx.for_each(
        "SELECT leaf_hash FROM audit_log WHERE seq > ?1 ORDER BY seq",
        crate::sql_params![after],
        &mut |r| {
            frontier.push(Hash::try_from(r.get::<Vec<u8>>(0)?).map_err(|_| anyhow::anyhow!("leaf"))?);
            Ok(())
        },
    )?;
    let size = i64::try_from(frontier.size())?;
    if size == last_size {
        return Ok(None);
    }
    let root = frontier.root();
    let signature = signer.sign(&Checkpoint::message(size, &root, at))?;
    let checkpoint = Checkpoint {
        size,
        root: hex::encode(root),
        at,
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
    };
    tx.execute(
        "INSERT INTO audit_checkpoints (size, root, at, signature, frontier) VALUES (?1, ?2, ?3, ?4, ?5)",
        crate::sql_params![
            checkpoint.size,
            &checkpoint.root,
            checkpoint.at,
            &checkpoint.signature,
            frontier.to_bytes().as_slice()
        ],
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
    // One pass over the leaves: each checkpoint's head from the frontier
    // as it reaches that size (checkpoints come in size order).
    let mut frontier = Frontier::default();
    let mut pending = leaves.iter();
    for cp in &checkpoints {
        let size = u64::try_from(cp.size).unwrap_or(u64::MAX);
        while frontier.size() < size {
            let Some(leaf) = pending.next() else {
                let why =
                    format!("checkpoint of {} entries, only {} left (truncated)", cp.size, leaves.len());
                return Ok(Err(Broken { seq: leaves.len() as i64 + 1, why }));
            };
            frontier.push(*leaf);
        }
        let root = frontier.root();
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
    use crate::registry::db::{Database, Db};
    use crate::registry::testing::TestDatabase;
    use cartorio_pkix::{EcCurve, EcdsaSigner};

    fn grow(db: &mut Db, entries: usize) {
        for i in 0..entries {
            let event = Event { kind: "test.event", actor: "test", detail: serde_json::json!({ "i": i }) };
            append(db, 1_700_000_000, &event).expect("append");
        }
    }

    /// Checkpoints extend the last one's frontier; one stored before
    /// frontiers existed (NULL) makes the next start over. `verify`
    /// recomputes every head from the entries and checks its signature.
    fn checkpoints_extend_the_last_one_and_verify(database: &Database) {
        let mut db = Db::open(database).expect("open");
        crate::registry::migrations::migrate(&mut db, 0).expect("migrate");
        let pkcs8 = EcdsaSigner::generate_pkcs8(EcCurve::P256).expect("key");
        let signer = EcdsaSigner::from_pkcs8(EcCurve::P256, &pkcs8).expect("signer");
        let mut sizes = Vec::new();
        for (grown, forget_frontier) in [(5, false), (6, true), (1, false), (20, false)] {
            grow(&mut db, grown);
            let checkpoint = checkpoint(&mut db, &signer, 1_700_000_100).expect("checkpoint").expect("grew");
            sizes.push(checkpoint.size);
            if forget_frontier {
                db.execute(
                    "UPDATE audit_checkpoints SET frontier = NULL WHERE size = ?1",
                    crate::sql_params![checkpoint.size],
                )
                .expect("as an older version stored it");
            }
        }
        assert_eq!(sizes, [5, 11, 12, 32]);
        assert!(checkpoint(&mut db, &signer, 1_700_000_200).expect("checkpoint").is_none(), "nothing new");
        let verdict = verify(&mut db, signer.spki(), signer.algorithm()).expect("verify");
        assert_eq!(verdict, Ok(Intact { entries: 32, checkpoints: 4 }));
    }

    #[test]
    fn checkpoints_extend_their_frontier_on_sqlite() {
        let dir = tempfile::tempdir().expect("tempdir");
        checkpoints_extend_the_last_one_and_verify(&Database::Sqlite(dir.path().join("registry.db")));
    }

    #[test]
    fn checkpoints_extend_their_frontier_on_postgres() {
        if let Some(db) = TestDatabase::from_env("checkpoints_extend_their_frontier_on_postgres") {
            checkpoints_extend_the_last_one_and_verify(&Database::Postgres(db.url.clone()));
        }
    }
}
