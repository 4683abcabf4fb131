//! Replays the gateway's fuzz corpora (`fuzz/corpus/{target}`) through the
//! same property checks the fuzz targets run, so `cargo test` keeps every
//! input a fuzzer ever found interesting passing.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} fails its property check", path.display());
        count += 1;
    }
    assert!(count > 0, "the {target} corpus is empty");
}

#[test]
fn waf_inspect_corpus() {
    replay("waf_inspect", cartorio_gateway::waf::fuzz_check);
}

#[test]
fn envelope_open_corpus() {
    replay("envelope_open", cartorio_gateway::envelope::fuzz_check);
}
