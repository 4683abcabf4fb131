//! Replays the platform's fuzz corpora (`fuzz/corpus/{target}`) through the
//! property checks the fuzz targets run.

use std::path::Path;

#[test]
fn proxy_header_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/proxy_header");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        let checked = std::panic::catch_unwind(|| cartorio_platform::proxy_protocol::fuzz_check(&data));
        assert!(checked.is_ok(), "{} fails its property check", path.display());
        count += 1;
    }
    assert!(count > 0, "the proxy_header corpus is empty");
}
