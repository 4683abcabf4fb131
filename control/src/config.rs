//! The control plane's configuration: the TOML of `cartorio control
//! --config FILE` ([`ControlFile`]) and what the services run with
//! ([`ControlConfig`], which `cartorio up` builds for itself).

use crate::paths::DataDir;
use crate::presigner::OcspPolicy;
use crate::profile::ProfileConfig;
use cartorio_pkix::hash::HashAlg;
use cartorio_platform::access_log::AccessLog;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub data_dir: DataDir,
    /// The OCSP URL written into issued certificates (AIA).
    pub ocsp_url: String,
    /// Where `/crl/{issuer}.crl` and `/ca/{issuer}.cer` are served, written
    /// into issued certificates (CRLDP, AIA caIssuers); `None`: `ocsp_url`.
    pub revocation_base_url: Option<String>,
    pub ocsp: OcspPolicy,
    /// The registry's PostgreSQL URL; `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    /// CRL shards besides the full CRL; `None`: the full CRL only.
    pub crl_sharding: Option<crate::crl::CrlSharding>,
    /// The admin API over TLS with client certificates; `None`: plain HTTP
    /// on loopback, bearer tokens only.
    pub admin_tls: Option<crate::admin::AdminTls>,
    /// Where OCSP segments, manifests, CRLs and audit checkpoints are
    /// published; `None`: `DIR/store`.
    pub store: Option<cartorio_platform::store::StoreConfig>,
    /// Lifetimes of the certificates Cartorio issues to itself.
    pub own_certificates: crate::renewal::Lifetimes,
    /// Certificate profiles; empty: the built-ins.
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// The ACME server; `None`: none.
    pub acme: Option<crate::acme::AcmeConfig>,
    /// Access log of the admin API listener.
    pub access_log: AccessLog,
}

impl ControlConfig {
    pub fn embedded(data_dir: DataDir) -> Self {
        Self {
            data_dir,
            ocsp_url: "http://127.0.0.1:8080".into(),
            revocation_base_url: None,
            ocsp: OcspPolicy::default(),
            database_url: None,
            crl_sharding: None,
            admin_tls: None,
            store: None,
            own_certificates: crate::renewal::Lifetimes::default(),
            profiles: BTreeMap::new(),
            acme: None,
            access_log: AccessLog::All,
        }
    }

    /// Where certificates point relying parties.
    pub fn urls(&self) -> crate::issuance::Urls {
        crate::issuance::Urls {
            ocsp: self.ocsp_url.clone(),
            revocation_base: self.revocation_base_url.clone().unwrap_or_else(|| self.ocsp_url.clone()),
        }
    }
}

/// `cartorio control --config FILE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlFile {
    pub listen: SocketAddr,
    /// Also serve `/metrics` (and `/healthz`) on this address, for a
    /// scraper on a private network.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub ocsp_url: String,
    /// Base URL of `/crl/...` and `/ca/...` (absent: `ocsp_url`).
    #[serde(default)]
    pub revocation_base_url: Option<String>,
    #[serde(default = "default_validity")]
    pub ocsp_validity_secs: i64,
    /// CertID hashes responses are pre-signed for (default sha1, sha256).
    #[serde(default = "default_cert_id_hashes")]
    pub ocsp_cert_id_hashes: Vec<HashAlg>,
    /// The registry's PostgreSQL URL; absent: SQLite in `data_dir`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// CRL shards by serial besides the full CRL (`[crl] shards`, `url`).
    #[serde(default)]
    pub crl: Option<crate::crl::CrlSharding>,
    /// The admin API over TLS, client certificates mapped to roles.
    #[serde(default)]
    pub admin_tls: Option<crate::admin::AdminTls>,
    /// Where to publish (`[store]`, as the responder's); absent: `data_dir/store`.
    #[serde(default)]
    pub store: Option<cartorio_platform::store::StoreConfig>,
    /// Lifetimes of Cartorio's own certificates (`[own_certificates]`).
    #[serde(default)]
    pub own_certificates: crate::renewal::Lifetimes,
    /// Certificate profiles (`[profiles.NAME]`); absent: the built-ins.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// The ACME server (`[acme]`); absent: none.
    #[serde(default)]
    pub acme: Option<crate::acme::AcmeConfig>,
    /// Access log of the admin API: `all` (default), `refusals` or `off`.
    #[serde(default = "all_requests")]
    pub access_log: AccessLog,
}

fn all_requests() -> AccessLog {
    AccessLog::All
}

fn default_validity() -> i64 {
    OcspPolicy::default().validity_secs
}

fn default_cert_id_hashes() -> Vec<HashAlg> {
    OcspPolicy::default().cert_id_hashes
}

impl ControlFile {
    /// The listener address and what the services run with.
    pub fn into_config(self) -> (SocketAddr, ControlConfig) {
        let config = ControlConfig {
            data_dir: DataDir::new(self.data_dir),
            ocsp_url: self.ocsp_url,
            revocation_base_url: self.revocation_base_url,
            ocsp: OcspPolicy {
                validity_secs: self.ocsp_validity_secs,
                cert_id_hashes: self.ocsp_cert_id_hashes,
                ..OcspPolicy::default()
            },
            database_url: self.database_url,
            crl_sharding: self.crl,
            admin_tls: self.admin_tls,
            store: self.store,
            own_certificates: self.own_certificates,
            profiles: self.profiles,
            acme: self.acme,
            access_log: self.access_log,
        };
        (self.listen, config)
    }
}
