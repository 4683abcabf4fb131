//! Counters and fixed-bucket histograms for the per-request hot paths.
//!
//! The Prometheus exporter's histogram queues every sample in a shared,
//! lock-free list folded into buckets later, and its counters are one
//! atomic shared by every serving thread: measured under `wrk` against the
//! OCSP responder, recording three histograms and two counters per request
//! took about 5% of the responder's CPU, most of it cache lines moving
//! between cores. Here each series keeps one shard per thread slot (padded
//! to its own cache lines), a write touches only the writer's shard, and a
//! scrape sums the shards. The exposition is appended to the exporter's by
//! [`crate::telemetry::render_metrics`]; a name lives in one or the other.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Thread slots per series (a power of two). Serving runs one thread per
/// core; threads beyond this share slots, which stays correct (atomics).
const SHARDS: usize = 16;
/// Most buckets a histogram may have (bounds, plus one for +Inf).
pub const MAX_BOUNDS: usize = 20;

/// One thread slot's counts: `cells[i]` counts observations in bucket `i`
/// (`cells[bounds.len()]` is +Inf); `sum` holds the f64 sum's bits.
#[repr(align(128))]
struct Shard {
    cells: [AtomicU64; MAX_BOUNDS + 1],
    sum: AtomicU64,
}

impl Shard {
    fn new() -> Self {
        Self { cells: std::array::from_fn(|_| AtomicU64::new(0)), sum: AtomicU64::new(0) }
    }
}

struct Series {
    name: &'static str,
    /// Rendered label pairs without braces: `a="x",b="y"` (may be empty).
    labels: String,
    /// Histogram bucket upper bounds, ascending; empty for a counter.
    bounds: &'static [f64],
    histogram: bool,
    shards: Box<[Shard]>,
}

static REGISTRY: Mutex<Vec<Arc<Series>>> = Mutex::new(Vec::new());
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard index, assigned round-robin on first use.
fn slot() -> usize {
    SLOT.with(|slot| {
        let mut s = slot.get();
        if s == usize::MAX {
            s = NEXT_SLOT.fetch_add(1, Relaxed) % SHARDS;
            slot.set(s);
        }
        s
    })
}

impl Series {
    fn shard(&self) -> &Shard {
        // `shards` has SHARDS entries and `slot()` is below SHARDS.
        &self.shards[slot() % SHARDS]
    }

    fn total(&self, cell: usize) -> u64 {
        self.shards.iter().map(|s| s.cells[cell].load(Relaxed)).sum()
    }
}

/// The registered series for `(name, labels)`, created on first use: two
/// registrations of one series share its counts.
fn register(
    name: &'static str,
    labels: &[(&str, &str)],
    bounds: &'static [f64],
    histogram: bool,
) -> Arc<Series> {
    let labels = render_labels(labels);
    let bounds = &bounds[..bounds.len().min(MAX_BOUNDS)];
    let mut registry = REGISTRY.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(series) = registry.iter().find(|s| s.name == name && s.labels == labels) {
        return series.clone();
    }
    let shards = (0..SHARDS).map(|_| Shard::new()).collect();
    let series = Arc::new(Series { name, labels, bounds, histogram, shards });
    registry.push(series.clone());
    series
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in labels.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let value = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(out, "{sep}{key}=\"{value}\"");
    }
    out
}

/// A monotonic counter.
#[derive(Clone)]
pub struct Counter(Arc<Series>);

impl Counter {
    pub fn register(name: &'static str, labels: &[(&str, &str)]) -> Self {
        Self(register(name, labels, &[], false))
    }

    pub fn increment(&self, by: u64) {
        self.0.shard().cells[0].fetch_add(by, Relaxed);
    }

    pub fn value(&self) -> u64 {
        self.0.total(0)
    }
}

/// A histogram with fixed bucket bounds (at most [`MAX_BOUNDS`]).
#[derive(Clone)]
pub struct Histogram(Arc<Series>);

impl Histogram {
    pub fn register(name: &'static str, labels: &[(&str, &str)], bounds: &'static [f64]) -> Self {
        Self(register(name, labels, bounds, true))
    }

    pub fn record(&self, value: f64) {
        let series = &*self.0;
        // Prometheus buckets are `le`: a value equal to a bound falls in it.
        let bucket = series.bounds.partition_point(|bound| *bound < value);
        let shard = series.shard();
        shard.cells[bucket].fetch_add(1, Relaxed);
        // Only this thread writes this shard (bar slot sharing), so the
        // exchange succeeds the first time.
        let _ =
            shard.sum.fetch_update(Relaxed, Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
    }

    pub fn count(&self) -> u64 {
        (0..=self.0.bounds.len()).map(|cell| self.0.total(cell)).sum()
    }
}

/// Appends the Prometheus text exposition of every series to `out`.
pub fn render(out: &mut String) {
    let registry = REGISTRY.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let mut names: Vec<&'static str> = registry.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let family: Vec<&Arc<Series>> = registry.iter().filter(|s| s.name == name).collect();
        let kind = if family.iter().any(|s| s.histogram) { "histogram" } else { "counter" };
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for series in family {
            render_series(out, series);
        }
        out.push('\n');
    }
}

fn render_series(out: &mut String, series: &Series) {
    let (name, labels) = (series.name, series.labels.as_str());
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    if !series.histogram {
        let _ = writeln!(out, "{name}{braces} {}", series.total(0));
        return;
    }
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (cell, bound) in series.bounds.iter().enumerate() {
        cumulative += series.total(cell);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
    }
    cumulative += series.total(series.bounds.len());
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}");
    let sum: f64 = series.shards.iter().map(|s| f64::from_bits(s.sum.load(Relaxed))).sum();
    let _ = writeln!(out, "{name}_sum{braces} {sum}");
    let _ = writeln!(out, "{name}_count{braces} {cumulative}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered() -> String {
        let mut out = String::new();
        render(&mut out);
        out
    }

    #[test]
    fn histograms_are_cumulative_le_buckets_summed_over_threads() {
        const BOUNDS: &[f64] = &[0.5, 1.0, 2.5];
        let h = Histogram::register("hot_test_seconds", &[("endpoint", "a\"b")], BOUNDS);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || [0.1, 1.0, 2.0, 9.0].iter().for_each(|v| h.record(*v)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().expect("thread"));
        let text = rendered();
        for line in [
            "# TYPE hot_test_seconds histogram",
            "hot_test_seconds_bucket{endpoint=\"a\\\"b\",le=\"0.5\"} 4",
            "hot_test_seconds_bucket{endpoint=\"a\\\"b\",le=\"1\"} 8",
            "hot_test_seconds_bucket{endpoint=\"a\\\"b\",le=\"2.5\"} 12",
            "hot_test_seconds_bucket{endpoint=\"a\\\"b\",le=\"+Inf\"} 16",
            "hot_test_seconds_sum{endpoint=\"a\\\"b\"} 48.4",
            "hot_test_seconds_count{endpoint=\"a\\\"b\"} 16",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert_eq!(h.count(), 16);
    }

    #[test]
    fn registering_a_series_twice_shares_it() {
        let a = Counter::register("hot_test_total", &[("outcome", "good")]);
        let b = Counter::register("hot_test_total", &[("outcome", "good")]);
        let other = Counter::register("hot_test_total", &[("outcome", "bad")]);
        a.increment(2);
        b.increment(3);
        assert_eq!((a.value(), other.value()), (5, 0));
        let text = rendered();
        assert_eq!(text.matches("# TYPE hot_test_total counter").count(), 1, "{text}");
        assert!(text.contains("hot_test_total{outcome=\"good\"} 5\n"), "{text}");
        assert!(text.contains("hot_test_total{outcome=\"bad\"} 0\n"), "{text}");
    }
}
