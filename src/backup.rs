//! `cartorio backup` and `cartorio restore` (cartorio_control::backup).

use cartorio_control::backup::{self, seal};
use cartorio_control::paths::DataDir;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct BackupArgs {
    #[arg(long, default_value = "./cartorio-data")]
    data_dir: PathBuf,
    /// The encrypted archive to write (an age file).
    #[arg(long)]
    out: PathBuf,
    /// Encrypt to this age recipient (`age1…`, from age-keygen); repeatable.
    #[arg(long)]
    recipient: Vec<String>,
    /// Encrypt to the passphrase on this file's first line (or set
    /// CARTORIO_BACKUP_PASSPHRASE).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup to restore.
    #[arg(long)]
    from: PathBuf,
    /// A new (absent or empty) data directory.
    #[arg(long)]
    data_dir: PathBuf,
    /// The age identity file whose recipient the backup was encrypted to.
    #[arg(long)]
    identity: Option<PathBuf>,
    /// The passphrase on this file's first line (or CARTORIO_BACKUP_PASSPHRASE).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let seal = seal::Seal::choose(&args.recipient, args.passphrase_file.as_deref())?;
    let dir = DataDir::new(args.data_dir);
    let out = args.out.clone();
    let summary = tokio::task::spawn_blocking(move || backup::backup(&dir, &out, &seal)).await??;
    let c = &summary.contents;
    let registry = match &c.registry {
        Some(r) => {
            format!("registry with {} certificates and {} audit entries", r.certificates, r.audit_entries)
        }
        None => "NOT the registry: it is on PostgreSQL, back it up with pg_dump (docs/runbook.md)".into(),
    };
    println!(
        "backup {} ({} bytes, encrypted to {}): {} files, {registry}",
        args.out.display(),
        summary.archive_bytes,
        summary.sealed_to,
        c.files.len(),
    );
    if let Some(manifest) = &c.manifest {
        println!("OCSP manifest generation {} (sha256 {})", manifest.generation, manifest.sha256);
    }
    for key in &c.not_exported {
        println!(
            "NOT in the backup: key {:?} on PKCS#11 token {:?} (label {:?}); back the token up with its vendor's tools",
            key.stem, key.token, key.label
        );
    }
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let (from, into) = (args.from.clone(), args.data_dir.clone());
    let (identity, passphrase_file) = (args.identity.clone(), args.passphrase_file.clone());
    // Identities are not Send: the whole restore runs on one blocking thread.
    let summary = tokio::task::spawn_blocking(move || {
        let unseal = seal::Unseal::choose(identity.as_deref(), passphrase_file.as_deref())?;
        backup::restore(&from, &into, &unseal)
    })
    .await??;
    let c = &summary.contents;
    let registry = match &c.registry {
        Some(r) => format!(
            "{} certificates, {} audit entries; {} responses due for re-signing",
            r.certificates, r.audit_entries, summary.refreshed
        ),
        None => {
            "no registry (it was on PostgreSQL: pg_restore it, then `cartorio presign --refresh-all`)".into()
        }
    };
    println!(
        "restored the backup of {} into {}: {} files, {registry}",
        c.created_at,
        args.data_dir.display(),
        c.files.len(),
    );
    for key in &c.not_exported {
        println!(
            "key {:?} is on PKCS#11 token {:?} (label {:?}): the token must be reachable",
            key.stem, key.token, key.label
        );
    }
    println!("start it with `cartorio up --data-dir {}`", args.data_dir.display());
    Ok(())
}
