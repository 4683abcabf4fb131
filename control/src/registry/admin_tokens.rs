//! Admin API bearer tokens: stored only as the SHA-256 of the token, each
//! with a role, an optional expiry and a revocation. Every change and every
//! login is audited with a prefix of the hash, the name the operator lists
//! and revokes a token by.

use super::Registry;
use super::db::Sql;
use crate::audit;
use crate::sql_params;

/// Hex characters of a token's hash that name it (in `admin-token list`,
/// the audit log and `admin-token revoke`).
pub const TOKEN_PREFIX_LEN: usize = 12;

/// Fewest hex characters `admin-token revoke` takes: short prefixes name
/// several tokens.
const MIN_REVOKE_PREFIX: usize = 8;

/// A token as listed: never its hash in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub prefix: String,
    pub role: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a revocation did.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenRevocation {
    Revoked(AdminToken),
    AlreadyRevoked(AdminToken),
    NotFound,
    /// The prefix names this many tokens.
    Ambiguous(usize),
}

/// Why a login was refused (the audit log's `refused`).
fn refusal(expires_at: Option<i64>, revoked_at: Option<i64>, now: i64) -> Option<&'static str> {
    if revoked_at.is_some() {
        Some("revoked")
    } else if expires_at.is_some_and(|at| at <= now) {
        Some("expired")
    } else {
        None
    }
}

fn prefix_of(hash: &str) -> &str {
    hash.get(..TOKEN_PREFIX_LEN).unwrap_or(hash)
}

impl Registry {
    /// Stores the token with this hash for `role`, valid until
    /// `expires_at` (Unix seconds; `None`: until revoked).
    pub fn add_admin_token(
        &mut self,
        hash: &str,
        role: &str,
        now: i64,
        expires_at: Option<i64>,
    ) -> anyhow::Result<()> {
        let event = audit::Event {
            kind: "admin.token_add",
            actor: "control",
            detail: serde_json::json!({
                "role": role, "token_sha256_prefix": prefix_of(hash), "expires_at": expires_at,
            }),
        };
        self.audited(&event, now, |tx| {
            tx.execute(
                "INSERT INTO admin_tokens (hash, role, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hash) DO NOTHING",
                sql_params![hash, role, now, expires_at],
            )?;
            Ok(())
        })
    }

    /// The role of the token with this hash, unless it is unknown, expired
    /// or revoked; the attempt is audited, successful or not (with only a
    /// prefix of the hash).
    pub fn admin_login(&mut self, hash: &str, now: i64) -> anyhow::Result<Option<String>> {
        let found = self.db.query_opt(
            "SELECT role, expires_at, revoked_at FROM admin_tokens WHERE hash = ?1",
            sql_params![hash],
            |r| Ok((r.get::<String>(0)?, r.get::<Option<i64>>(1)?, r.get::<Option<i64>>(2)?)),
        )?;
        let refused = match &found {
            None => Some("unknown"),
            Some((_, expires_at, revoked_at)) => refusal(*expires_at, *revoked_at, now),
        };
        let role = found.map(|(role, _, _)| role);
        let event = audit::Event {
            kind: "admin.login",
            actor: role.as_deref().unwrap_or("unknown"),
            detail: serde_json::json!({
                "ok": refused.is_none(), "refused": refused, "token_sha256_prefix": prefix_of(hash),
            }),
        };
        self.audited(&event, now, |_| Ok(()))?;
        Ok(role.filter(|_| refused.is_none()))
    }

    /// Every token, oldest first.
    pub fn admin_tokens(&mut self) -> anyhow::Result<Vec<AdminToken>> {
        Ok(self.admin_tokens_with_hashes()?.into_iter().map(|(_, token)| token).collect())
    }

    /// Revokes the one token whose hash starts with `prefix` (hex, at
    /// least [`MIN_REVOKE_PREFIX`] characters), audited.
    pub fn revoke_admin_token(&mut self, prefix: &str, now: i64) -> anyhow::Result<TokenRevocation> {
        let prefix = prefix.to_ascii_lowercase();
        anyhow::ensure!(
            prefix.len() >= MIN_REVOKE_PREFIX && prefix.bytes().all(|b| b.is_ascii_hexdigit()),
            "a token is named by at least {MIN_REVOKE_PREFIX} hex characters of its hash, as `admin-token list` shows"
        );
        let matching: Vec<(String, AdminToken)> = self
            .admin_tokens_with_hashes()?
            .into_iter()
            .filter(|(hash, _)| hash.starts_with(&prefix))
            .collect();
        let (hash, token) = match <[_; 1]>::try_from(matching) {
            Ok([one]) => one,
            Err(matching) if matching.is_empty() => return Ok(TokenRevocation::NotFound),
            Err(matching) => return Ok(TokenRevocation::Ambiguous(matching.len())),
        };
        if token.revoked_at.is_some() {
            return Ok(TokenRevocation::AlreadyRevoked(token));
        }
        let event = audit::Event {
            kind: "admin.token_revoke",
            actor: "cli",
            detail: serde_json::json!({"role": token.role, "token_sha256_prefix": token.prefix}),
        };
        self.audited(&event, now, |tx| {
            tx.execute(
                "UPDATE admin_tokens SET revoked_at = ?1 WHERE hash = ?2",
                sql_params![now, hash.as_str()],
            )?;
            Ok(())
        })?;
        Ok(TokenRevocation::Revoked(AdminToken { revoked_at: Some(now), ..token }))
    }

    fn admin_tokens_with_hashes(&mut self) -> anyhow::Result<Vec<(String, AdminToken)>> {
        self.db.query(
            "SELECT hash, role, created_at, expires_at, revoked_at FROM admin_tokens ORDER BY created_at, hash",
            sql_params![],
            |r| {
                let hash: String = r.get(0)?;
                let token = AdminToken {
                    prefix: prefix_of(&hash).to_owned(),
                    role: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                };
                Ok((hash, token))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_refused_once_revoked_or_expired() {
        assert_eq!(refusal(None, None, 100), None);
        assert_eq!(refusal(Some(101), None, 100), None);
        assert_eq!(refusal(Some(100), None, 100), Some("expired"));
        assert_eq!(refusal(Some(101), Some(50), 100), Some("revoked"));
    }
}
