//! `GET /readyz` on the gateway: whether it can store what it accepts, as
//! JSON, 503 when it cannot (a load balancer then sends ingestion to
//! another gateway instead of collecting 503s from this one's sink).
//! Liveness is `/healthz`.

use cartorio_platform::ObjectStore;
use serde_json::{Value, json};
use std::time::Duration;

/// The longest the store may take to answer the probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A key no payload is stored under (payloads live under `raw/` and
/// `quarantine/`): reading it proves the store answers, and costs one GET.
const PROBE_KEY: &str = "readyz/probe";

/// The readiness document and whether the gateway is ready.
pub async fn readyz(store: &ObjectStore, sealed: bool) -> (bool, Value) {
    let store_error = match tokio::time::timeout(PROBE_TIMEOUT, store.get(PROBE_KEY)).await {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some(format!("no answer within {PROBE_TIMEOUT:?}")),
    };
    let ready = store_error.is_none();
    let doc = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "components": {
            "store": { "ready": ready, "error": store_error },
            "sealing": { "ready": true, "payloads_sealed": sealed },
        },
    });
    (ready, doc)
}
