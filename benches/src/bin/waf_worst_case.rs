//! What inspecting a whole body costs in the worst cases a stream's body
//! limit allows, now that nothing is skipped (the old caps were 1,024
//! values and 64 KiB per value): many tiny values, one long value, prose,
//! deep nesting, XML entities expanded as far as they may. Prints the time
//! per request and per KiB for each shape, so an operator can weigh the
//! default (no cap) against a stream's caps.
//!
//!     waf-worst-case [BODY_KIB]   (default 256, the demo stream's limit)

use cartorio_gateway::waf::{self, RequestView};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let kib: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(256);
    let size = kib * 1024;
    let tiny: Vec<String> = (0..size / 6).map(|i| format!("v{}", i % 10)).collect();
    let shapes: Vec<(&str, String)> = vec![
        ("tiny values", serde_json::to_string(&tiny)?),
        ("one long value", serde_json::to_string(&["x".repeat(size)])?),
        (
            "prose",
            serde_json::to_string(&[
                "The quick brown fox jumps over the lazy dog, or so it's said. ".repeat(size / 62)
            ])?,
        ),
        ("deep nesting", format!("{}\"x\"{}", "[{\"k\":".repeat(60), "}]".repeat(60))),
        // An XML body's entity references expand to the document's size
        // again and 64 KiB, no further (`entity_expansion`): as much as that.
        ("xml entities", {
            let literal = "B".repeat(1024);
            let refs = (size + 64 * 1024) / literal.len() - 2;
            let text = format!("<!DOCTYPE r [<!ENTITY a \"{literal}\">]><r>{}</r>", "&a;".repeat(refs));
            format!("{text}<!-- {} -->", "x".repeat(size.saturating_sub(text.len() + 9)))
        }),
    ];
    println!("{:<16} {:>9} {:>8} {:>12} {:>10}", "shape", "bytes", "values", "ms/request", "us/KiB");
    for (name, body) in shapes {
        let req = RequestView {
            path: Some("/v1/ingest/demo"),
            query: None,
            headers: &[],
            content_type: Some(if body.starts_with('<') { "application/xml" } else { "application/json" }),
            body: body.as_bytes(),
        };
        let values = waf::extract::values(&req).len();
        let rounds = 5;
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(waf::inspect(&req));
        }
        let per = started.elapsed().as_secs_f64() / f64::from(rounds);
        let per_kib = per * 1e6 / (body.len() as f64 / 1024.0);
        println!("{name:<16} {:>9} {values:>8} {:>12.2} {per_kib:>10.1}", body.len(), per * 1e3);
    }
    Ok(())
}
