#!/usr/bin/env bash
# Bulk OCSP pre-signing vs raw signing, software keys and SoftHSM2, in one run:
#   bash benches/presign_bulk.sh [N]        (default 1,000,000 certificates)
# Makes a throwaway SoftHSM2 token (apt-get install softhsm2 if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
[ -e /usr/lib/softhsm/libsofthsm2.so ] || { apt-get update -qq && apt-get install -y -qq softhsm2; }
hsm_dir=$(mktemp -d)
trap 'rm -rf "$hsm_dir"' EXIT
mkdir "$hsm_dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$hsm_dir" >"$hsm_dir/softhsm2.conf"
export SOFTHSM2_CONF="$hsm_dir/softhsm2.conf"
export CARTORIO_TEST_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
export CARTORIO_TEST_HSM_TOKEN=bench CARTORIO_TEST_HSM_PIN=1234
softhsm2-util --init-token --free --label bench --so-pin 5678 --pin 1234 >/dev/null
cargo build --release -q -p cartorio-benches --bin presign-bulk
bin="${CARGO_TARGET_DIR:-target}/release/presign-bulk"
for backend in software softhsm; do
  echo "== $backend"
  "$bin" "$n" "$backend" | tee "$hsm_dir/$backend.log"
done
echo "== summary"
grep -h RATIO "$hsm_dir/software.log" "$hsm_dir/softhsm.log"
