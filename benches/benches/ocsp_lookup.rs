//! OCSP hot path in process: parse a DER request (SHA-1 CertID + nonce, as
//! `openssl ocsp` sends it) and find its pre-signed response in an index of
//! one million entries, alone and under 16 newer layers (the most the
//! publisher leaves before it compacts). Goal (issue 3): under 1 µs per request.
//!
//!     cargo bench -p cartorio-benches --bench ocsp_lookup

use cartorio_benches::{ocsp_index, ocsp_request};
use cartorio_responder::respond::{CachePolicy, answer};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let (index, hashes) = ocsp_index(1_000_000, 0);
    let (layered, layered_hashes) = ocsp_index(1_000_000, 16);
    let layered_requests: Vec<Vec<u8>> =
        (0..1024u32).map(|i| ocsp_request(&layered_hashes, 1 + i * 977)).collect();
    let requests: Vec<Vec<u8>> = (0..1024u32).map(|i| ocsp_request(&hashes, 1 + i * 977)).collect();
    let mut group = c.benchmark_group("ocsp");
    let mut i = 0;
    group.bench_function("parse_request", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            cartorio_pkix::ocsp::parse_request(black_box(&requests[i])).expect("parse").count
        })
    });
    group.bench_function("parse_and_lookup_1m", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            let a = answer(black_box(&requests[i]), &index, 1_000, None, CachePolicy::default());
            a.body.len()
        })
    });
    group.bench_function("parse_and_lookup_1m_under_16_layers", |b| {
        b.iter(|| {
            i = (i + 1) % layered_requests.len();
            let a = answer(black_box(&layered_requests[i]), &layered, 1_000, None, CachePolicy::default());
            a.body.len()
        })
    });
    group.finish();
}

criterion_group!(ocsp, benches);
criterion_main!(ocsp);
