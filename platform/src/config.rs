//! TOML configuration files for the services run alone.

use anyhow::Context;
use serde::de::DeserializeOwned;
use std::path::Path;

pub fn load_toml<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading configuration {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing configuration {}", path.display()))
}
