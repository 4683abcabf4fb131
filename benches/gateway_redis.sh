#!/usr/bin/env bash
# Gateway ingests/s with the per-(key, stream) rate limit counted in the
# process and on Redis, in one run (issue 20: the Redis backend >= 0.8x
# local, with the stream's checks on: API key, JSON Schema, WAF).
#
#   bash benches/gateway_redis.sh                 # 8 s per run, 3 rounds
#   DURATION=5 ROUNDS=5 bash benches/gateway_redis.sh
# Both forward accepted payloads to an nginx that answers 202 (as
# gateway_peers.sh's headline does), so the sink does not hide the limiter.
# Needs: apt-get install wrk redis-server nginx-light
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
P_REDIS=18390 P_LOCAL=18391 P_SHARED=18392 P_UP=18393
for tool in wrk redis-server curl nginx; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (see the header of this script)" >&2; exit 1; }
done
cargo build --release -q --bin cartorio
bin=target/release/cartorio
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

redis-server --port $P_REDIS --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)

mkdir -p "$work/nginx-tmp"
cat > "$work/upstream.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  server { listen 127.0.0.1:$P_UP; location / { return 202; } }
}
CONF
nginx -c "$work/upstream.conf" -g 'daemon off;' &
pids+=($!)

keys=(k-bench-0 k-bench-1 k-bench-2 k-bench-3)
printf '%s\n' "${keys[@]}" | paste -sd, - > "$work/keys.txt"
cat > "$work/schema.json" <<'JSON'
{"type": "object", "required": ["id", "message"],
 "properties": {"id": {"type": "string"}, "message": {"type": "string", "maxLength": 2048}}}
JSON
for i in $(seq 64); do
  printf '{"id":"evt-%d","message":"%s"}\n' "$i" "$(head -c 600 /dev/zero | tr '\0' 'a')"
done > "$work/bodies.jsonl"

config() { # port [ratelimit table]
  echo "listen = \"127.0.0.1:$1\""
  echo "max_in_flight = 65536"
  echo "max_per_client = 65536"
  [ -n "${2:-}" ] && printf '%b\n' "$2"
  printf '[store]\nkind = "local"\npath = "%s/store-%s"\n' "$work" "$1"
  for n in "${!keys[@]}"; do
    printf '[[api_keys]]\nid = "client-%d"\nsha256 = "%s"\nstreams = ["events"]\n' \
      "$n" "$(printf %s "${keys[$n]}" | sha256sum | cut -d' ' -f1)"
  done
  # A rate no client reaches: every request is a decision, none a refusal.
  printf '[[streams]]\nname = "events"\nrate_per_sec = 10000000.0\nburst = 1000000\n'
  printf 'content_types = ["application/json"]\nschema_file = "%s/schema.json"\n' "$work"
  printf 'waf = { threshold = 5, mode = "block" }\n'
  printf 'upstream = { url = "http://127.0.0.1:%s/sink" }\n' "$P_UP"
}
config $P_LOCAL > "$work/local.toml"
config $P_SHARED "[ratelimit]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:$P_REDIS\"\non_backend_error = \"deny\"" \
  > "$work/shared.toml"
for name in local shared; do
  "$bin" --log-format json gateway --config "$work/$name.toml" 2>"$work/$name.log" &
  pids+=($!)
done
for port in $P_LOCAL $P_SHARED; do
  for i in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
    [ "$i" -lt 100 ] || { echo "nothing answers on 127.0.0.1:$port" >&2; exit 1; }
    sleep 0.1
  done
  status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer ${keys[0]}" --data-binary "$(head -1 "$work/bodies.jsonl")" \
    "http://127.0.0.1:$port/v1/ingest/events")
  [ "$status" = 202 ] || { echo "127.0.0.1:$port answered $status, not 202" >&2; exit 1; }
done
# (Keys expire within milliseconds at this rate: the script calls are the proof.)
redis-cli -p $P_REDIS info commandstats | grep -Eq '^cmdstat_(evalsha|eval):calls=[1-9]' ||
  { echo "the Redis gateway made no script call" >&2; exit 1; }

results="$work/results.txt"; : > "$results"
run() { # label port
  local out="$work/wrk-$1.txt" rps p99 bad
  BODIES_FILE="$work/bodies.jsonl" API_KEYS=$(cat "$work/keys.txt") INGEST_PATH=/v1/ingest/events \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s benches/wrk/ingest.lua "http://127.0.0.1:$2" \
    > "$out" 2>&1 || true
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out"); p99=$(awk '$1 == "99%" {print $2}' "$out")
  bad=$(awk '/Non-2xx/ {print $NF}' "$out")
  printf '%-12s %12s %10s %8s\n' "$1" "${rps:-0}" "${p99:--}" "${bad:-0}" | tee -a "$results"
}
printf '%-12s %12s %10s %8s\n' run "req/s" p99 non-2xx
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then run "local-$r" $P_LOCAL; run "redis-$r" $P_SHARED
  else run "redis-$r" $P_SHARED; run "local-$r" $P_LOCAL; fi
done
median=$(for r in $(seq "$ROUNDS"); do
  awk -v a="redis-$r" -v b="local-$r" '$1 == a {x = $2} $1 == b {y = $2} END {printf "%.3f\n", x / y}' "$results"
done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
calls=$(redis-cli -p $P_REDIS info commandstats | awk -F'[=,]' '/^cmdstat_evalsha:/ {print $2}')
echo "redis / local req/s: median $median of $ROUNDS rounds (goal >= 0.8); ${calls:-0} script calls on Redis"
