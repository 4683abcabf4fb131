#!/usr/bin/env bash
# What a rule change does to verdicts: the gateway's WAF at a base revision
# and in the working tree, on the same files, side by side. For each file,
# attacks blocked and benign inputs passed before and after, then every
# request whose verdict changed (id, class, label, rules before -> after).
#
# The method of issue 18 holds here too: on the evaluation corpus, changes
# are listed for the tuning part only; the validation part is counted, never
# listed, so rules are not fitted to it.
#
#   bash benches/waf_compare.sh                 # base HEAD, the corpus
#   bash benches/waf_compare.sh 0ffb7e1 probes.jsonl other.jsonl
#   BASE_ONLY=1 ... (print the base's verdicts only)
#
# Files are JSONL corpora in the format of benches/waf_corpora.py (one
# request per line: id, class, label, method, uri, headers, body, part).
# Verdicts of a base revision are kept under target/waf-compare/ by commit.
set -euo pipefail
cd "$(dirname "$0")/.."
base=$(git rev-parse --verify "${1:-HEAD}^{commit}")
shift || true
target=${CARGO_TARGET_DIR:-$PWD/target}
cache=$target/waf-compare
mkdir -p "$cache"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  [ -s "$cache/corpus.jsonl" ] || python3 benches/waf_corpora.py "$cache/corpus.jsonl"
  files=("$cache/corpus.jsonl")
fi

# The base build: a worktree at the commit, built into a target directory
# of its own (sharing the working tree's would leave the base's binary in
# its place while cargo holds the working tree's build fresh), kept across
# runs so only the workspace's crates rebuild; its binary kept by commit.
base_bin=$cache/waf-corpus-$base
if [ ! -x "$base_bin" ]; then
  tree=$(mktemp -d)
  trap 'git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"' EXIT
  git worktree add -q --detach "$tree" "$base"
  (cd "$tree" && CARGO_TARGET_DIR=$cache/target cargo build --release -q -p cartorio-benches --bin waf-corpus)
  cp "$cache/target/release/waf-corpus" "$base_bin"
fi
cargo build --release -q -p cartorio-benches --bin waf-corpus
head_bin=$target/release/waf-corpus

for f in "${files[@]}"; do
  "$base_bin" "$f" > "$cache/before.txt"
  if [ -n "${BASE_ONLY:-}" ]; then cat "$cache/before.txt"; continue; fi
  "$head_bin" "$f" > "$cache/after.txt"
  echo "== $f (base ${base:0:7} -> working tree)"
  python3 benches/waf_compare.py "$cache/before.txt" "$cache/after.txt"
done
