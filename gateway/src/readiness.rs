//! `GET /readyz` on the gateway: whether it can store what it accepts, as
//! JSON, 503 when it cannot (a load balancer then sends ingestion to
//! another gateway instead of collecting 503s from this one's sink).
//! Liveness is `/healthz`. With `[ratelimit] backend = "redis"`, the
//! `shared_backend` component says whether Redis answers a PING; it makes
//! the gateway not ready only under `on_backend_error = "deny"` (every
//! request would be refused), not under `"local"` (it decides alone).

use crate::redis_link::RedisLink;
use cartorio_platform::ObjectStore;
use serde_json::{Value, json};
use std::time::Duration;

/// The longest the store may take to answer the probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A key no payload is stored under (payloads live under `raw/` and
/// `quarantine/`): reading it proves the store answers, and costs one GET.
const PROBE_KEY: &str = "readyz/probe";

/// The readiness document and whether the gateway is ready.
pub async fn readyz(store: &ObjectStore, sealed: bool, redis: Option<&RedisLink>) -> (bool, Value) {
    let store_probe = async {
        match tokio::time::timeout(PROBE_TIMEOUT, store.get(PROBE_KEY)).await {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!("no answer within {PROBE_TIMEOUT:?}")),
        }
    };
    let redis_probe = async {
        match redis {
            Some(link) => Some(link.ping(PROBE_TIMEOUT).await.err()),
            None => None,
        }
    };
    let (store_error, redis_error) = tokio::join!(store_probe, redis_probe);
    let mut components = json!({
        "store": { "ready": store_error.is_none(), "error": store_error },
        "sealing": { "ready": true, "payloads_sealed": sealed },
    });
    let mut ready = store_error.is_none();
    if let (Some(link), Some(error)) = (redis, redis_error) {
        let answers = error.is_none();
        let needed = link.denies_without_backend();
        ready &= answers || !needed;
        components["shared_backend"] = json!({
            "ready": answers || !needed,
            "answers": answers,
            "on_backend_error": if needed { "deny" } else { "local" },
            "error": error,
        });
    }
    let doc = json!({ "status": if ready { "ready" } else { "not_ready" }, "components": components });
    (ready, doc)
}
