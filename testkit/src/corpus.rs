//! Fuzz corpora replayed by `cargo test`, so the saved inputs of every fuzz
//! target are checked on stable too.

/// Replays every saved input of fuzz target `target` (`fuzz/corpus/{target}`
/// beside `manifest_dir`'s crate) through `check`, the property its fuzz
/// target runs, so `cargo test` exercises the corpora on stable.
pub fn replay_corpus(manifest_dir: &str, target: &str, check: fn(&[u8])) {
    let files = corpus_files(manifest_dir, target);
    for (path, data) in &files {
        let result = std::panic::catch_unwind(|| check(data));
        assert!(result.is_ok(), "{} fails its property check", path.display());
    }
    assert!(!files.is_empty(), "the {target} corpus is empty");
}

/// The files of fuzz target `target`'s corpus (`fuzz/corpus/{target}`
/// beside the crate at `manifest_dir`), with their contents.
pub fn corpus_files(manifest_dir: &str, target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(manifest_dir).join("../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            (path, data)
        })
        .collect()
}
