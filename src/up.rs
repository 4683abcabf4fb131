//! Assembling services: everything in one process (`up`), or one service
//! alone from a TOML file.

use anyhow::Context;
use cartorio_control::paths::{DataDir, write_private, write_public};
use cartorio_control::presigner::OcspPolicy;
use cartorio_control::{Control, ControlConfig, ControlFile};
use cartorio_gateway::GatewayConfig;
use cartorio_pkix::hash::HashAlg;
use cartorio_platform::access_log::AccessLog;
use cartorio_platform::rounds::Reload;
use cartorio_platform::store::StoreConfig;
use cartorio_platform::tls::TlsFiles;
use cartorio_platform::{Shutdown, config::load_toml, http::bind, telemetry};
use cartorio_responder::tsa::{ClockPolicy, TsaConfig};
use cartorio_responder::{ResponderConfig, TlsListen};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args)]
pub struct UpArgs {
    #[arg(long, default_value = "./cartorio-data")]
    data_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8080")]
    responder_listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8090")]
    gateway_listen: SocketAddr,
    /// The responder over TLS (HTTP/2 by ALPN), certificate from the demo CA.
    #[arg(long, default_value = "127.0.0.1:8443")]
    responder_tls_listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8070")]
    control_listen: SocketAddr,
    /// The ACME server (RFC 8555), over TLS with the responder's certificate.
    #[arg(long, default_value = "127.0.0.1:8444")]
    acme_listen: SocketAddr,
    /// ACME validation connects to this address for every DNS name instead
    /// of resolving it (tests and local try-outs).
    #[arg(long)]
    acme_resolve: Option<std::net::IpAddr>,
    /// The DNS server ACME validation asks (A/AAAA, and TXT for dns-01);
    /// default: the system's.
    #[arg(long)]
    acme_dns_server: Option<SocketAddr>,
    /// The port http-01 validation connects to.
    #[arg(long, default_value_t = 80)]
    acme_http_port: u16,
    /// The port tls-alpn-01 validation connects to.
    #[arg(long, default_value_t = 443)]
    acme_tls_port: u16,
    /// ACME accounts need an external account binding (`cartorio acme eab create`).
    #[arg(long)]
    acme_external_account_required: bool,
    /// nextUpdate - thisUpdate of pre-signed OCSP responses, in seconds.
    #[arg(long, default_value_t = 4 * 24 * 3600)]
    ocsp_validity_secs: i64,
    /// CertID hash algorithms OCSP responses are pre-signed for (any of
    /// sha1, sha256, sha384, sha512). A request hashed otherwise is
    /// answered `unauthorized`: clients match the whole CertID.
    #[arg(long, value_delimiter = ',', default_value = "sha1,sha256", value_parser = parse_hash)]
    ocsp_cert_id_hashes: Vec<HashAlg>,
    /// Accuracy stated in time-stamp tokens; the TSA refuses
    /// (timeNotAvailable) while the kernel's clock error may exceed it.
    #[arg(long, default_value_t = 1000)]
    tsa_accuracy_ms: u64,
    /// Dangerous: issue time-stamps even when the kernel does not report the
    /// clock as synchronised (for hosts disciplined by other means, and tests).
    #[arg(long)]
    danger_tsa_trust_system_clock: bool,
    /// Acknowledge time-stamps once their log record reaches the OS (survives
    /// a process crash) instead of the disk (survives a power loss).
    #[arg(long)]
    tsa_log_no_sync: bool,
    /// Also serve time-stamps on a listener of their own (`POST /`).
    #[arg(long)]
    tsa_listen: Option<SocketAddr>,
    /// Also serve `/metrics` and `/healthz` on a listener of their own (the
    /// process's metrics, every service's). The other listeners keep
    /// serving `/metrics` while they are on loopback.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Access log of every listener: `all`, `refusals` or `off`. Default:
    /// `refusals` on the OCSP and TSA listeners (the hot paths), `all` on
    /// the gateway, the control API and ACME.
    #[arg(long)]
    access_log: Option<AccessLog>,
    /// Dangerous: issue Cartorio's own certificates (OCSP signer, TSA,
    /// responder TLS) for this many seconds, to watch them renewed (at two
    /// thirds of it) in minutes. Caps OCSP responses' validity with it.
    #[arg(long)]
    danger_own_certificate_lifetime_secs: Option<i64>,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    telemetry::prometheus();
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals()?;
    let dir = DataDir::new(&args.data_dir);

    // Bind first: the real addresses go into the certificates' AIA and the
    // endpoints file the CLI reads.
    let control_listener = bind(args.control_listen, "control").await.context("binding the control API")?;
    let responder_listener =
        bind(args.responder_listen, "responder").await.context("binding the responder")?;
    let gateway_listener = bind(args.gateway_listen, "gateway").await.context("binding the gateway")?;
    let tls_listener =
        bind(args.responder_tls_listen, "responder-tls").await.context("binding the responder's TLS port")?;
    let acme_listener = bind(args.acme_listen, "acme").await.context("binding the ACME port")?;
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(bind(addr, "metrics").await.context("binding the metrics port")?),
        None => None,
    };
    let responder_addr = responder_listener.local_addr()?;

    let mut config = ControlConfig::embedded(dir.clone());
    if let Some(secs) = args.danger_own_certificate_lifetime_secs {
        anyhow::ensure!(secs >= 3, "--danger-own-certificate-lifetime-secs must be at least 3");
        config.own_certificates = cartorio_control::renewal::Lifetimes::all(secs);
    }
    config.ocsp_url = format!("http://{responder_addr}");
    config.ocsp = OcspPolicy {
        validity_secs: args.ocsp_validity_secs,
        cert_id_hashes: args.ocsp_cert_id_hashes.clone(),
        ..OcspPolicy::default()
    };
    config.acme = Some(acme_config(&args, &dir, acme_listener.local_addr()?));
    if let Some(mode) = args.access_log {
        config.access_log = mode;
    }
    let control = Control::open(config, true)?;
    let acme = control.acme(acme_listener.local_addr()?)?.context("the ACME server")?;

    let endpoints = serde_json::json!({
        "control": control_listener.local_addr()?.to_string(),
        "responder": responder_addr.to_string(),
        "gateway": gateway_listener.local_addr()?.to_string(),
        "responder_tls": tls_listener.local_addr()?.to_string(),
        "acme": acme.urls().directory(),
    });
    write_public(&dir.endpoints(), endpoints.to_string().as_bytes())?;
    let (mut gateway, demo_key) = demo_gateway(&dir)?;

    // The pre-signer wakes the responder after each publication and waits
    // for it to serve what was published.
    let reload = Arc::new(Reload::default());
    let mut responder = ResponderConfig::embedded(StoreConfig::Local { path: dir.store() });
    let mut tsa = TsaConfig::new(dir.tsa_key(), dir.tsa_chain(), dir.tsa_log());
    tsa.accuracy_ms = args.tsa_accuracy_ms;
    tsa.danger_trust_system_clock = args.danger_tsa_trust_system_clock;
    tsa.listen = args.tsa_listen;
    tsa.log_sync = !args.tsa_log_no_sync;
    if let Some(mode) = args.access_log {
        (responder.access_log, tsa.access_log, gateway.access_log) = (mode, mode, mode);
    }
    responder.tsa = Some(tsa);
    responder.tls = Some(TlsListen {
        listen: tls_listener.local_addr()?,
        files: TlsFiles { cert: dir.responder_tls_chain(), key: dir.responder_tls_key(), client_ca: None },
        http3: true,
    });
    let responder = cartorio_responder::Checked::new(responder)?;
    let gateway = cartorio_gateway::Checked::new(gateway)?;
    let clock = ClockPolicy::new(args.tsa_accuracy_ms, args.danger_tsa_trust_system_clock);
    print_welcome(&dir, &endpoints, &demo_key, &clock.state().describe(clock));
    let mut services = tokio::task::JoinSet::new();
    services.spawn(cartorio_responder::run(
        responder,
        responder_listener,
        Some(tls_listener),
        reload.clone(),
        shutdown.clone(),
    ));
    services.spawn(cartorio_gateway::run(gateway, gateway_listener, shutdown.clone()));
    services.spawn({
        let (control, shutdown) = (control.clone(), shutdown.clone());
        async move { control.run(control_listener, reload, shutdown).await }
    });
    services.spawn(acme.serve(acme_listener, shutdown.clone()));
    if let Some(listener) = metrics_listener {
        let shutdown = shutdown.clone();
        services.spawn(async move {
            cartorio_platform::http::serve_metrics(listener, shutdown).await;
            Ok(())
        });
    }
    // The first service to end (shutdown, or an error) stops the others;
    // each then drains its requests in flight.
    let mut result = Ok(());
    while let Some(done) = services.join_next().await {
        shutdown.trigger();
        if let Err(error) = done.map_err(anyhow::Error::from).and_then(|r| r) {
            tracing::error!(error = format!("{error:#}"), "a service failed");
            result = Err(error);
        }
    }
    let _ = std::fs::remove_file(dir.endpoints());
    result
}

fn print_welcome(dir: &DataDir, endpoints: &serde_json::Value, demo_key: &str, tsa_clock: &str) {
    let root = dir.root().display();
    let at = |k: &str| endpoints.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    // On stdout: stderr carries the logs (JSON lines for a shipper).
    println!(
        "\nCartorio is up.\n  OCSP responder  http://{}/  (and /ocsp), https://{}/ (HTTP/2 by ALPN)\n  \
         time-stamps     http://{}/tsa: {tsa_clock}\n  \
         readiness       http://{}/readyz\n  gateway         http://{}/v1/ingest/{{stream}}\n  \
         control API     http://{}/v1/certificates\n  \
         ACME            {} (certbot/lego: --server this, trusting {root}/pki/root.pem)\n  CA certificates {root}/pki/root.pem, {root}/pki/issuer.pem\n  \
         admin token     {root}/control/admin-token, e.g.\n    \
         curl -H \"Authorization: Bearer $(cat {root}/control/admin-token)\" http://{}/v1/certificates/SERIAL\n  \
         demo API key    {demo_key}  (also in {root}/gateway/demo-api-key), e.g.\n    \
         curl -H \"Authorization: Bearer {demo_key}\" -H 'Content-Type: application/json' \\\n      \
         -d '{{\"id\":\"e1\",\"ts\":\"2026-11-21T10:00:00Z\",\"source\":\"cli\",\"message\":\"hello\"}}' http://{}/v1/ingest/demo\n",
        at("responder"),
        at("responder_tls"),
        at("responder"),
        at("responder"),
        at("gateway"),
        at("control"),
        at("acme"),
        at("control"),
        at("gateway"),
    );
}

/// What every service run alone starts with (logs are `main`'s): metrics, its TOML file,
/// and a shutdown that SIGINT/SIGTERM trigger.
fn start_alone<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<(T, Shutdown)> {
    telemetry::prometheus();
    let config = load_toml(path)?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals()?;
    Ok((config, shutdown))
}

/// `metrics_listen` of a service run alone: a listener of its own for `/metrics`.
async fn spawn_metrics_listener(addr: Option<SocketAddr>, shutdown: &Shutdown) -> anyhow::Result<()> {
    if let Some(addr) = addr {
        let listener = bind(addr, "metrics").await?;
        tokio::spawn(cartorio_platform::http::serve_metrics(listener, shutdown.clone()));
    }
    Ok(())
}

pub async fn run_responder(path: &Path) -> anyhow::Result<()> {
    let (config, shutdown): (ResponderConfig, _) = start_alone(path)?;
    let (listen, metrics_listen) = (config.listen, config.metrics_listen);
    let checked = cartorio_responder::Checked::new(config)?;
    let listener = bind(listen, "responder").await?;
    spawn_metrics_listener(metrics_listen, &shutdown).await?;
    cartorio_responder::run(checked, listener, None, Arc::default(), shutdown).await
}

pub async fn run_gateway(path: &Path) -> anyhow::Result<()> {
    let (mut config, shutdown): (GatewayConfig, _) = start_alone(path)?;
    config.reload_from = Some(path.to_owned());
    let listen = config.listen;
    let checked = cartorio_gateway::Checked::new(config)?;
    cartorio_gateway::run(checked, bind(listen, "gateway").await?, shutdown).await
}

/// The gateway `up` runs: the `demo` stream, its schema written beside the
/// data, and a demo API key made on first start (`DIR/gateway/demo-api-key`,
/// mode 0600; only its hash is configured).
fn demo_gateway(dir: &DataDir) -> anyhow::Result<(GatewayConfig, String)> {
    let gateway_dir = dir.root().join("gateway");
    let key_file = gateway_dir.join("demo-api-key");
    let key = match std::fs::read_to_string(&key_file) {
        Ok(key) => key.trim().to_owned(),
        Err(_) => {
            let key = random_key()?;
            write_private(&key_file, format!("{key}\n").as_bytes())
                .with_context(|| format!("writing {}", key_file.display()))?;
            key
        }
    };
    let schema = gateway_dir.join("demo-schema.json");
    write_public(&schema, cartorio_gateway::config::DEMO_SCHEMA.as_bytes())?;
    let (kek, old_keks) = crate::gateway_cmd::demo_keks(dir);
    if !kek.exists() {
        write_private(&kek, cartorio_gateway::envelope::Kek::generate_hex()?.as_bytes())
            .with_context(|| format!("writing {}", kek.display()))?;
    }
    let store = StoreConfig::Local { path: dir.store() };
    Ok((GatewayConfig::demo(store, cartorio_gateway::auth::key_sha256(&key), schema, kek, old_keks), key))
}

fn random_key() -> anyhow::Result<String> {
    Ok(format!("cart_demo_{}", crate::gateway_cmd::random_hex(24)?))
}

/// `[acme]` as `up`'s flags set it: the responder's TLS certificate (for
/// localhost and 127.0.0.1, from the demo CA), validation as asked.
fn acme_config(args: &UpArgs, dir: &DataDir, bound: SocketAddr) -> cartorio_control::acme::AcmeConfig {
    let mut acme = cartorio_control::acme::AcmeConfig::embedded(
        bound,
        dir.responder_tls_chain(),
        dir.responder_tls_key(),
    );
    acme.external_account_required = args.acme_external_account_required;
    acme.validation.resolve = args.acme_resolve;
    acme.validation.dns_server = args.acme_dns_server;
    acme.validation.http_port = args.acme_http_port;
    acme.validation.tls_port = args.acme_tls_port;
    if let Some(mode) = args.access_log {
        acme.access_log = mode;
    }
    acme
}

fn parse_hash(name: &str) -> Result<HashAlg, String> {
    HashAlg::from_name(name).ok_or_else(|| format!("{name:?} is not one of sha1, sha256, sha384, sha512"))
}

pub async fn run_control(path: &Path) -> anyhow::Result<()> {
    let (file, shutdown): (ControlFile, _) = start_alone(path)?;
    let metrics_listen = file.metrics_listen;
    let (listen, config) = file.into_config();
    let acme_listen = config.acme.as_ref().map(|acme| acme.listen);
    let control = Control::open(config, true)?;
    spawn_metrics_listener(metrics_listen, &shutdown).await?;
    let listener = bind(listen, "control").await?;
    if let Some(addr) = acme_listen {
        let acme_listener = bind(addr, "acme").await.context("binding the ACME port")?;
        let acme = control.acme(acme_listener.local_addr()?)?.context("the ACME server")?;
        tokio::spawn(acme.serve(acme_listener, shutdown.clone()));
    }
    control.run(listener, Arc::default(), shutdown).await
}

/// `cartorio control --config FILE --init`: the CA, registry and admin
/// token of a first start, and nothing served (the store is not touched).
pub async fn init_control(path: &Path) -> anyhow::Result<()> {
    let file: ControlFile = load_toml(path)?;
    let (_, config) = file.into_config();
    let dir = config.data_dir.root().display().to_string();
    Control::open(config, true)?;
    println!("control plane initialised in {dir}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config-examples").join(name)
    }

    #[test]
    fn documented_config_examples_parse() {
        let responder: ResponderConfig = load_toml(&example("responder.toml")).expect("responder.toml");
        assert_eq!(responder.max_request_bytes, 10_000);
        assert_eq!(responder.tsa.as_ref().map(|t| t.accuracy_ms), Some(1000));
        let control: ControlFile = load_toml(&example("control.toml")).expect("control.toml");
        assert_eq!(control.ocsp_validity_secs, 4 * 24 * 3600);
        let gateway: GatewayConfig = load_toml(&example("gateway.toml")).expect("gateway.toml");
        assert_eq!(gateway.listen.port(), 8090);
        assert_eq!(gateway.streams[0].name, "events");
        let exclusions = gateway.streams[0].waf.exclusions().expect("the example's exclusions are valid");
        assert!(!exclusions.is_empty());
    }

    #[test]
    fn docker_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/config");
        load_toml::<ResponderConfig>(&dir.join("responder.toml")).expect("responder.toml");
        load_toml::<ControlFile>(&dir.join("control.toml")).expect("control.toml");
        load_toml::<GatewayConfig>(&dir.join("gateway.toml")).expect("gateway.toml");
    }
}
