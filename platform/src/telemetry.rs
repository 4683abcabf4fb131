//! The Prometheus recorder, installed once per process (logs: [`crate::logging`]).

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds: request latencies and signing times, 50 µs to 2.5 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Histograms that are not request latencies, with buckets in their own units.
const NON_LATENCY_BUCKETS: &[(&str, &[f64])] = &[
    // Tokens per issuance-log commit.
    ("cartorio_tsa_log_batch_size", &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1_024.0]),
    // Seconds to sign, publish and record one pre-signing batch (up to 250,000 certificates).
    ("cartorio_presign_batch_seconds", &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]),
];

/// Seconds since thisUpdate: a minute up to the 10-day ceiling on validity.
pub const RESPONSE_AGE_BUCKETS: &[f64] =
    &[60.0, 300.0, 900.0, 3_600.0, 14_400.0, 43_200.0, 86_400.0, 172_800.0, 345_600.0, 604_800.0, 864_000.0];

/// Octets of a DER OCSP request, up to the default 10,000-octet cap.
pub const REQUEST_BYTES_BUCKETS: &[f64] =
    &[64.0, 96.0, 128.0, 256.0, 512.0, 1_024.0, 2_048.0, 4_096.0, 10_000.0];

/// Installs the global metrics recorder on first use and returns its handle.
pub fn prometheus() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        // Every service installs the recorder as it starts: uptime counts from here.
        let _ = STARTED.set(std::time::Instant::now());
        let builder = bucketed().unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; the handle still
        // renders what this recorder would have seen (nothing), which is honest.
        let _ = metrics::set_global_recorder(recorder);
        spawn_upkeep(handle.clone());
        handle
    })
}

/// A builder with LATENCY_BUCKETS for every histogram but those named in
/// NON_LATENCY_BUCKETS. Fails only on an empty bucket list.
fn bucketed() -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new().set_buckets(LATENCY_BUCKETS)?;
    for (name, buckets) in NON_LATENCY_BUCKETS {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)?;
    }
    Ok(builder)
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Histogram samples queue up until folded into buckets, which a scrape
/// does; without scrapes they would grow with every request (measured: about
/// 60 bytes per OCSP request). A thread folds them every few seconds.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            handle.run_upkeep();
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no metrics upkeep thread: histogram samples are folded only on scrape");
    }
}

/// The Prometheus text exposition of every metric in the process: the
/// process's own (read now), the exporter's, then the hot paths' sharded
/// series.
pub fn render_metrics() -> String {
    let handle = prometheus();
    process_metrics();
    let mut text = handle.render();
    crate::hot_metrics::render(&mut text);
    text
}

/// The build, read by `cartorio_build_info{version,commit}` (always 1):
/// `git rev-parse` at build time, `unknown` outside a checkout.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("CARTORIO_COMMIT");

static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();
static STARTED: OnceLock<std::time::Instant> = OnceLock::new();

/// RSS, CPU seconds, open and maximum file descriptors, threads, start
/// time (the `process_*` series of Prometheus's Go client, from /proc),
/// uptime and the build, refreshed at each scrape. After [`prometheus`]:
/// what is set before the recorder exists goes nowhere.
fn process_metrics() {
    let collector = PROCESS.get_or_init(|| {
        let collector = metrics_process::Collector::default();
        collector.describe();
        metrics::describe_gauge!(
            "cartorio_build_info",
            "The running build: version and git commit (always 1)."
        );
        metrics::describe_gauge!(
            "cartorio_uptime_seconds",
            "Seconds since this process installed its metrics recorder, as it started."
        );
        metrics::gauge!("cartorio_build_info", "version" => VERSION, "commit" => COMMIT).set(1.0);
        collector
    });
    collector.collect();
    let uptime = STARTED.get().map_or(0.0, |started| started.elapsed().as_secs_f64());
    metrics::gauge!("cartorio_uptime_seconds").set(uptime);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_are_bucketed_in_their_own_units() {
        let _ = prometheus();
        metrics::histogram!("cartorio_tsa_log_batch_size").record(3.0);
        metrics::histogram!("test_exporter_latency_seconds").record(0.000_2);
        let text = render_metrics();
        assert!(text.contains("cartorio_tsa_log_batch_size_bucket{le=\"4\"} 1"), "{text}");
        assert!(text.contains("cartorio_tsa_log_batch_size_bucket{le=\"2\"} 0"), "{text}");
        assert!(text.contains("test_exporter_latency_seconds_bucket{le=\"0.00025\"} 1"), "{text}");
    }

    #[test]
    fn process_and_build_series_are_rendered() {
        let text = render_metrics();
        for series in [
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
            "cartorio_uptime_seconds ",
        ] {
            assert!(text.lines().any(|l| l.starts_with(series)), "{series}missing: {text}");
        }
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.trim().parse().ok())
            .expect("RSS");
        assert!(rss > 1_000_000.0, "a test process holds more than 1 MB: {rss}");
        let info = format!("cartorio_build_info{{version=\"{VERSION}\",commit=\"{COMMIT}\"}} 1");
        assert!(text.contains(&info), "{info} missing: {text}");
        assert!(COMMIT == "unknown" || COMMIT.chars().all(|c| c.is_ascii_hexdigit()), "{COMMIT}");
    }

    #[test]
    fn hot_path_series_are_rendered_with_the_exporters() {
        let _ = prometheus();
        crate::hot_metrics::Histogram::register("test_hot_request_bytes", &[], REQUEST_BYTES_BUCKETS)
            .record(100.0);
        let text = render_metrics();
        assert!(text.contains("test_hot_request_bytes_bucket{le=\"128\"} 1"), "{text}");
        assert!(text.contains("test_hot_request_bytes_bucket{le=\"96\"} 0"), "{text}");
    }
}
