//! What a gateway enforces, compiled from its TOML: the streams and the API
//! keys. Swapped whole on SIGHUP (`reload`), so a request sees one policy.

use crate::{GatewayConfig, auth, config, forward, instruments, netlist, ratelimit, usage, validate, waf};
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WafMode {
    Block,
    DetectOnly,
    Off,
}

/// A stream, compiled from its config.
pub struct Stream {
    pub name: String,
    pub gcra: ratelimit::Gcra,
    pub max_body_bytes: usize,
    pub content_types: Vec<String>,
    pub schema: Option<validate::Schema>,
    pub schema_version: String,
    pub waf_mode: WafMode,
    pub waf_threshold: u32,
    pub waf_limits: waf::extract::InspectionLimits,
    pub waf_exclusions: waf::exclusions::Exclusions,
    pub mtls_identities: Vec<String>,
    /// Forward accepted payloads here instead of storing them.
    pub upstream: Option<forward::Upstream>,
    /// The networks that may (not) post here.
    pub lists: netlist::Lists,
    /// Whether an attack-signature 403 names the rules.
    pub expose_rules: bool,
    pub(crate) metrics: instruments::StreamMetrics,
}

/// The streams by name, the API keys, and the usage plans by key id.
pub struct Policy {
    pub streams: HashMap<String, Stream>,
    pub keys: auth::ApiKeys,
    pub plans: HashMap<String, Arc<usage::Plan>>,
}

impl Policy {
    pub fn build(config: &GatewayConfig) -> anyhow::Result<Self> {
        waf::compile_rules();
        let mut streams = HashMap::new();
        for s in &config.streams {
            if !config::valid_stream_name(&s.name) {
                bail!("stream name {:?} must be 1 to 64 of a-z 0-9 _ -", s.name);
            }
            if s.rate_per_sec.is_nan() || s.rate_per_sec <= 0.0 || s.burst == 0 {
                bail!("stream {}: rate_per_sec and burst must be positive", s.name);
            }
            let schema = match &s.schema_file {
                Some(path) => {
                    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                    let json = serde_json::from_slice(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?;
                    Some(validate::Schema::compile(&json).with_context(|| format!("stream {}", s.name))?)
                }
                None => None,
            };
            let waf_mode = match s.waf.mode.as_str() {
                "block" => WafMode::Block,
                "detect" => WafMode::DetectOnly,
                "off" => WafMode::Off,
                other => bail!("stream {}: waf mode {other:?} (block, detect, off)", s.name),
            };
            let content_types: Vec<String> =
                s.content_types.iter().map(|t| validate::media_type(t)).collect();
            if let Some(never) = content_types.iter().find(|t| !validate::recognisable(t)) {
                bail!(
                    "stream {}: content type {never:?} has no magic number the content check knows, and is not \
                     text, a form or multipart: every body would be refused 415 (list application/octet-stream \
                     for opaque bytes)",
                    s.name
                );
            }
            if !(1..=waf::extract::JSON_NESTING).contains(&s.waf.max_depth) {
                bail!("stream {}: waf max_depth must be 1 to {}", s.name, waf::extract::JSON_NESTING);
            }
            let stream = Stream {
                name: s.name.clone(),
                gcra: ratelimit::Gcra::new(s.rate_per_sec, s.burst),
                max_body_bytes: s.max_body_bytes,
                content_types,
                schema,
                schema_version: s.schema_version.clone(),
                waf_mode,
                waf_threshold: s.waf.threshold,
                waf_limits: s.waf.limits(),
                waf_exclusions: s
                    .waf
                    .exclusions()
                    .map_err(|e| anyhow::anyhow!("stream {}: waf {e}", s.name))?,
                mtls_identities: s.mtls_identities.clone(),
                upstream: s.upstream.as_ref().map(forward::Upstream::new).transpose()?,
                lists: netlist::Lists::open(s.allow_file.as_deref(), s.deny_file.as_deref())
                    .with_context(|| format!("stream {}", s.name))?,
                expose_rules: s.expose_rules,
                metrics: instruments::StreamMetrics::register(&s.name),
            };
            if streams.insert(s.name.clone(), stream).is_some() {
                bail!("stream {} is configured twice", s.name);
            }
        }
        let mut named = HashMap::new();
        for plan in &config.plans {
            if named.insert(plan.name.clone(), Arc::new(usage::Plan::new(plan))).is_some() {
                bail!("plan {:?} is configured twice", plan.name);
            }
        }
        let mut plans = HashMap::new();
        for key in &config.api_keys {
            if let Some(unknown) = key.streams.iter().find(|s| !streams.contains_key(*s)) {
                bail!("API key {:?} names an unknown stream {unknown:?}", key.id);
            }
            if let Some(name) = &key.plan {
                let plan =
                    named.get(name).with_context(|| format!("API key {:?}: no plan {name:?}", key.id))?;
                plans.insert(key.id.clone(), plan.clone());
            }
        }
        Ok(Self { streams, keys: auth::ApiKeys::new(&config.api_keys)?, plans })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartorio_platform::store::StoreConfig;

    #[test]
    fn a_stream_listing_a_type_no_body_could_match_does_not_start() {
        let store = StoreConfig::Local { path: "/nonexistent".into() };
        let mut config =
            GatewayConfig::demo(store, "00".repeat(32), Default::default(), Default::default(), vec![]);
        config.streams[0].schema_file = None;
        config.streams[0].content_types = vec!["application/json".into(), "application/cbor".into()];
        let refused = Policy::build(&config).err().expect("refused");
        assert!(format!("{refused:#}").contains("\"application/cbor\""), "{refused:#}");
        config.streams[0].content_types =
            ["application/json", "multipart/form-data; boundary=x", "image/png", "application/octet-stream"]
                .map(String::from)
                .to_vec();
        assert!(Policy::build(&config).is_ok());
    }
}
