//! CPU-heavy jobs that must not compete with serving: each runs on its own
//! thread at a lower scheduling priority, and its result is awaited.

use anyhow::Context;

/// The nice value of background threads: they still make progress under
/// full load (a revocation must get through), but serving threads win the
/// cores while both want them.
const BACKGROUND_NICE: libc::c_int = 10;

/// Runs `job` on a new thread named `name` at background priority.
pub async fn background<T: Send + 'static>(
    name: &str,
    job: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority();
            let _ = tx.send(job());
        })
        .context("spawning a background thread")?;
    rx.await.context("the background job panicked")?
}

fn lower_priority() {
    // SAFETY: gettid and setpriority only read their integer arguments; on
    // Linux the nice value is per thread, so this lowers this thread alone.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE)
    };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower a background thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_background_job_runs_at_lower_priority_and_returns_its_result() {
        let nice = background("test", || {
            // SAFETY: getpriority reads its integer arguments only.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
            Ok(unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) })
        })
        .await
        .expect("job");
        assert!(nice >= BACKGROUND_NICE, "nice {nice}");
        let failed = background("test", || -> anyhow::Result<()> { anyhow::bail!("no") }).await;
        assert!(failed.is_err());
    }
}
