//! `GET /readyz` on the control plane's listener: whether it can do its
//! job, as JSON per component, 503 when one cannot (a load balancer then
//! sends admin and ACME traffic to another node). Liveness is `/healthz`.
//!
//! - `registry`: a query answers within [`PROBE_TIMEOUT`].
//! - `signers`: each issuing CA's key and its OCSP signer's key sign a
//!   probe message (on a PKCS#11 token, a real signing operation: a logged
//!   out session or a removed token shows here first).

use crate::Control;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The longest a component may take to answer before it counts as failing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What a probe signature signs; never a certificate or a response.
const PROBE: &[u8] = b"cartorio readiness probe";

/// The readiness document and whether every component is ready.
pub async fn readyz(control: &Control) -> (bool, Value) {
    let mut components = Map::new();
    let registry = probe(control.with_registry(|r, _| r.ping())).await;
    components.insert("registry".into(), json!({ "ready": registry.is_ok(), "error": registry.err() }));
    let mut signers = Map::new();
    for ca in &control.inner.ca.issuers {
        let ocsp = ca.ocsp.load();
        for (role, signer) in [("issuer", ca.signer.clone()), ("ocsp", ocsp.signer.clone())] {
            let signed = probe(async move {
                tokio::task::spawn_blocking(move || sign_probe(&signer)).await.map_err(anyhow::Error::from)
            })
            .await;
            signers.insert(
                format!("{}:{role}", ca.name),
                json!({ "ready": signed.is_ok(), "error": signed.err() }),
            );
        }
    }
    let signers_ready = signers.values().all(|s| s["ready"] == true);
    components.insert("signers".into(), json!({ "ready": signers_ready, "keys": signers }));
    let ready = components.values().all(|c| c["ready"] == true);
    let status = if ready { "ready" } else { "not_ready" };
    (ready, json!({ "status": status, "components": components }))
}

fn sign_probe(signer: &Arc<dyn cartorio_pkix::signer::Signer>) -> anyhow::Result<()> {
    signer.sign(PROBE).map(|_| ()).map_err(|e| anyhow::anyhow!("cannot sign: {e}"))
}

/// `work`'s outcome within PROBE_TIMEOUT, its error as text.
async fn probe<F>(work: F) -> Result<(), String>
where
    F: std::future::Future<Output = anyhow::Result<anyhow::Result<()>>>,
{
    match tokio::time::timeout(PROBE_TIMEOUT, work).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e)) | Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}
