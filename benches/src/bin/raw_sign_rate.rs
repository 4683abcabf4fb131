//! Raw ring ECDSA P-256 signing rate with N threads for D seconds: the
//! ceiling the TSA over HTTP is compared with.
//!
//!     raw-sign-rate [threads] [seconds]

use cartorio_benches::{SIGNED_ATTRS_LEN, p256_signer};
use cartorio_pkix::Signer;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let signer = p256_signer();
                let message = vec![0x31u8; SIGNED_ATTRS_LEN];
                let deadline = Instant::now() + Duration::from_secs_f64(seconds);
                let mut n = 0u64;
                while Instant::now() < deadline {
                    for _ in 0..64 {
                        std::hint::black_box(signer.sign(&message).expect("sign"));
                    }
                    n += 64;
                }
                n
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    println!("{:.0}", total as f64 / seconds);
}
