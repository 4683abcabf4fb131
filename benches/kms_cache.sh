#!/usr/bin/env bash
# The gateway sealing every payload under a KMS key (moto's KMS API on
# loopback), with the data-key cache on (the default: one GenerateDataKey
# per 1,000 objects or 5 minutes) and off (one per object), in one run on
# this machine: ingests/s for each, KMS calls counted by the gateway's
# /metrics, and the ratio. Issue 19 asks for the comparison.
#
#   bash benches/kms_cache.sh        # 10 s per side, 16 connections
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
venv="${XDG_CACHE_HOME:-$HOME/.cache}/cartorio-test-venv"
export PATH="$venv/bin:$PATH"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "moto_server is missing: run scripts/test.sh once (it makes $venv)" >&2; exit 1; }
cargo build --release -q --bin cartorio
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s "http://127.0.0.1:$moto_port" >/dev/null && break; sleep 0.2; done
key_id=$(python3 -c "
import boto3
kms = boto3.client('kms', endpoint_url='http://127.0.0.1:$moto_port', region_name='us-east-1')
print(kms.create_key()['KeyMetadata']['KeyId'])")
token=bench-key
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
printf 'reading 42 from sensor 7, an ordinary line of telemetry' > "$work/body.txt"

# run NAME MAX_AGE_SECS: ingests/s and KMS GenerateDataKey calls.
run() {
  local name=$1 max_age=$2 port
  port=$(free_port)
  mkdir -p "$work/$name"
  cat > "$work/$name/gateway.toml" <<TOML
listen = "127.0.0.1:$port"
[store]
kind = "local"
path = "$work/$name/store"
[encryption.kms]
key_id = "$key_id"
endpoint = "http://127.0.0.1:$moto_port"
[encryption.kms.data_key_cache]
max_age_secs = $max_age
[[api_keys]]
id = "bench"
sha256 = "$hash"
streams = ["events"]
[[streams]]
name = "events"
rate_per_sec = 1000000.0
burst = 1000000
content_types = ["text/plain"]
TOML
  "${CARGO_TARGET_DIR:-target}"/release/cartorio gateway --config "$work/$name/gateway.toml" 2>"$work/$name/log" &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  BODY_FILE="$work/body.txt" CONTENT_TYPE=text/plain BEARER=$token \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s benches/wrk/post_file.lua \
    "http://127.0.0.1:$port/v1/ingest/events" > "$work/$name/wrk.txt"
  local rps calls
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/$name/wrk.txt")
  calls=$(curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^cartorio_gateway_kms_calls_total\{/ && /generate_data_key/ && /outcome="ok"/ {n += $2} END {print n + 0}')
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/$name/wrk.txt")
  kill $pid; wait $pid 2>/dev/null || true
  echo "$name: $rps ingests/s, $calls GenerateDataKey calls, ${non2xx:-0} non-2xx"
  eval "${name}_rps=$rps"
}

run cached 300
run uncached 0
awk -v a="$cached_rps" -v b="$uncached_rps" 'BEGIN { printf "cache on / cache off: %.2fx ingests/s\n", a / b }'
