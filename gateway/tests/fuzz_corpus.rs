//! Replays the fuzz corpora of the gateway's parsers and of the PROXY
//! protocol header (`fuzz/corpus/{target}`) through the property checks the
//! fuzz targets run.

fn replay(target: &str, check: fn(&[u8])) {
    cartorio_testkit::corpus::replay_corpus(env!("CARGO_MANIFEST_DIR"), target, check);
}

#[test]
fn waf_inspect_corpus() {
    replay("waf_inspect", cartorio_gateway::waf::fuzz_check);
}

#[test]
fn waf_tokenized_corpus() {
    replay("waf_tokenized", cartorio_gateway::waf::tokenized::fuzz_check);
}

#[test]
fn envelope_open_corpus() {
    replay("envelope_open", cartorio_gateway::envelope::fuzz_check);
}

#[test]
fn proxy_header_corpus() {
    replay("proxy_header", cartorio_platform::proxy_protocol::fuzz_check);
}

/// Mutations of the WAF's corpora (byte flips, insertions of characters the
/// parsers care about, splices of two seeds) through both property checks,
/// for machines without cargo-fuzz: `WAF_MUTATIONS=1000000 cargo test
/// --release -p cartorio-gateway --test fuzz_corpus -- --ignored`.
#[test]
#[ignore]
fn waf_mutations() {
    let n: usize = std::env::var("WAF_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let seeds: Vec<Vec<u8>> = ["waf_inspect", "waf_tokenized"]
        .into_iter()
        .flat_map(|target| cartorio_testkit::corpus::corpus_files(env!("CARGO_MANIFEST_DIR"), target))
        .map(|(_, data)| data)
        .collect();
    const INTERESTING: &[u8] = b"'\"`<>=&;|()[]{}$%\\/\0\r\n-#*:?@.,^~!";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..n {
        let pick = |r: u64| (r % seeds.len() as u64) as usize;
        let mut data = seeds[pick(next())].clone();
        for _ in 0..1 + next() % 8 {
            let at = if data.is_empty() { 0 } else { (next() % data.len() as u64) as usize };
            match next() % 4 {
                0 if !data.is_empty() => data[at] ^= 1 << (next() % 8),
                1 => data.insert(at, INTERESTING[(next() % INTERESTING.len() as u64) as usize]),
                2 if !data.is_empty() => {
                    data.remove(at);
                }
                _ => {
                    let other = &seeds[pick(next())];
                    let from = if other.is_empty() { 0 } else { (next() % other.len() as u64) as usize };
                    data.splice(at..at, other[from..].iter().copied().take(64));
                }
            }
        }
        cartorio_gateway::waf::fuzz_check(&data);
        cartorio_gateway::waf::tokenized::fuzz_check(&data);
    }
    println!("{n} mutations: no panic, every property held");
}
