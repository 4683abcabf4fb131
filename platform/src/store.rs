//! The object store: where the control plane publishes and responders read.
//!
//! The embedded default is a local directory. Writes are atomic (temporary
//! file, fsync, rename, fsync of the directory) so a reader never sees a
//! partial object and an acknowledged write survives a crash.

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
