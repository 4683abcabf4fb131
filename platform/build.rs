//! Records the git commit the crate is built from, for
//! `cartorio_build_info{commit}`; `unknown` outside a checkout (a source
//! package), never a build failure.

use std::path::PathBuf;

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .filter(|s| s.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CARTORIO_COMMIT={commit}");
    // A commit or checkout changes HEAD or the ref it names (in the common
    // directory for a worktree). Only paths that exist: a missing one would
    // rerun this script, and rebuild every crate above, at every build.
    let dirs = [
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ];
    for dir in dirs.into_iter().flatten().map(PathBuf::from) {
        for watched in [dir.join("HEAD"), dir.join("refs/heads"), dir.join("packed-refs")] {
            if watched.exists() {
                println!("cargo:rerun-if-changed={}", watched.display());
            }
        }
    }
}
