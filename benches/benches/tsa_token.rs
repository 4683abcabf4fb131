//! In-process TSA cost: a complete token (parse, policy check, TSTInfo, CMS,
//! signature) against a bare ring ECDSA P-256 signature of the same size of
//! message, on one core. Goal (issue 6): token rate >= 0.9x raw signing rate.
//!
//!     cargo bench -p cartorio-benches --bench tsa_token

use cartorio_benches::{SIGNED_ATTRS_LEN, p256_signer, tsa_request, tsa_template};
use cartorio_pkix::Signer;
use cartorio_pkix::tsp::{GenTime, RequestPolicy, check_request, parse_request};
use criterion::{Criterion, criterion_group};
use std::hint::black_box;
use std::time::Instant;

fn token(
    template: &cartorio_pkix::tsp::TokenTemplate,
    policy: &RequestPolicy,
    der: &[u8],
    n: u64,
) -> Vec<u8> {
    let req = parse_request(der).expect("request");
    let chosen = check_request(&req, policy).expect("policy");
    let mut serial = [0x7au8; 16];
    serial[8..].copy_from_slice(&n.to_be_bytes());
    template
        .issue(&req, chosen, &serial, GenTime { unix_micros: 1_800_000_000_000_000 + n as i64 })
        .expect("token")
}

fn benches(c: &mut Criterion) {
    let raw = p256_signer();
    let message = vec![0x31u8; SIGNED_ATTRS_LEN];
    let template = tsa_template();
    let policy = RequestPolicy::default();
    let der = tsa_request();
    let mut group = c.benchmark_group("tsa");
    group.bench_function("raw_ring_p256_sign", |b| b.iter(|| raw.sign(black_box(&message)).expect("sign")));
    let mut n = 0u64;
    group.bench_function("token_from_request", |b| {
        b.iter(|| {
            n += 1;
            token(&template, &policy, black_box(&der), n)
        })
    });
    group.finish();
}

criterion_group!(tsa, benches);

/// Interleaved rounds of both loops; the median of the per-round ratios.
fn ratio() {
    let raw = p256_signer();
    let message = vec![0x31u8; SIGNED_ATTRS_LEN];
    let template = tsa_template();
    let policy = RequestPolicy::default();
    let der = tsa_request();
    const N: u64 = 5_000;
    let mut ratios = Vec::new();
    for round in 0..7 {
        let start = Instant::now();
        for _ in 0..N {
            black_box(raw.sign(black_box(&message)).expect("sign"));
        }
        let raw_rate = N as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for i in 0..N {
            black_box(token(&template, &policy, black_box(&der), round * N + i));
        }
        let token_rate = N as f64 / start.elapsed().as_secs_f64();
        ratios.push((token_rate / raw_rate, raw_rate, token_rate));
    }
    ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (r, raw_rate, token_rate) = ratios[ratios.len() / 2];
    println!(
        "tsa in-process (one core): raw ring P-256 {raw_rate:.0} sig/s, complete token {token_rate:.0} tokens/s, ratio {r:.3} (goal >= 0.9)"
    );
}

fn main() {
    tsa();
    Criterion::default().configure_from_args().final_summary();
    ratio();
}
