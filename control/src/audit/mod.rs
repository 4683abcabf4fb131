//! The tamper-evident audit log. Every action the control plane takes is
//! appended in the same registry transaction as the action itself, so one
//! never commits without the other. Entries are hash-chained
//! (`chain_i = SHA-256(chain_{i-1} ‖ leaf_i)`, leaves hashed as RFC 9162
//! leaves), and Merkle tree heads over them (RFC 9162 §2.1) are signed by
//! the audit key as checkpoints and exported to the object store, with the
//! public key beside them. Whoever can write the database can re-chain it;
//! they cannot sign a checkpoint, so [`verify`] checks the log against
//! every checkpoint exported or kept elsewhere, with the public key alone.

mod merkle;
mod verify;

pub use merkle::{Frontier, Tree, verify_consistency};
pub use verify::{AuditKey, Broken, Intact, Sourced, verify};

use crate::registry::db::Sql;
use anyhow::Context;
use cartorio_pkix::Signer;
use serde_json::Value;

pub type Hash = [u8; 32];

/// Where checkpoints are exported in the object store.
pub const CHECKPOINTS_PREFIX: &str = "audit/checkpoints/";
/// The audit public key (PEM) in the object store, beside the checkpoints.
pub const PUBLIC_KEY_KEY: &str = "audit/public-key.pem";
/// The same key in `DIR/pki`.
pub const PUBLIC_KEY_FILE: &str = "audit-public-key.pem";

/// The object-store key of an exported checkpoint.
pub fn checkpoint_key(size: i64) -> String {
    format!("{CHECKPOINTS_PREFIX}{size:012}.json")
}

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
    /// Hex roots of the tree's perfect subtrees, largest first (its right
    /// edge; the root is computed from them). Not signed, and not needed to
    /// verify: when the log no longer matches the root, they narrow down
    /// which entries changed. Absent from checkpoints of older versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frontier: Vec<String>,
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
        frontier: frontier.roots().iter().map(hex::encode).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::db::{Database, Db};
    use cartorio_pkix::{EcCurve, EcdsaSigner};
    use cartorio_testkit::postgres::TestDatabase;

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
        let key = AuditKey::from_spki(signer.spki()).expect("key");
        let verdict = verify(&mut db, &key, &[]).expect("verify");
        let intact = verdict.expect("intact");
        assert_eq!((intact.entries, intact.checkpoints, intact.covered), (32, 4, 32));
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
