//! `GET /readyz`: whether each component of this responder can do its job,
//! as JSON, with 503 when one cannot (a load balancer then sends traffic
//! elsewhere). Liveness stays at `/healthz`.
//!
//! - `ocsp`: ready once the store has been read (an index built, or no
//!   manifest published yet). A store gone away later does not make it
//!   unready: the loaded responses are still served until their nextUpdate
//!   (fail soft on availability); it shows as `store: "unreachable"`.
//! - `tsa`: ready while time-stamps are issued (see [`crate::tsa::ClockState`]).

use crate::index::Index;
use crate::tsa::Tsa;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// What the manifest loader last managed, shared with the service.
#[derive(Debug, Default)]
pub struct LoaderStatus {
    /// Unix seconds of the last successful look at the store; 0: never.
    last_ok: AtomicI64,
    /// Whether the last look failed.
    failing: AtomicBool,
}

impl LoaderStatus {
    pub fn succeeded(&self, now: i64) {
        self.last_ok.store(now, Ordering::Relaxed);
        self.failing.store(false, Ordering::Relaxed);
    }

    pub fn failed(&self) {
        self.failing.store(true, Ordering::Relaxed);
    }
}

/// The readiness document and whether every component listed is ready.
pub fn readyz(
    index: &Index,
    loader: &LoaderStatus,
    tsa: Option<&Tsa>,
    ocsp: bool,
    now: i64,
) -> (bool, Value) {
    let mut components = serde_json::Map::new();
    let mut ready = true;
    if ocsp {
        let last_ok = loader.last_ok.load(Ordering::Relaxed);
        let loaded = last_ok > 0;
        ready &= loaded;
        let store = match (loaded, loader.failing.load(Ordering::Relaxed)) {
            (_, true) => "unreachable",
            (true, false) => "reachable",
            (false, false) => "not_read_yet",
        };
        components.insert(
            "ocsp".into(),
            json!({
                "ready": loaded,
                "generation": index.generation,
                "epoch": index.epoch,
                "manifest_age_seconds": (index.generation > 0).then(|| now - index.published_at),
                "store": store,
                "last_read_seconds_ago": loaded.then(|| now - last_ok),
            }),
        );
    }
    if let Some(tsa) = tsa {
        let state = tsa.clock.check();
        ready &= state.issuing();
        components.insert(
            "tsa".into(),
            json!({
                "ready": state.issuing(),
                "clock": state.label(),
                "clock_max_error_ms": state.max_error_us().map(|us| us / 1000),
                "detail": state.describe(tsa.clock.policy),
            }),
        );
    }
    let status = if ready { "ready" } else { "not_ready" };
    (ready, json!({ "status": status, "components": components }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocsp_is_ready_once_the_store_was_read_and_stays_so_when_it_goes_away() {
        let (index, loader) = (Index::default(), LoaderStatus::default());
        let (ready, doc) = readyz(&index, &loader, None, true, 100);
        assert!(!ready);
        assert_eq!(doc["components"]["ocsp"]["store"], "not_read_yet");
        loader.succeeded(90);
        let (ready, doc) = readyz(&index, &loader, None, true, 100);
        assert!(ready, "{doc}");
        assert_eq!(
            (doc["status"].as_str(), doc["components"]["ocsp"]["last_read_seconds_ago"].as_i64()),
            (Some("ready"), Some(10))
        );
        loader.failed();
        let (ready, doc) = readyz(&index, &loader, None, true, 100);
        assert!(ready, "still serving what it loaded: {doc}");
        assert_eq!(doc["components"]["ocsp"]["store"], "unreachable");
    }
}
