//! The access log's writer: a thread of its own that takes rendered lines
//! from a bounded queue every [`TICK`] and writes them to stderr in batches
//! of whole lines: at most [`PIPE_BATCH`] bytes a write to a pipe or socket
//! (a write that size is atomic there, so a line never interleaves with
//! another writer's), [`FILE_BATCH`] to a regular file. A serving thread
//! never waits on stderr: when the queue is full (the reader of stderr
//! stalls) lines are dropped and counted in
//! `cartorio_access_log_dropped_total`, as a lossy non-blocking writer does;
//! a request is never slowed for its log line.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// Lines queued at most (about 32 MiB of typical lines; at 100,000 lines a
/// second, 0.6 s of them).
const QUEUE: usize = 64 * 1024;
/// How often the writer takes the queue: how late a line may be written.
const TICK: Duration = Duration::from_millis(10);
/// Largest write to a pipe or socket: PIPE_BUF on Linux.
const PIPE_BATCH: usize = 4096;
/// Largest write to a regular file (appends there do not interleave).
const FILE_BATCH: usize = 64 * 1024;

struct Queue {
    sender: SyncSender<Vec<u8>>,
    /// Lines submitted and not yet written, for [`flush`].
    pending: AtomicUsize,
}

static QUEUE_CELL: OnceLock<Queue> = OnceLock::new();

fn queue() -> &'static Queue {
    QUEUE_CELL.get_or_init(|| {
        let (sender, receiver) = sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || drain(receiver, &mut std::io::stderr(), batch_size()));
        if let Err(error) = spawned {
            tracing::error!(%error, "no access log writer thread: access lines are dropped");
        }
        Queue { sender, pending: AtomicUsize::new(0) }
    })
}

/// Queues `line` for writing; drops it (counted) when the queue is full.
pub(super) fn submit(line: Vec<u8>) {
    let queue = queue();
    queue.pending.fetch_add(1, Ordering::Relaxed);
    match queue.sender.try_send(line) {
        Ok(()) => {}
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
            queue.pending.fetch_sub(1, Ordering::Relaxed);
            metrics::counter!("cartorio_access_log_dropped_total").increment(1);
        }
    }
}

/// Waits (up to `timeout`) until every queued line is written: called
/// before the process exits, so the last requests' lines are not lost.
pub fn flush(timeout: Duration) {
    let Some(queue) = QUEUE_CELL.get() else { return };
    let deadline = Instant::now() + timeout;
    while queue.pending.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The batch size stderr takes: [`FILE_BATCH`] when it is a regular file.
fn batch_size() -> usize {
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(meta) if meta.file_type().is_file() => FILE_BATCH,
        _ => PIPE_BATCH,
    }
}

/// The writer thread: every [`TICK`] it takes what is queued, in batches
/// of up to `max` bytes. It never blocks on the queue, so a serving thread
/// queuing a line never has a sleeping writer to wake (a futex call and a
/// context switch per line: with a blocking receive, `access_log = "all"`
/// cost the gateway 15% of its req/s and an OCSP responder 39%).
fn drain(receiver: Receiver<Vec<u8>>, out: &mut impl Write, max: usize) {
    let mut batch = Vec::with_capacity(max);
    let mut lines = 0usize;
    loop {
        let open = loop {
            match receiver.try_recv() {
                Ok(line) => {
                    if !batch.is_empty() && batch.len() + line.len() > max {
                        write_batch(out, &mut batch, &mut lines);
                    }
                    batch.extend_from_slice(&line);
                    lines += 1;
                }
                Err(TryRecvError::Empty) => break true,
                Err(TryRecvError::Disconnected) => break false,
            }
        };
        if !batch.is_empty() {
            write_batch(out, &mut batch, &mut lines);
        }
        if !open {
            return;
        }
        std::thread::sleep(TICK);
    }
}

fn write_batch(out: &mut impl Write, batch: &mut Vec<u8>, lines: &mut usize) {
    if out.write_all(batch).is_err() {
        metrics::counter!("cartorio_access_log_dropped_total").increment(*lines as u64);
    }
    if let Some(queue) = QUEUE_CELL.get() {
        queue.pending.fetch_sub(*lines, Ordering::Release);
    }
    batch.clear();
    *lines = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_whole_lines_within_a_pipe_write() {
        let (sender, receiver) = sync_channel(16);
        let lines: Vec<Vec<u8>> =
            (0..12).map(|i| format!("{i}:{}\n", "x".repeat(900)).into_bytes()).collect();
        for line in &lines {
            sender.send(line.clone()).expect("queued");
        }
        drop(sender);
        let mut out = Writes::default();
        drain(receiver, &mut out, PIPE_BATCH);
        assert!(out.0.len() >= 3, "12 lines of 900 bytes take several writes: {}", out.0.len());
        for write in &out.0 {
            assert!(write.len() <= PIPE_BATCH && write.ends_with(b"\n"), "{} bytes", write.len());
        }
        assert_eq!(out.0.concat(), lines.concat(), "every line, in order");
    }

    /// Each `write_all` call recorded apart.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
