//! The object store: where the control plane publishes and responders read.
//!
//! The embedded default is a local directory. Writes are atomic (temporary
//! file, fsync, rename, fsync of the directory) so a reader never sees a
//! partial object and an acknowledged write survives a crash.
//!
//! Objects that several writers update (the OCSP manifest, CRLs) are
//! written by compare-and-swap: [`ObjectStore::get_versioned`] reads an
//! object with its [`Version`], and [`ObjectStore::put_if`] writes only if
//! the object is still at that version (S3: `If-Match` / `If-None-Match`;
//! the local store: the comparison and the rename under an exclusive lock
//! on a file beside the object). A writer that loses gets `None`, re-reads
//! and merges; nobody overwrites what they have not seen.

use bytes::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("invalid object key {0:?}")]
    Key(String),
    #[error("object store I/O on {key}: {source}")]
    Io { key: String, source: std::io::Error },
    #[error("object store task failed: {0}")]
    Task(String),
    #[error("object store request on {key} failed: {message}")]
    Remote { key: String, message: String },
}

/// The version of a stored object as a conditional write names it: the S3
/// ETag, or the SHA-256 of the content in the local store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub String);

/// What a conditional write expects to find under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No object yet.
    Absent,
    /// The object as it was read at this version.
    Matches(Version),
}

#[derive(Debug, Clone)]
pub enum ObjectStore {
    Local(LocalStore),
    S3(std::sync::Arc<crate::s3::S3Store>),
}

impl ObjectStore {
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local(LocalStore { root: root.into() })
    }

    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self {
            Self::Local(local) => {
                let path = local.path(key)?;
                let key = key.to_owned();
                blocking(move || match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(StoreError::Io { key, source }),
                })
                .await
            }
            Self::S3(s3) => {
                valid_key(key)?;
                s3.get(key).await
            }
        }
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        match self {
            Self::Local(local) => {
                let path = local.path(key)?;
                let key = key.to_owned();
                blocking(move || write_atomic(&path, &bytes).map_err(|source| StoreError::Io { key, source }))
                    .await
            }
            Self::S3(s3) => {
                valid_key(key)?;
                s3.put(key, bytes).await
            }
        }
    }
}

impl ObjectStore {
    /// The object under `key` and its version, for a later [`Self::put_if`].
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        match self {
            Self::Local(_) => {
                let object = self.get(key).await?;
                Ok(object.map(|bytes| {
                    let version = local_version(&bytes);
                    (bytes, version)
                }))
            }
            Self::S3(s3) => {
                valid_key(key)?;
                s3.get_versioned(key).await
            }
        }
    }

    /// The keys under `prefix` (a folder: `audit/checkpoints/`), sorted.
    /// Work files of the local store (temporary and lock files) are not
    /// objects and are left out.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let folder = prefix.trim_end_matches('/');
        match self {
            Self::Local(local) => {
                let dir = local.path(folder)?;
                let root = local.root.clone();
                let key = prefix.to_owned();
                blocking(move || list_local(&root, &dir).map_err(|source| StoreError::Io { key, source }))
                    .await
            }
            Self::S3(s3) => {
                valid_key(folder)?;
                s3.list(&format!("{folder}/")).await
            }
        }
    }

    /// Writes `bytes` under `key` if the object there is as `expected`;
    /// returns its new version, or `None` when another writer got there
    /// first (nothing written).
    pub async fn put_if(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Precondition,
    ) -> Result<Option<Version>, StoreError> {
        match self {
            Self::Local(local) => {
                let (path, lock) = (local.path(key)?, local.lock_path(key)?);
                let (key, expected) = (key.to_owned(), expected.clone());
                blocking(move || {
                    put_if_local(&path, &lock, &bytes, &expected)
                        .map_err(|source| StoreError::Io { key, source })
                })
                .await
            }
            Self::S3(s3) => {
                valid_key(key)?;
                s3.put_if(key, bytes, expected).await
            }
        }
    }
}

fn list_local(root: &Path, dir: &Path) -> std::io::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if !entry.file_name().to_string_lossy().starts_with('.') {
                let relative = path.strip_prefix(root).map_err(std::io::Error::other)?;
                keys.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    keys.sort();
    Ok(keys)
}

fn local_version(bytes: &[u8]) -> Version {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    Version(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// The local compare-and-swap: under an exclusive lock on the key's lock
/// file (`.locks/{key}.lock` under the store's root: every conditional
/// writer of this key takes it, in any process on the host), reads the
/// object, compares and renames the new content in. Plain readers need no
/// lock: the rename is atomic.
fn put_if_local(
    path: &Path,
    lock_path: &Path,
    bytes: &[u8],
    expected: &Precondition,
) -> std::io::Result<Option<Version>> {
    if let Some(dir) = lock_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path)?;
    lock.lock()?;
    let current = match std::fs::read(path) {
        Ok(bytes) => Some(local_version(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let matches = match (expected, &current) {
        (Precondition::Absent, None) => true,
        (Precondition::Matches(want), Some(have)) => want == have,
        _ => false,
    };
    if !matches {
        return Ok(None);
    }
    write_atomic(path, bytes)?;
    // The lock is released when `lock` closes, after the rename.
    Ok(Some(local_version(bytes)))
}

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

/// Keys are relative paths of non-empty segments, the same on every store.
fn valid_key(key: &str) -> Result<(), StoreError> {
    let valid = !key.is_empty()
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && !key.contains('\\')
        && !key.contains('\0');
    if valid { Ok(()) } else { Err(StoreError::Key(key.to_owned())) }
}

impl LocalStore {
    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        valid_key(key).map(|()| self.root.join(key))
    }

    /// Conditional writers' lock for `key`, out of the objects' folders.
    fn lock_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        valid_key(key).map(|()| self.root.join(".locks").join(format!("{key}.lock")))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Task(e.to_string()))?
}

/// Writes `bytes` to `path` so that readers see the old or the new content,
/// never a mix, and the new content is durable when this returns.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("object path has no parent"))?;
    create_dirs_durably(dir)?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(bytes)?;
    tmp.1.sync_all()?;
    std::fs::rename(&tmp.0, path)?;
    sync_dir(dir)
}

/// Creates `dir` and its missing ancestors, syncing each parent whose
/// entries changed, so a new directory (a new day's prefix) survives a
/// crash along with the objects in it.
fn create_dirs_durably(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => dir.parent().map_or(Ok(()), sync_dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Syncs directory `dir` after the caller's rename into it, sharing one
/// fsync with every writer waiting on the same directory (group commit):
/// under concurrency the directory is synced once per batch of renames
/// instead of once per object. A writer returns only once an fsync that
/// started after its call has succeeded.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    use std::collections::HashMap;
    use std::sync::{Condvar, LazyLock, Mutex};
    #[derive(Default)]
    struct Pending {
        requested: u64,
        done: u64,
        running: bool,
    }
    static DIRS: LazyLock<(Mutex<HashMap<PathBuf, Pending>>, Condvar)> = LazyLock::new(Default::default);
    let (lock, wake) = &*DIRS;
    let mut dirs = lock.lock().unwrap_or_else(|p| p.into_inner());
    let ticket = {
        let pending = dirs.entry(dir.to_path_buf()).or_default();
        pending.requested += 1;
        pending.requested
    };
    loop {
        let Some(pending) = dirs.get_mut(dir) else {
            return Err(std::io::Error::other("directory sync state lost"));
        };
        if pending.done >= ticket {
            return Ok(());
        }
        if pending.running {
            dirs = wake.wait(dirs).unwrap_or_else(|p| p.into_inner());
            continue;
        }
        // Lead a sync covering every request made so far.
        pending.running = true;
        let covers = pending.requested;
        drop(dirs);
        let synced = std::fs::File::open(dir).and_then(|f| f.sync_all());
        dirs = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pending) = dirs.get_mut(dir) {
            pending.running = false;
            if synced.is_ok() {
                pending.done = pending.done.max(covers);
            }
        }
        wake.notify_all();
        // On failure the leader reports it; waiters try a sync of their own.
        synced?;
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_into_one_directory_all_land() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let writers: Vec<_> = (0..16)
            .map(|t| {
                let root = root.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        write_atomic(&root.join(format!("a/b/{t}-{i}")), b"x").expect("write");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        assert_eq!(std::fs::read_dir(root.join("a/b")).expect("dir").count(), 16 * 20);
    }

    #[tokio::test]
    async fn put_get_round_trip_and_key_validation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        store.put("a/b/c.bin", Bytes::from_static(b"hello")).await.expect("put");
        assert_eq!(store.get("a/b/c.bin").await.expect("get").as_deref(), Some(&b"hello"[..]));
        assert!(store.get("a/missing").await.expect("get").is_none());
        for bad in ["", "/abs", "a/../b", "a//b", "./a"] {
            assert!(matches!(store.get(bad).await, Err(StoreError::Key(_))), "{bad}");
        }
        store.put("a/b/c.bin", Bytes::from_static(b"new")).await.expect("overwrite");
        assert_eq!(store.get("a/b/c.bin").await.expect("get").as_deref(), Some(&b"new"[..]));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).expect("dir").collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[tokio::test]
    async fn a_conditional_write_wins_only_over_the_version_it_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let first =
            store.put_if("m.json", Bytes::from_static(b"1"), &Precondition::Absent).await.expect("put");
        let first = first.expect("nothing there yet");
        assert!(
            store
                .put_if("m.json", Bytes::from_static(b"x"), &Precondition::Absent)
                .await
                .expect("put")
                .is_none()
        );
        let (bytes, version) = store.get_versioned("m.json").await.expect("get").expect("object");
        assert_eq!((&bytes[..], &version), (&b"1"[..], &first));
        let (current, stale) = (Precondition::Matches(first.clone()), Precondition::Matches(first));
        let second = store.put_if("m.json", Bytes::from_static(b"2"), &current).await.expect("put");
        assert!(second.is_some(), "the version read is current");
        let third = store.put_if("m.json", Bytes::from_static(b"3"), &stale).await.expect("put");
        assert!(third.is_none(), "a writer that read version 1 loses to version 2");
        assert_eq!(store.get("m.json").await.expect("get").as_deref(), Some(&b"2"[..]));
        store.put("d/a/1.json", Bytes::from_static(b"1")).await.expect("put");
        store.put_if("d/b.json", Bytes::from_static(b"2"), &Precondition::Absent).await.expect("put");
        assert_eq!(store.list("d/").await.expect("list"), ["d/a/1.json", "d/b.json"]);
        let beside: Vec<_> = std::fs::read_dir(dir.path().join("d")).expect("dir").flatten().collect();
        assert_eq!(beside.len(), 2, "only objects beside objects: {beside:?}");
        assert!(store.list("nothing/").await.expect("list").is_empty());
    }

    /// Writers in threads of their own, each reading then swapping: every
    /// increment lands exactly once, as it would across processes.
    #[test]
    fn racing_conditional_writers_never_lose_an_update() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("counter");
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        loop {
                            let (expected, n) = match std::fs::read(&path) {
                                Ok(b) => {
                                    let n: u64 = String::from_utf8_lossy(&b).parse().expect("number");
                                    (Precondition::Matches(local_version(&b)), n)
                                }
                                Err(_) => (Precondition::Absent, 0),
                            };
                            let next = (n + 1).to_string();
                            let lock = path.with_extension("lock");
                            if put_if_local(&path, &lock, next.as_bytes(), &expected).expect("put").is_some()
                            {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        assert_eq!(std::fs::read_to_string(&path).expect("counter"), "100");
    }
}

/// Where a service's object store lives, as written in TOML:
/// `[store]` with `kind = "local"` and `path = "..."`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    Local { path: PathBuf },
    S3(crate::s3::S3Config),
}

impl StoreConfig {
    pub fn open(&self) -> ObjectStore {
        match self {
            Self::Local { path } => ObjectStore::local(path),
            Self::S3(config) => ObjectStore::S3(std::sync::Arc::new(crate::s3::S3Store::new(config))),
        }
    }
}
