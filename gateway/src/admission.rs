//! Stages 2 and 3 of an ingest request, before its body is read: who the
//! client is (authentication), whether it may post to the stream, and
//! whether it is within its in-flight caps, its rate (GCRA, here or on
//! Redis) and its usage plan; and whether its Idempotency-Key is usable.

use crate::addresses::Unauthenticated;
use crate::auth::AuthError;
use crate::ctx::{Admitted, IngestCtx, now_secs};
use crate::idempotency;
use crate::policy::Policy;
use crate::ratelimit::{Busy, Decision};
use crate::refusal::Refusal;
use crate::shared_limit::Shared;
use crate::usage::Quota;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::clock::unix_micros;
use cartorio_platform::http::PeerCertificate;

pub async fn admit(
    ctx: &IngestCtx<'_>,
    policy: &Policy,
    unauthenticated: Unauthenticated,
    note: &mut AccessNote,
) -> Result<Admitted, Refusal> {
    let (g, stream, parts) = (ctx.gateway, ctx.stream, ctx.parts);
    // 2. Authenticate.
    let client_cert = parts.extensions.get::<PeerCertificate>().map(|c| c.0.clone());
    let identity =
        policy.keys.identify(&parts.headers, client_cert.as_deref(), &stream.name, &stream.mtls_identities);
    let client = identity.map_err(|e| match e {
        AuthError::Unauthenticated => Refusal::Unauthenticated,
        AuthError::Forbidden => Refusal::Forbidden,
    })?;
    note.identity = Some(client.clone());
    drop(unauthenticated);
    // 3. Rate-limit: in-flight caps, then the stream's GCRA, then the plan.
    let slot = g.in_flight.enter(&client).map_err(|busy| match busy {
        Busy::Gateway => Refusal::Overloaded,
        Busy::Client => Refusal::ClientBusy,
    })?;
    let now_micros = unix_micros();
    let now_ns = u64::try_from(now_micros).unwrap_or(0).saturating_mul(1000);
    let decision = match &g.shared {
        Some(shared) => shared.check(&client, &stream.name, &stream.gcra, now_ns, &g.limiter).await,
        None => {
            Shared::Decided(g.limiter.check(&(client.as_str(), stream.name.as_str()), &stream.gcra, now_ns))
        }
    };
    let remaining = match decision {
        Shared::Decided(Decision::Allow { remaining, .. }) => remaining,
        Shared::Decided(Decision::Deny { retry_after }) => {
            return Err(Refusal::RateLimited { gcra: stream.gcra, retry_after_ns: retry_after });
        }
        Shared::Unavailable => return Err(Refusal::RateLimitUnavailable),
    };
    // The key's usage plan: one more request, and its declared bytes.
    let plan = policy.plans.get(&client).cloned();
    let declared = ctx.declared_length;
    let quotas = match &plan {
        Some(plan) => match g.usage.admit(&client, plan, declared.unwrap_or(0), now_secs()).await {
            Quota::Allow(states) => states,
            quota => return Err(Refusal::Quota { quota, gcra: stream.gcra, remaining }),
        },
        None => Vec::new(),
    };
    let record = match parts.headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) if idempotency::valid_key(key) => {
            Some(idempotency::record_key(&stream.name, &client, key))
        }
        Some(_) => return Err(Refusal::BadIdempotencyKey),
    };
    let unmetered = plan.filter(|_| declared.is_none());
    Ok(Admitted { client, now_micros, remaining, quotas, unmetered, record, _slot: slot })
}
