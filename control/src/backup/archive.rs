//! What a backup holds and how it is laid out: a tar stream of the data
//! directory's files (paths relative to it), the registry as an online
//! snapshot, and `BACKUP.json` last, listing every file with its SHA-256
//! so a restore can prove it got all of them.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

pub const FORMAT: &str = "cartorio-backup/1";
pub const CONTENTS: &str = "BACKUP.json";
/// The registry snapshot's name inside the archive (and in the data directory).
pub const REGISTRY: &str = "registry.db";

/// `BACKUP.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contents {
    pub format: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub cartorio_version: String,
    /// `None`: the registry was on PostgreSQL, backed up with its tools.
    pub registry: Option<RegistrySummary>,
    /// The OCSP manifest the local store pointed at when it was copied.
    pub manifest: Option<ManifestPointer>,
    pub files: Vec<FileEntry>,
    /// Keys on a PKCS#11 token: bound by `pki/hsm.toml`, not in the backup.
    pub not_exported: Vec<TokenKey>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySummary {
    pub certificates: i64,
    pub audit_entries: i64,
    pub schema_version: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestPointer {
    pub key: String,
    pub generation: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKey {
    pub stem: String,
    pub token: String,
    pub label: String,
}

/// Whether the file at `relative` (to the data directory) goes into a
/// backup as a copy. The registry's files do not (a snapshot replaces
/// them: copying a live WAL database is not a backup), nor what only a
/// running process needs (`run/`, lock files, half-written files).
pub fn copied(relative: &Path) -> bool {
    let text = relative.to_string_lossy();
    let first = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let name = relative.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    !(text.starts_with("registry.db")
        || first.as_deref() == Some("run")
        || relative.components().any(|c| c.as_os_str() == ".locks")
        || name.ends_with(".lock")
        || name.ends_with(".tmp")
        || name.ends_with(".partial"))
}

/// Files under `root` (relative paths, sorted) that [`copied`] keeps, the
/// store's last: the registry snapshot is taken after them, so it is at
/// least as new as every audit checkpoint the store holds.
pub fn files_to_copy(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk(root, Path::new(""), &mut found)?;
    found.retain(|p| copied(p));
    found.sort_by_key(|p| (p.starts_with("store"), p.clone()));
    Ok(found)
}

fn walk(root: &Path, relative: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let dir = root.join(relative);
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, found)?;
        } else if kind.is_file() {
            found.push(path);
        }
        // Symlinks and special files are not data Cartorio writes.
    }
    Ok(())
}

/// An archive path as a safe relative path: normal components only (no
/// `..`, no root, no prefix), so a crafted archive cannot write outside
/// the directory being restored.
pub fn safe_relative(name: &Path) -> anyhow::Result<PathBuf> {
    let mut out = PathBuf::new();
    for component in name.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => bail!("the archive names {}: not a plain relative path", name.display()),
        }
    }
    if out.as_os_str().is_empty() {
        bail!("the archive holds an entry with an empty name");
    }
    Ok(out)
}

/// Whether a file holds secrets (mode without group or other bits): it is
/// restored with mode 0600, anything else 0644.
pub fn is_private(mode: u32) -> bool {
    mode & 0o077 == 0
}

impl Contents {
    /// Every listed file was restored with its digest, and nothing else.
    pub fn check(&self, restored: &[FileEntry]) -> anyhow::Result<()> {
        if self.format != FORMAT {
            bail!("this backup is {:?}; this build reads {FORMAT:?}", self.format);
        }
        let mut listed = self.files.clone();
        let mut got = restored.to_vec();
        listed.sort_by(|a, b| a.path.cmp(&b.path));
        got.sort_by(|a, b| a.path.cmp(&b.path));
        for file in &listed {
            match got.binary_search_by(|g| g.path.cmp(&file.path)) {
                Err(_) => bail!("the backup lists {} but does not hold it (truncated?)", file.path),
                Ok(i) if got[i] != *file => bail!("{} does not match its digest in {CONTENTS}", file.path),
                Ok(_) => {}
            }
        }
        if let Some(extra) = got.iter().find(|g| listed.binary_search_by(|l| l.path.cmp(&g.path)).is_err()) {
            bail!("the backup holds {} that {CONTENTS} does not list", extra.path);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_registry_and_runtime_files_are_not_copied() {
        for skipped in [
            "registry.db",
            "registry.db-wal",
            "registry.db-shm",
            "run/endpoints.json",
            "store/.locks/crl/tls.crl.lock",
            "pki/.renewal.lock",
            "pki/ocsp-key.tmp",
        ] {
            assert!(!copied(Path::new(skipped)), "{skipped}");
        }
        for kept in ["pki/root-key.pk8", "gateway/kek", "store/ocsp/manifest.json", "tsa/issued.log"] {
            assert!(copied(Path::new(kept)), "{kept}");
        }
    }

    #[test]
    fn archive_names_cannot_escape_the_directory() {
        for bad in ["../etc/passwd", "/etc/passwd", "pki/../../x", ""] {
            assert!(safe_relative(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(safe_relative(Path::new("./pki/root.pem")).expect("plain"), Path::new("pki/root.pem"));
    }

    fn entry(path: &str, sha: &str) -> FileEntry {
        FileEntry { path: path.into(), bytes: 1, sha256: sha.into() }
    }

    fn contents(files: Vec<FileEntry>) -> Contents {
        Contents {
            format: FORMAT.into(),
            created_at: String::new(),
            cartorio_version: String::new(),
            registry: None,
            manifest: None,
            files,
            not_exported: vec![],
        }
    }

    #[test]
    fn a_restore_holds_exactly_what_the_backup_lists() {
        let listed = contents(vec![entry("a", "1"), entry("b", "2")]);
        listed.check(&[entry("b", "2"), entry("a", "1")]).expect("same files");
        assert!(listed.check(&[entry("a", "1")]).expect_err("missing").to_string().contains("does not hold"));
        assert!(listed.check(&[entry("a", "1"), entry("b", "3")]).is_err());
        assert!(listed.check(&[entry("a", "1"), entry("b", "2"), entry("c", "4")]).is_err());
    }
}
