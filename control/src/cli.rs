//! `cartorio issue` and `cartorio revoke`: through the admin API of a
//! running `up` when there is one, else directly on the registry (the
//! registry serialises writers, so both may run at once; the pre-signer of
//! the next `up` signs what it finds pending).
//!
//! The registry is the SQLite file of `--data-dir`, or the PostgreSQL
//! database named by `CARTORIO_DATABASE_URL` (as a control node's
//! `database_url`), for every command here, `audit verify` included.

use crate::acme::objects::time as rfc3339;
use crate::paths::DataDir;
use crate::registry::Database;
use crate::{Control, ControlConfig};
use anyhow::{Context, bail};
use cartorio_platform::client;
use http::{Method, StatusCode};
use std::path::Path;

fn admin_url(dir: &DataDir) -> Option<String> {
    let text = std::fs::read_to_string(dir.endpoints()).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("control").and_then(|v| v.as_str()).map(|addr| format!("http://{addr}"))
}

fn token(dir: &DataDir) -> anyhow::Result<String> {
    let path = dir.admin_token();
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_owned())
}

/// Sends to the running `up`; `Ok(None)` when none answers.
async fn via_api(
    dir: &DataDir,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(base) = admin_url(dir) else {
        return Ok(None);
    };
    let token = token(dir)?;
    let reply =
        match client::send(Method::POST, &format!("{base}{path}"), Some(&token), content_type, body).await {
            Ok(reply) => reply,
            Err(client::ClientError::Unreachable(error)) => {
                tracing::debug!(%error, "no running control plane; working on the registry directly");
                return Ok(None);
            }
            // The request may have been acted on: retrying offline could issue twice.
            Err(error @ client::ClientError::Failed(_)) => bail!("the control plane did not answer: {error}"),
        };
    let value: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    if reply.status == StatusCode::OK || reply.status == StatusCode::CREATED {
        return Ok(Some(value));
    }
    // The data directory's token was revoked or expired (the runbook has
    // operators revoke it once they have their own): nothing was done, and
    // whoever reads the data directory may work on the registry directly.
    if reply.status == StatusCode::UNAUTHORIZED {
        tracing::debug!("the data directory's admin token was refused; working on the registry directly");
        return Ok(None);
    }
    let detail = value.get("detail").and_then(|d| d.as_str()).unwrap_or("");
    if value.get("reason").and_then(|r| r.as_str()) == Some("profile_violation") {
        return Err(Refused(detail.to_owned()).into());
    }
    bail!("the control plane refused: {} {detail}", reply.status)
}

/// A request refused for breaking a rule (its profile's): the CLI exits
/// with 2 for it, as for a usage error, rather than 1.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(pub String);

/// Writes the issuer's full CRL (PEM) to `out`, signed now from the
/// registry (safe beside a running `up`: SQLite WAL readers do not block).
/// Returns the number of entries.
pub async fn crl(
    dir: &DataDir,
    out: &Path,
    issuer: Option<String>,
    shard: Option<(crate::crl::CrlSharding, u32)>,
) -> anyhow::Result<usize> {
    let control = offline(dir)?;
    let crl = match shard {
        Some((sharding, shard)) => control.crl_shard(issuer, sharding, shard).await?,
        None => control.crl(issuer).await?,
    };
    std::fs::write(out, cartorio_pkix::crl::to_pem(&crl.der))
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(crl.entries)
}

/// Where `cartorio audit verify` finds what it trusts besides the registry.
#[derive(Debug, Clone, Default)]
pub struct AuditSources {
    /// The audit public key (PEM); default: the one exported to the store
    /// (`audit/public-key.pem`), else `DIR/pki/audit-public-key.pem`.
    /// Pin it: a key read from the store is only as safe as the store.
    pub public_key: Option<std::path::PathBuf>,
    /// A folder of exported checkpoints kept elsewhere (`*.json`).
    pub checkpoints: Option<std::path::PathBuf>,
}

/// `cartorio audit verify`: checks the audit log's chain against every
/// signed checkpoint (the registry's, those exported to `DIR/store`, and
/// the operator's copies) with the audit public key alone.
/// `Ok(Ok(summary))` when intact, `Ok(Err(report))` naming the first bad
/// entry or checkpoint otherwise.
pub async fn audit_verify(dir: &DataDir, sources: &AuditSources) -> anyhow::Result<Result<String, String>> {
    let database = Database::select(database_url().as_deref(), dir)?;
    audit_verify_with(dir, &database, &cartorio_platform::ObjectStore::local(dir.store()), sources).await
}

/// [`audit_verify`] on the registry in `database`, the checkpoints
/// exported to `store`.
pub async fn audit_verify_with(
    dir: &DataDir,
    database: &Database,
    store: &cartorio_platform::ObjectStore,
    sources: &AuditSources,
) -> anyhow::Result<Result<String, String>> {
    use crate::audit::{AuditKey, Checkpoint, Sourced};
    if let Database::Sqlite(path) = database {
        anyhow::ensure!(path.exists(), "{} has no registry", dir.root().display());
    }
    let key_text = match &sources.public_key {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => match store.get(crate::audit::PUBLIC_KEY_KEY).await? {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => {
                let path = dir.pki().join(crate::audit::PUBLIC_KEY_FILE);
                std::fs::read_to_string(&path).with_context(|| {
                    format!("no audit public key in the store or at {}: pass --public-key", path.display())
                })?
            }
        },
    };
    let key = AuditKey::from_pem(&key_text)?;
    let mut external = Vec::new();
    let exported = store.list(crate::audit::CHECKPOINTS_PREFIX).await?;
    let exported_count = exported.len();
    for object in exported {
        let Some(bytes) = store.get(&object).await? else { continue };
        match serde_json::from_slice::<Checkpoint>(&bytes) {
            Ok(checkpoint) => external.push(Sourced { checkpoint, source: format!("the store ({object})") }),
            Err(e) => {
                return Ok(Err(format!("audit log broken: the store's {object} is not a checkpoint: {e}")));
            }
        }
    }
    let mut copies = 0;
    if let Some(folder) = &sources.checkpoints {
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .with_context(|| format!("reading {}", folder.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            match serde_json::from_slice::<Checkpoint>(&bytes) {
                Ok(checkpoint) => external.push(Sourced { checkpoint, source: path.display().to_string() }),
                Err(e) => {
                    return Ok(Err(format!("audit log broken: {} is not a checkpoint: {e}", path.display())));
                }
            }
            copies += 1;
        }
    }
    let database = database.clone();
    // Off the async threads (see `registry::db`).
    let verdict = tokio::task::spawn_blocking(move || {
        crate::registry::Registry::open(&database)?.verify_audit(&key, &external).map(|v| (v, key))
    })
    .await??;
    Ok(match verdict {
        (Ok(intact), key) => {
            let tail = match intact.entries - intact.covered {
                0 => "every entry is covered by a signed checkpoint".to_owned(),
                n => format!(
                    "the last {n} entr{} rest on the hash chain until the next checkpoint",
                    if n == 1 { "y" } else { "ies" }
                ),
            };
            Ok(format!(
                "audit log intact: {} entries; {} signed checkpoint(s) ({exported_count} exported to the store, {copies} from copies), \
                 consistent (RFC 9162) up to entry {}; {tail}; audit key {}",
                intact.entries,
                intact.checkpoints,
                intact.covered,
                key.fingerprint()
            ))
        }
        (Err(broken), _) => Err(broken.to_string()),
    })
}

/// Creates an admin API token for `role` (on the registry, beside a
/// running `up` or not), valid for `expires_in` (`90d`, `12h`, `30m`,
/// `never`), and returns it.
pub async fn add_token(dir: &DataDir, role: &str, expires_in: &str) -> anyhow::Result<String> {
    let role = crate::roles::Role::parse(role)
        .with_context(|| format!("unknown role {role:?}: admin, issuer, revoker or auditor"))?;
    let valid_for = lifetime(expires_in).map_err(Refused)?;
    offline(dir)?.add_token(role, valid_for).await
}

/// `90d`, `12h`, `30m`, `45s` in seconds; `never` is `None`.
fn lifetime(text: &str) -> Result<Option<i64>, String> {
    if text == "never" {
        return Ok(None);
    }
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} is no lifetime: a number and s, m, h or d (90d), or never")),
    };
    match number.parse::<i64>() {
        Ok(n) if n > 0 => Ok(Some(n.saturating_mul(scale))),
        _ => Err(format!("{text:?} is no lifetime: a positive number and s, m, h or d (90d), or never")),
    }
}

/// `cartorio ocsp-signer rotate`: a new OCSP signer (key and certificate)
/// for the issuing CA `issuer` now, every response due for re-signing.
/// Through the running `up` when there is one (which then signs with the
/// new signer at once), else on the data directory.
pub async fn rotate_ocsp_signer(dir: &DataDir, issuer: Option<String>) -> anyhow::Result<String> {
    if let Some(name) = issuer.as_deref().filter(|name| !crate::ca::valid_issuer_name(name)) {
        return Err(Refused(format!("{name:?} names no issuing CA")).into());
    }
    let query = issuer.as_deref().map(|name| format!("?issuer={name}")).unwrap_or_default();
    let path = format!("/v1/ocsp-signer/rotate{query}");
    let rotated = match via_api(dir, &path, "application/json", Vec::new()).await? {
        Some(value) => serde_json::from_value::<crate::renewal::Rotated>(value)
            .context("the control plane's answer to the rotation")?,
        None => {
            let renewed = offline(dir)?.rotate_ocsp_signer(issuer).await.map_err(|e| match e {
                crate::IssueError::Unknown(message) => anyhow::Error::from(Refused(message)),
                other => anyhow::Error::from(other),
            })?;
            crate::renewal::Rotated::from(&renewed)
        }
    };
    Ok(format!(
        "rotated {}: serial {}, {}, valid until {}; every response is due for re-signing by it",
        rotated.certificate,
        rotated.serial,
        if rotated.new_key { "on a new key" } else { "on the same key (it is on a token)" },
        rfc3339(rotated.not_after),
    ))
}

/// `cartorio admin-token list`: one line per token, by a prefix of its hash.
pub async fn list_tokens(dir: &DataDir) -> anyhow::Result<String> {
    let now = cartorio_platform::clock::unix_seconds();
    let tokens = offline(dir)?.admin_tokens().await?;
    let mut out = format!("{:<14}{:<10}{:<22}{:<22}state\n", "token", "role", "created", "expires");
    for t in &tokens {
        let state = match (t.revoked_at, t.expires_at) {
            (Some(at), _) => format!("revoked {}", rfc3339(at)),
            (None, Some(at)) if at <= now => "expired".to_owned(),
            _ => "valid".to_owned(),
        };
        let expires = t.expires_at.map_or_else(|| "never".to_owned(), rfc3339);
        out +=
            &format!("{:<14}{:<10}{:<22}{:<22}{state}\n", t.prefix, t.role, rfc3339(t.created_at), expires);
    }
    Ok(out.trim_end().to_owned())
}

/// `cartorio admin-token revoke PREFIX`.
pub async fn revoke_token(dir: &DataDir, prefix: &str) -> anyhow::Result<String> {
    use crate::registry::TokenRevocation;
    match offline(dir)?.revoke_admin_token(prefix.to_owned()).await? {
        TokenRevocation::Revoked(t) => Ok(format!("revoked the {} token {}", t.role, t.prefix)),
        TokenRevocation::AlreadyRevoked(t) => {
            Ok(format!("the {} token {} was already revoked (nothing changed)", t.role, t.prefix))
        }
        TokenRevocation::NotFound => {
            Err(Refused(format!("no token's hash starts with {prefix} (see `admin-token list`)")).into())
        }
        TokenRevocation::Ambiguous(n) => {
            Err(Refused(format!("{n} tokens' hashes start with {prefix}: give more of it")).into())
        }
    }
}

/// The variable naming the registry's PostgreSQL database for these commands.
pub const DATABASE_URL_VAR: &str = "CARTORIO_DATABASE_URL";

pub(crate) fn database_url() -> Option<String> {
    std::env::var(DATABASE_URL_VAR).ok().filter(|url| !url.is_empty())
}

fn offline(dir: &DataDir) -> anyhow::Result<Control> {
    Control::open(
        ControlConfig { database_url: database_url(), ..ControlConfig::embedded(dir.clone()) },
        false,
    )
}

/// Issues a certificate for the CSR in `csr_path`, writes it (PEM) to `out`,
/// returns its serial.
pub async fn issue(
    dir: &DataDir,
    csr_path: &Path,
    profile: &str,
    issuer: Option<&str>,
    out: &Path,
) -> anyhow::Result<String> {
    let csr = std::fs::read(csr_path).with_context(|| format!("reading {}", csr_path.display()))?;
    // Check locally first, so a bad CSR gets a precise message either way.
    cartorio_pkix::csr::VerifiedCsr::from_pem_or_der(&csr).context("invalid CSR")?;
    let path = match issuer {
        Some(issuer) => format!("/v1/certificates?profile={profile}&issuer={issuer}"),
        None => format!("/v1/certificates?profile={profile}"),
    };
    let (serial, pem) = match via_api(dir, &path, "application/pkcs10", csr.clone()).await? {
        Some(value) => (
            value.get("serial").and_then(|v| v.as_str()).context("reply without serial")?.to_owned(),
            value
                .get("certificate")
                .and_then(|v| v.as_str())
                .context("reply without certificate")?
                .to_owned(),
        ),
        None => {
            let issued = match offline(dir)?.issue(csr, profile.to_owned(), issuer.map(str::to_owned)).await {
                Err(crate::issuance::IssueError::Refused(refusal)) => {
                    return Err(Refused(refusal.to_string()).into());
                }
                other => other?,
            };
            (issued.serial, cartorio_pkix::cert::to_pem(&issued.der))
        }
    };
    std::fs::write(out, pem).with_context(|| format!("writing {}", out.display()))?;
    Ok(serial)
}

pub async fn revoke(dir: &DataDir, serial: &str, reason: &str) -> anyhow::Result<serde_json::Value> {
    let body = serde_json::json!({ "reason": reason }).to_string().into_bytes();
    let normalized =
        crate::normalize_serial(serial).with_context(|| format!("{serial:?} is not a hex serial"))?;
    match via_api(dir, &format!("/v1/certificates/{normalized}/revoke"), "application/json", body).await? {
        Some(value) => Ok(value),
        None => Ok(offline(dir)?.revoke(normalized, reason.to_owned()).await?),
    }
}

/// `cartorio presign`: signs and publishes every due response now (all of
/// them with `refresh_all`), reporting progress as (done, total).
pub async fn presign(
    dir: &DataDir,
    refresh_all: bool,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let control = offline(dir)?;
    if refresh_all {
        control.refresh_all().await?;
    }
    let mut presigner = control.presigner(std::sync::Arc::default()).await?;
    presigner.follow_published_cert_id_hashes();
    presigner.drain(progress).await
}

/// `cartorio acme eab create`: an external account binding key.
pub async fn acme_eab_create(
    dir: &DataDir,
    kid: Option<String>,
) -> anyhow::Result<crate::acme::operator::EabKey> {
    offline(dir)?.acme_eab_create(kid).await
}

/// `cartorio acme renew-early`: ARI asks clients to renew now.
pub async fn acme_renew_early(dir: &DataDir, serial: Option<String>) -> anyhow::Result<()> {
    offline(dir)?.acme_renew_early(serial).await
}

#[cfg(test)]
mod tests {
    use super::lifetime;

    #[test]
    fn token_lifetimes_are_a_positive_number_and_a_unit_or_never() {
        assert_eq!(lifetime("90d"), Ok(Some(90 * 86_400)));
        assert_eq!(lifetime("12h"), Ok(Some(12 * 3600)));
        assert_eq!(lifetime("30m"), Ok(Some(1800)));
        assert_eq!(lifetime("45s"), Ok(Some(45)));
        assert_eq!(lifetime("never"), Ok(None));
        for bad in ["", "d", "0d", "-1d", "1.5h", "5y", "90", "90 d", "99999999999999999999d"] {
            assert!(lifetime(bad).is_err(), "{bad:?}");
        }
    }
}
