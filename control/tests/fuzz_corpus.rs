//! Replays the saved inputs of the control plane's fuzz targets
//! (`fuzz/corpus/<target>/`) through the properties they check.

#[test]
fn profile_names_corpus() {
    cartorio_testkit::corpus::replay_corpus(
        env!("CARGO_MANIFEST_DIR"),
        "profile_names",
        cartorio_control::profile::check::fuzz_check,
    );
}

#[test]
fn acme_request_corpus() {
    cartorio_testkit::corpus::replay_corpus(
        env!("CARGO_MANIFEST_DIR"),
        "acme_request",
        cartorio_control::acme::fuzz::fuzz_request,
    );
}

#[test]
fn backup_archive_corpus() {
    cartorio_testkit::corpus::replay_corpus(
        env!("CARGO_MANIFEST_DIR"),
        "backup_archive",
        cartorio_control::backup::fuzz_check,
    );
}
