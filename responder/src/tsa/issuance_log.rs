//! The append-only log of issued tokens, with group commit: one writer
//! thread takes every record waiting, writes them, syncs once, then
//! acknowledges them all. A token is sent only after its record is durable,
//! so a crash never loses an acknowledged token.
//!
//! One line per token: `serial genTime(µs) hash imprint-hex policy-hex`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most records written per sync.
const MAX_BATCH: usize = 4096;

type Pending = (Vec<u8>, oneshot::Sender<std::io::Result<()>>);

pub struct IssuanceLog {
    tx: mpsc::Sender<Pending>,
}

impl IssuanceLog {
    /// Opens (creating) the log at `path`. With `sync` false, records reach
    /// the OS before acknowledgement (they survive a process crash) but not
    /// necessarily the disk (a power loss).
    pub fn open(path: &Path, sync: bool) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new().name("tsa-log".into()).spawn(move || writer(file, rx, sync))?;
        Ok(Self { tx })
    }

    /// Appends one record; returns once it is durable.
    pub async fn append(&self, record: Vec<u8>) -> std::io::Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send((record, done)).map_err(|_| std::io::Error::other("issuance log writer stopped"))?;
        wait.await.map_err(|_| std::io::Error::other("issuance log writer stopped"))?
    }
}

fn writer(mut file: File, rx: mpsc::Receiver<Pending>, sync: bool) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut acks = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        buf.clear();
        let mut next = Some(first);
        while let Some((record, ack)) = next {
            buf.extend_from_slice(&record);
            buf.push(b'\n');
            acks.push(ack);
            next = if acks.len() < MAX_BATCH { rx.try_recv().ok() } else { None };
        }
        let result = file.write_all(&buf).and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        metrics::histogram!("cartorio_tsa_log_batch_size").record(acks.len() as f64);
        for ack in acks.drain(..) {
            let _ = ack.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_appends_all_land() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let log = std::sync::Arc::new(IssuanceLog::open(&path, true).expect("open"));
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { log.append(format!("record {i}").into_bytes()).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("append");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 200);
        for i in 0..200 {
            assert!(text.lines().any(|l| l == format!("record {i}")));
        }
    }
}
