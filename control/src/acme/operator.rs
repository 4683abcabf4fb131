//! What operators do to ACME from the CLI: create external account binding
//! keys, and ask clients (through ARI) to renew early.

use super::random_id;
use crate::Control;
use cartorio_platform::clock::unix_seconds;

/// An external account binding key: its id and the HMAC key (base64url),
/// which is shown once and given to the client (`--eab-kid`, `--eab-hmac-key`).
pub struct EabKey {
    pub kid: String,
    pub hmac_key: String,
}

impl Control {
    /// Creates an EAB key (audited, by its id only); `kid` names it, or a
    /// random id does.
    pub async fn acme_eab_create(&self, kid: Option<String>) -> anyhow::Result<EabKey> {
        let kid = match kid {
            Some(kid) => {
                anyhow::ensure!(
                    !kid.is_empty()
                        && kid.len() <= 64
                        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                    "an EAB key id is 1 to 64 letters, digits, '-', '_' or '.'"
                );
                kid
            }
            None => format!("kid-{}", random_id(9)?),
        };
        let hmac_key = random_id(32)?;
        let (id, key) = (kid.clone(), hmac_key.clone());
        self.with_registry(move |r, _| r.acme_add_eab_key(&id, &key, unix_seconds())).await??;
        Ok(EabKey { kid, hmac_key })
    }

    /// Asks ACME clients to renew `serial` (hex), or with `None` every
    /// certificate issued so far, now (audited).
    pub async fn acme_renew_early(&self, serial: Option<String>) -> anyhow::Result<()> {
        let serial = match serial {
            Some(text) => Some(
                crate::normalize_serial(&text)
                    .ok_or_else(|| anyhow::anyhow!("{text:?} is not a hex serial"))?,
            ),
            None => None,
        };
        self.with_registry(move |r, _| r.acme_request_renewal(serial.as_deref(), unix_seconds())).await?
    }
}
