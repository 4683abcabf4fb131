//! Replays the fuzz corpora of the gateway's parsers and of the PROXY
//! protocol header (`fuzz/corpus/{target}`) through the property checks the
//! fuzz targets run.

fn replay(target: &str, check: fn(&[u8])) {
    cartorio_pkix::testing::replay_corpus(env!("CARGO_MANIFEST_DIR"), target, check);
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
