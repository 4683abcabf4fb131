//! How to reach a token: module path, token label, where the PIN is.

use anyhow::Context;
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[hsm]` table of the control plane's and the ceremony's TOML.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HsmConfig {
    /// The PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The label of the token (`softhsm2-util --init-token --label`).
    pub token_label: String,
    /// A file whose first line is the user PIN (mode 0600 is the operator's
    /// business; the PIN is never logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_file: Option<PathBuf>,
    /// Or: the environment variable that holds the user PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_env: Option<String>,
    /// At most this many sessions (default: one per CPU), and never more
    /// than the token allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<usize>,
}

impl HsmConfig {
    /// The `[hsm]` table of any of our TOML files (`DIR/pki/hsm.toml`, a
    /// ceremony or a control plane configuration).
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct WithHsm {
            hsm: HsmConfig,
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let hsm = table.get("hsm").with_context(|| format!("{} has no [hsm] table", path.display()))?;
        Ok(WithHsm { hsm: hsm.clone().try_into().with_context(|| format!("[hsm] of {}", path.display()))? }
            .hsm)
    }

    /// Reads the user PIN from `pin_file` or `pin_env`.
    pub fn pin(&self) -> anyhow::Result<AuthPin> {
        let pin = match (&self.pin_file, &self.pin_env) {
            (Some(path), None) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                text.lines().next().unwrap_or_default().trim().to_owned()
            }
            (None, Some(var)) => std::env::var(var).with_context(|| format!("{var} is not set"))?,
            _ => anyhow::bail!("[hsm] needs exactly one of pin_file and pin_env"),
        };
        anyhow::ensure!(!pin.is_empty(), "the HSM PIN is empty");
        Ok(AuthPin::from(pin))
    }

    /// Sessions wanted before the token's own limit applies.
    pub fn wanted_sessions(&self) -> usize {
        self.sessions
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config(pin_file: Option<PathBuf>, pin_env: Option<String>) -> HsmConfig {
        HsmConfig {
            module: "/nonexistent.so".into(),
            token_label: "t".into(),
            pin_file,
            pin_env,
            sessions: None,
        }
    }

    #[test]
    fn the_pin_is_the_first_line_of_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pin");
        std::fs::write(&path, "1234\nignored\n").expect("write");
        let pin = config(Some(path), None).pin().expect("pin");
        assert_eq!(pin.expose_secret(), "1234");
    }

    #[test]
    fn exactly_one_pin_source_is_required() {
        assert!(config(None, None).pin().is_err());
        assert!(config(Some("/a".into()), Some("B".into())).pin().is_err());
    }

    #[test]
    fn an_empty_pin_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pin");
        std::fs::write(&path, "\n").expect("write");
        assert!(config(Some(path), None).pin().is_err());
    }
}
