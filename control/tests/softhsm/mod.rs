//! The SoftHSM2 token `scripts/test.sh` creates (and names in the
//! environment) for the PKCS#11 tests.

use cartorio_control::hsm::{HsmConfig, Token};
use std::sync::Arc;

/// The token's configuration, or `None` (with a notice) outside the script.
pub fn config() -> Option<HsmConfig> {
    let module = std::env::var("CARTORIO_TEST_PKCS11_MODULE").ok();
    let label = std::env::var("CARTORIO_TEST_HSM_TOKEN").ok();
    match (module, label) {
        (Some(module), Some(token_label)) => Some(HsmConfig {
            module: module.into(),
            token_label,
            pin_file: None,
            pin_env: Some("CARTORIO_TEST_HSM_PIN".into()),
            sessions: None,
        }),
        _ => {
            eprintln!("SKIPPED: no SoftHSM2 token; run scripts/test.sh, which creates one");
            None
        }
    }
}

pub fn token() -> Option<Arc<Token>> {
    config().map(|config| Arc::new(Token::open(config).expect("open the SoftHSM2 token")))
}

/// A label no other test (or earlier run) uses.
pub fn fresh_label(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}
