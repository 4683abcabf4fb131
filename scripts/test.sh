#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs the system
# packages the tests use when they are missing, then runs format, lint, the
# sans-IO check and every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages the tests drive as real clients or servers.
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v jarsigner >/dev/null 2>&1 || need+=(default-jdk-headless)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
# ACME clients (tests/acme_clients.rs), and Pebble's challenge test server
# as the DNS server for dns-01.
command -v certbot >/dev/null 2>&1 || need+=(certbot)
command -v lego >/dev/null 2>&1 || need+=(lego)
command -v pebble-challtestsrv >/dev/null 2>&1 || need+=(pebble)
# promtool checks and unit-tests docs/prometheus/alerts.yml (tests/operability.rs).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The age CLI opens `cartorio backup`'s archives (tests/backup_restore.rs).
command -v age >/dev/null 2>&1 || need+=(age)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# systemd-analyze verify, systemd-sysusers and systemd-tmpfiles check the
# Debian package's units and user (tests/debian_package.rs).
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
[ -x /bin/kill ] || need+=(procps)   # the gateway unit's ExecReload=
# cargo-deb's Depends: $auto asks dpkg-shlibdeps.
command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# cargo-deb builds the Debian package (tests/debian_package.rs), pinned.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi

# Python tools, in a virtualenv of their own so the system Python stays
# untouched: an S3 (and KMS) API server for the object-store tests, moto,
# pinned (5.2.1 answers CompleteMultipartUpload with a root element the SDK
# rejects); strict DER clients, sigstore's rfc3161-client (which brings
# pyca/cryptography), for tests/strict_clients.rs; and pyHanko, a PDF
# (PAdES) signing and validation library, for tests/pades.rs.
MOTO_VERSION=5.2.5
RFC3161_CLIENT_VERSION=1.0.9
PYHANKO_VERSION=0.38.0
venv="${XDG_CACHE_HOME:-$HOME/.cache}/cartorio-test-venv"
if ! "$venv/bin/python" -c "
import sys, moto, importlib.metadata as m
sys.exit(moto.__version__ != '$MOTO_VERSION' or m.version('rfc3161-client') != '$RFC3161_CLIENT_VERSION'
         or m.version('pyHanko') != '$PYHANKO_VERSION')" 2>/dev/null; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "moto[server]==$MOTO_VERSION" "rfc3161-client==$RFC3161_CLIENT_VERSION" \
    "pyHanko==$PYHANKO_VERSION"
fi
export PATH="$venv/bin:$PATH"
# What the processes tests start against moto sign with (the SDK's default
# credential chain reads them first); never instance metadata on a CI host.
export AWS_ACCESS_KEY_ID=cartorio-test AWS_SECRET_ACCESS_KEY=cartorio-test AWS_EC2_METADATA_DISABLED=true

# PostgreSQL for the registry's second backend: a throwaway cluster on
# loopback; every registry test runs on it as well as on SQLite. fsync off:
# durability is not under test here, and it makes each test's CREATE
# DATABASE cheap (the registry-scale bench measures with it on).
. scripts/postgres-throwaway.sh
trap stop_throwaway_postgres EXIT
start_throwaway_postgres -c fsync=off

# A SoftHSM2 token for the PKCS#11 tests, made afresh on every run in the
# target directory (so nothing needs cleaning up on exit).
case "${CARGO_TARGET_DIR:-target}" in
  /*) hsm_dir="$CARGO_TARGET_DIR/softhsm" ;;
  *) hsm_dir="$(pwd)/${CARGO_TARGET_DIR:-target}/softhsm" ;;
esac
rm -rf "$hsm_dir" && mkdir -p "$hsm_dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
  "$hsm_dir" >"$hsm_dir/softhsm2.conf"
export SOFTHSM2_CONF="$hsm_dir/softhsm2.conf"
export CARTORIO_TEST_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
export CARTORIO_TEST_HSM_TOKEN=cartorio-test CARTORIO_TEST_HSM_PIN=1234
softhsm2-util --init-token --free --label "$CARTORIO_TEST_HSM_TOKEN" \
  --so-pin 5678 --pin "$CARTORIO_TEST_HSM_PIN" >/dev/null

# The WAF's evaluation corpus (tests/waf_validation.rs reads its validation
# part): Debian's wfuzz, sqlmap and wapiti packages, PyGithub's sdist and the
# naughty strings, downloaded once into ~/.cache/cartorio-waf-corpora.
echo "== WAF evaluation corpus"
case "${CARGO_TARGET_DIR:-target}" in
  /*) waf_corpus="$CARGO_TARGET_DIR/waf-corpora/corpus.jsonl" ;;
  *) waf_corpus="$(pwd)/${CARGO_TARGET_DIR:-target}/waf-corpora/corpus.jsonl" ;;
esac
mkdir -p "$(dirname "$waf_corpus")"
python3 benches/waf_corpora.py "$waf_corpus"
export CARTORIO_WAF_CORPUS="$waf_corpus"

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== pkix stays sans-IO"
if cargo tree -p cartorio-pkix -e normal --prefix none | grep -E '^(tokio|hyper|aws-sdk|mio) '; then
  echo "cartorio-pkix must not depend on a runtime, HTTP stack or S3 client" >&2
  exit 1
fi

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"; stop_throwaway_postgres' EXIT
cargo test --workspace 2>&1 | tee "$log"
# One closing total over every test binary (cargo prints one line per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
