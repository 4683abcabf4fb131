//! Rounds of a loop that others wait on: the pre-signer's cycles (an
//! issuance answered once its OCSP response is published) and a
//! responder's reloads (a publication done once the responder in the same
//! process serves it). A round reads its input after it begins, so one
//! begun after a change has taken it in when it ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Rounds begun and ended, and whether the loop runs in this process.
#[derive(Debug)]
pub struct Rounds {
    running: AtomicBool,
    begun: AtomicU64,
    ended: watch::Sender<u64>,
}

impl Default for Rounds {
    fn default() -> Self {
        Self { running: AtomicBool::new(false), begun: AtomicU64::new(0), ended: watch::Sender::new(0) }
    }
}

impl Rounds {
    /// The loop runs here from now on.
    pub fn start(&self) {
        self.running.store(true, Ordering::SeqCst);
    }

    /// A round begins; its number, for [`Rounds::end`].
    pub fn begin(&self) -> u64 {
        self.begun.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Round `round` has ended (done, or failed and said so).
    pub fn end(&self, round: u64) {
        self.ended.send_replace(round);
    }

    /// The first round that begins after this call; `None` when the loop
    /// does not run in this process.
    pub fn next(&self) -> Option<u64> {
        self.running.load(Ordering::SeqCst).then(|| self.begun.load(Ordering::SeqCst) + 1)
    }

    /// Waits, at most `limit`, until round `target` has ended.
    pub async fn ended(&self, target: u64, limit: Duration) -> bool {
        let mut ended = self.ended.subscribe();
        matches!(tokio::time::timeout(limit, ended.wait_for(|&round| round >= target)).await, Ok(Ok(_)))
    }

    /// Waits, at most `limit`, until a round begun after this call has
    /// ended. `false` when the loop does not run here or it took longer.
    pub async fn ended_since_now(&self, limit: Duration) -> bool {
        match self.next() {
            Some(target) => self.ended(target, limit).await,
            None => false,
        }
    }
}

/// A reload a publisher asks of a loader in the same process (`up`'s
/// pre-signer of its responder): `wake` starts one at once, `rounds` says
/// when it has been done.
#[derive(Debug, Default)]
pub struct Reload {
    pub wake: Notify,
    pub rounds: Rounds,
}

impl Reload {
    /// Wakes the loader and waits, at most `limit`, until it has reloaded
    /// from after this call; at once when no loader runs here.
    pub async fn reloaded(&self, limit: Duration) -> bool {
        let target = self.rounds.next();
        self.wake.notify_one();
        match target {
            Some(target) => self.rounds.ended(target, limit).await,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn waits_for_a_round_begun_after_the_call() {
        let rounds = Arc::new(Rounds::default());
        let short = Duration::from_millis(50);
        assert!(!rounds.ended_since_now(short).await, "no loop here");
        rounds.start();
        let current = rounds.begin();
        // The round under way may have read its input before the change.
        let waiting = tokio::spawn({
            let rounds = rounds.clone();
            async move { rounds.ended_since_now(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(short).await;
        rounds.end(current);
        tokio::time::sleep(short).await;
        assert!(!waiting.is_finished(), "the round begun before does not count");
        let next = rounds.begin();
        rounds.end(next);
        assert!(waiting.await.expect("task"));
        assert!(!rounds.ended_since_now(short).await, "no round ran since");
    }

    #[tokio::test]
    async fn a_reload_wakes_the_loader_and_waits_for_it() {
        let reload = Arc::new(Reload::default());
        assert!(!reload.reloaded(Duration::from_millis(10)).await, "no loader: at once");
        reload.rounds.start();
        let loader = tokio::spawn({
            let reload = reload.clone();
            async move {
                reload.wake.notified().await;
                let round = reload.rounds.begin();
                reload.rounds.end(round);
            }
        });
        assert!(reload.reloaded(Duration::from_secs(5)).await);
        loader.await.expect("loader");
    }
}
