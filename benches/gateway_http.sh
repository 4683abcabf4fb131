#!/usr/bin/env bash
# The gateway's demo stream under load: one API key posting valid event
# records over keep-alive HTTP/1.1 (wrk), each stored durably (and sealed)
# before its 202. Issue 5 asks for at least 2,000 requests/s for one key, and
# admissions over the limit within 2% of rate x duration + burst.
#
#   bash benches/gateway_http.sh           # 10 s, 32 connections
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18090}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -q --bin cartorio
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
target/release/cartorio up --data-dir "$work/data" --gateway-listen 127.0.0.1:$PORT \
  --responder-listen 127.0.0.1:0 --responder-tls-listen 127.0.0.1:0 --control-listen 127.0.0.1:0 \
  2>"$work/up.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
printf '%s' '{"id":"bench-1","ts":"2026-11-21T10:00:00Z","source":"bench","message":"a benchmark event of ordinary size, with some words in it","attributes":{"host":"web-1","region":"eu"}}' > "$work/event.json"
BODY_FILE="$work/event.json" CONTENT_TYPE=application/json BEARER=$(cat "$work/data/gateway/demo-api-key") \
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s benches/wrk/post_file.lua \
  "http://127.0.0.1:$PORT/v1/ingest/demo" > "$work/wrk.txt"
cat "$work/wrk.txt"
stored=$(find "$work/data/store/raw/demo" -type f ! -name '*.meta.json' | wc -l)
rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
echo
echo "demo stream, one key: $rps requests/s answered (goal >= 2000)"
# The demo stream admits 5,000/s with a burst of 10,000; the rest is 429. The
# comparison means something only when the load stays over the limit for the
# whole run: GCRA banks no more than the burst while storage runs slower than
# the rate. The limiter's own accuracy is tested with a simulated clock
# (cargo test -p cartorio-gateway ten_times_the_rate).
refused=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt"); refused=${refused:-0}
if [ "$refused" -gt 0 ]; then
  awk -v s="$stored" -v d="$DURATION" -v r="$refused" 'BEGIN { e = 5000 * d + 10000; printf "over the limit: %d refused (429), %d stored (202); rate x duration + burst = %d; off by %.2f%% (goal <= 2%%)\n", r, s, e, 100 * (s - e) / e }'
else
  echo "the load stayed under the stream's limit (5,000/s): $stored stored, none refused"
fi
