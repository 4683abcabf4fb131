//! `cartorio backup` and `cartorio restore`: one encrypted archive of a
//! data directory (registry, keys, configuration, the local store and its
//! manifest pointer), taken while `up` runs.
//!
//! Order matters for what a restore proves: the files first, the store
//! after them, the registry last, as an SQLite online backup (a consistent
//! snapshot, never a copy of a live WAL file). The registry is then at
//! least as new as every audit checkpoint the store holds, so `audit
//! verify` passes on the restored directory; the store's manifest may be
//! older than the registry, so a restore makes every response due for
//! re-signing (audited as `registry.restored`).
//!
//! A PostgreSQL registry is backed up with PostgreSQL's tools (pg_dump,
//! or base backups and WAL archiving for point-in-time recovery): see
//! docs/runbook.md.

pub mod archive;
pub mod seal;

use crate::keys::HsmBinding;
use crate::paths::DataDir;
use anyhow::{Context, bail};
use archive::{Contents, FileEntry, ManifestPointer, RegistrySummary, TokenKey};
use cartorio_pkix::hash::sha256_hex;
use seal::{Seal, Unseal};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What `backup` wrote.
#[derive(Debug)]
pub struct BackupSummary {
    pub contents: Contents,
    pub sealed_to: String,
    pub archive_bytes: u64,
}

/// Writes an encrypted backup of `dir` to `out` (through `out.partial`:
/// a backup file that exists is complete).
pub fn backup(dir: &DataDir, out: &Path, seal: &Seal) -> anyhow::Result<BackupSummary> {
    let on_postgres = std::env::var("CARTORIO_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty());
    if !on_postgres && !dir.registry().is_file() {
        bail!(
            "{} has no registry ({}): not a Cartorio data directory",
            dir.root().display(),
            dir.registry().display()
        );
    }
    let partial = out.with_extension("partial");
    let file = create_private(&partial)?;
    let result = write_archive(dir, std::io::BufWriter::new(file), seal, on_postgres);
    let contents = match result {
        Ok(contents) => contents,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, out).with_context(|| format!("moving the backup to {}", out.display()))?;
    let archive_bytes = std::fs::metadata(out)?.len();
    Ok(BackupSummary { contents, sealed_to: seal.describe(), archive_bytes })
}

fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// `on_postgres`: the registry is a PostgreSQL database, backed up with
/// PostgreSQL's tools; the archive holds everything else.
fn write_archive(
    dir: &DataDir,
    out: std::io::BufWriter<std::fs::File>,
    seal: &Seal,
    on_postgres: bool,
) -> anyhow::Result<Contents> {
    let mut tar = tar::Builder::new(seal.wrap(out)?);
    let mut files = Vec::new();
    for relative in archive::files_to_copy(dir.root())? {
        let path = dir.root().join(&relative);
        // A file may go between the listing and now (an old segment, a
        // replaced checkpoint): what is gone was not part of this backup.
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path)?.permissions());
        files.push(append(&mut tar, &relative, &bytes, mode)?);
    }
    let manifest = manifest_pointer(dir);
    let registry = if on_postgres {
        None
    } else {
        let snapshot = tempfile::Builder::new().prefix(".backup-").tempdir_in(dir.root())?;
        let snapshot_file = snapshot.path().join(archive::REGISTRY);
        let registry = snapshot_registry(&dir.registry(), &snapshot_file)?;
        let bytes = std::fs::read(&snapshot_file)?;
        files.push(append(&mut tar, Path::new(archive::REGISTRY), &bytes, 0o600)?);
        Some(registry)
    };
    let contents = Contents {
        format: archive::FORMAT.into(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cartorio_version: env!("CARGO_PKG_VERSION").into(),
        registry,
        manifest,
        files,
        not_exported: token_keys(dir)?,
    };
    let json = serde_json::to_vec_pretty(&contents)?;
    append(&mut tar, Path::new(archive::CONTENTS), &json, 0o600)?;
    let mut sealed = tar.into_inner()?.finish()?;
    sealed.flush()?;
    sealed.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(contents)
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    relative: &Path,
    bytes: &[u8],
    mode: u32,
) -> anyhow::Result<FileEntry> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(if archive::is_private(mode) { 0o600 } else { 0o644 });
    header.set_mtime(u64::try_from(cartorio_platform::clock::unix_seconds()).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, relative, bytes)?;
    Ok(FileEntry {
        path: relative.to_string_lossy().into_owned(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    })
}

/// SQLite's online backup of the live registry into `to` (one step: a
/// consistent snapshot under a read transaction, writers keep going),
/// checked and summarised.
fn snapshot_registry(from: &Path, to: &Path) -> anyhow::Result<RegistrySummary> {
    let live = rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", from.display()))?;
    live.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut snapshot = rusqlite::Connection::open(to)?;
    {
        let copy = rusqlite::backup::Backup::new(&live, &mut snapshot)?;
        // -1: every page in one step, under one read transaction (stepping
        // in chunks restarts whenever a writer commits between steps).
        match copy.step(-1).context("SQLite online backup of the registry")? {
            rusqlite::backup::StepResult::Done => {}
            other => bail!("SQLite online backup of the registry did not finish: {other:?}"),
        }
    }
    // One self-contained file: no WAL beside it.
    snapshot.pragma_update(None, "journal_mode", "DELETE")?;
    check_integrity(&snapshot)?;
    summarise(&snapshot)
}

fn check_integrity(db: &rusqlite::Connection) -> anyhow::Result<()> {
    let verdict: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        bail!("the registry fails SQLite's integrity check: {verdict}");
    }
    Ok(())
}

fn summarise(db: &rusqlite::Connection) -> anyhow::Result<RegistrySummary> {
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0));
    Ok(RegistrySummary {
        certificates: count("SELECT COUNT(*) FROM certificates")?,
        audit_entries: count("SELECT COUNT(*) FROM audit_log")?,
        schema_version: count("SELECT COALESCE(MAX(version), 0) FROM schema_version")?,
    })
}

fn manifest_pointer(dir: &DataDir) -> Option<ManifestPointer> {
    let key = cartorio_pkix::publication::MANIFEST_KEY;
    let bytes = std::fs::read(dir.store().join(key)).ok()?;
    let manifest = cartorio_pkix::publication::Manifest::from_json(&bytes).ok()?;
    Some(ManifestPointer { key: key.into(), generation: manifest.generation, sha256: sha256_hex(&bytes) })
}

fn token_keys(dir: &DataDir) -> anyhow::Result<Vec<TokenKey>> {
    Ok(HsmBinding::read(dir)?
        .map(|binding| {
            binding
                .keys
                .into_iter()
                .map(|(stem, label)| TokenKey { stem, token: binding.hsm.token_label.clone(), label })
                .collect()
        })
        .unwrap_or_default())
}

/// What `restore` put back.
#[derive(Debug)]
pub struct RestoreSummary {
    pub contents: Contents,
    /// Responses made due for re-signing (0 when the registry is on
    /// PostgreSQL: restore it with pg_restore, then `presign --refresh-all`).
    pub refreshed: u64,
}

/// Restores the backup `from` into `into`, which must be absent or empty.
/// Everything is unpacked and checked beside it first, then renamed into
/// place: `into` ends up complete or untouched.
pub fn restore(from: &Path, into: &Path, unseal: &Unseal) -> anyhow::Result<RestoreSummary> {
    if into.exists() && std::fs::read_dir(into)?.next().is_some() {
        return Err(crate::cli::Refused(format!(
            "{} is not empty: restore into a new directory (nothing was changed)",
            into.display()
        ))
        .into());
    }
    let parent = into.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new().prefix(".cartorio-restore-").tempdir_in(parent)?;
    let file = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let restored = unpack(unseal.open(std::io::BufReader::new(file))?, staging.path())?;
    let contents: Contents = serde_json::from_slice(
        &std::fs::read(staging.path().join(archive::CONTENTS)).context("the backup has no BACKUP.json")?,
    )
    .context("parsing BACKUP.json")?;
    contents.check(&restored)?;
    let refreshed = match contents.registry {
        Some(_) => reopen_registry(&staging.path().join(archive::REGISTRY), &contents)?,
        None => 0,
    };
    std::fs::rename(staging.path().join(archive::CONTENTS), staging.path().join("restored-from.json"))?;
    if into.exists() {
        std::fs::remove_dir(into)?;
    }
    std::fs::rename(staging.keep(), into)
        .with_context(|| format!("moving the restore to {}", into.display()))?;
    Ok(RestoreSummary { contents, refreshed })
}

/// Writes every entry under `root`; returns what was written (BACKUP.json aside).
fn unpack(plain: impl Read, root: &Path) -> anyhow::Result<Vec<FileEntry>> {
    let mut archive = tar::Archive::new(plain);
    let mut restored = Vec::new();
    for entry in archive.entries().context("reading the backup")? {
        let mut entry = entry.context("reading the backup (truncated or corrupt)")?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            bail!("the backup holds something other than a regular file: {}", entry.path()?.display());
        }
        let relative = archive::safe_relative(&entry.path()?)?;
        let mode = entry.header().mode()?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).context("reading the backup (truncated or corrupt)")?;
        let path = root.join(&relative);
        if path.exists() {
            bail!("the backup holds {} twice", relative.display());
        }
        if archive::is_private(mode) {
            crate::paths::write_private(&path, &bytes)?;
        } else {
            crate::paths::write_public(&path, &bytes)?;
        }
        if relative != Path::new(archive::CONTENTS) {
            restored.push(FileEntry {
                path: relative.to_string_lossy().into_owned(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
            });
        }
    }
    Ok(restored)
}

/// Opens the restored registry (migrating it if this build is newer),
/// checks it, and makes every response due (audited).
fn reopen_registry(path: &PathBuf, contents: &Contents) -> anyhow::Result<u64> {
    check_integrity(&rusqlite::Connection::open(path)?)?;
    let mut registry = crate::registry::Registry::open(&crate::registry::Database::Sqlite(path.clone()))?;
    registry.restored(&contents.created_at, cartorio_platform::clock::unix_seconds())
}

/// Fuzz target `backup_archive` (and its corpus replay): the plaintext of
/// a backup, any bytes. Unpacking never panics, never writes outside the
/// directory, and whatever it wrote passes [`archive::safe_relative`].
pub fn fuzz_check(data: &[u8]) {
    let Ok(root) = tempfile::tempdir() else { return };
    let Ok(restored) = unpack(data, root.path()) else { return };
    for file in &restored {
        let relative = archive::safe_relative(Path::new(&file.path)).expect("unpack wrote an unsafe path");
        assert!(root.path().join(relative).is_file(), "{} was reported but not written", file.path);
    }
    if let Ok(bytes) = std::fs::read(root.path().join(archive::CONTENTS))
        && let Ok(contents) = serde_json::from_slice::<Contents>(&bytes)
    {
        let _ = contents.check(&restored);
    }
}
