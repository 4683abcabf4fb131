//! The WAF's cost per inspected KiB (issue 18): a whole request through
//! `waf::inspect` for bodies of the shapes the gateway sees, and
//! libinjection's detectors alone over the same text. Criterion prints
//! throughput; the cost per KiB is 1 / (KiB/s).
//!
//!     cargo bench -p cartorio-benches --bench waf_inspect

use cartorio_gateway::waf::{self, Location, RequestView, tokenized};
use criterion::{Criterion, Throughput, criterion_group};
use std::hint::black_box;

/// An ingest record of about 1 KiB: ids, names, amounts, a short note.
fn record(i: usize) -> serde_json::Value {
    serde_json::json!({
        "id": format!("rec-{i:06}"),
        "customer": {"name": "Ana O'Brien", "email": "ana.obrien@example.com", "country": "PT"},
        "items": [{"sku": "A-100", "qty": 2, "price": 19.99}, {"sku": "B-7", "qty": 1, "price": 5.0}],
        "note": "Delivered to the side door; please select the express option next time (thanks!).",
        "tags": ["priority", "gift"],
        "source": "https://shop.example.com/orders?id=42&ref=mail",
    })
}

/// The 1 KiB event `benches/gateway_peers.sh` loads the gateway with:
/// short identifiers, a nested object and a sentence-long message.
fn gateway_peers_event() -> Vec<u8> {
    let message = "The customer reviewed the basket, changed the delivery address to the office and \
                   chose the express option before paying with a saved card. Stock was reserved in the \
                   nearest warehouse and the confirmation email was queued for the morning batch. Nothing \
                   unusual was noticed by the fraud checks, and the order moved on to picking and packing \
                   with the usual priority for its region and the carrier chosen by the customer.";
    serde_json::to_vec(&serde_json::json!({
        "id": "evt-000042", "ts": "2026-11-21T10:00:42Z", "source": "catalog-api-0",
        "level": "info", "kind": "order.created",
        "attributes": {"host": "web-6", "region": "eu-central", "customer": "c-04217", "items": 7,
            "total_cents": 12999, "currency": "EUR", "tags": ["promo", "new_customer"],
            "trace_id": "4f1c9a0e7b2d45c8a1e3f5b7d9c0a2e4", "first_order": false},
        "message": message,
    }))
    .expect("json")
}

/// Developer prose of the kind API payloads carry (issue bodies, commit
/// messages), in one JSON document.
fn prose_document(kib: usize) -> Vec<u8> {
    let line = "The build fails on macOS when the project generator writes ../../libs paths; \
                calling ofSetupOpenGL(1024, 768, OF_WINDOW) before the window exists crashes. ";
    let text: String = line.repeat(kib * 1024 / line.len() + 1);
    serde_json::to_vec(&serde_json::json!({"body": text, "title": "Crash on startup"})).expect("json")
}

fn inspect_json(body: &[u8]) -> waf::Inspection {
    let headers = [("host", "localhost"), ("user-agent", "bench")];
    waf::inspect(&RequestView {
        path: Some("/v1/ingest/demo"),
        query: None,
        headers: &headers,
        content_type: Some("application/json"),
        body,
    })
}

fn benches(c: &mut Criterion) {
    waf::compile_rules();
    let one_kib = serde_json::to_vec(&record(1)).expect("json");
    let records: Vec<serde_json::Value> = (0..16).map(record).collect();
    let sixteen_kib = serde_json::to_vec(&records).expect("json");
    let prose = prose_document(16);
    let event = gateway_peers_event();
    let mut group = c.benchmark_group("waf");
    for (name, body) in [
        ("gateway_peers_event", &event),
        ("record_json", &one_kib),
        ("records_json_16", &sixteen_kib),
        ("prose_json_16k", &prose),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| b.iter(|| inspect_json(black_box(body))));
    }
    let text = prose_document(1);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("libinjection_prose_1k", |b| {
        b.iter(|| tokenized::judge(black_box(&text), Location::Body).count())
    });
    group.finish();
}

criterion_group!(waf_benches, benches);

fn main() {
    waf_benches();
    Criterion::default().configure_from_args().final_summary();
}
