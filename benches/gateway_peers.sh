#!/usr/bin/env bash
# Ingestion gateway against the WAF a user would otherwise put in front of
# the same service, in one script on this machine, with the same upstream,
# the same requests and the same load settings:
#
#   modsecurity   nginx + ModSecurity v3 + OWASP CRS (Debian packages,
#                 SecRuleEngine On, paranoia level 1), proxying
#   nginx         plain nginx proxying (the ceiling: no checks at all)
#   cartorio      `cartorio gateway` with every check on (API key, rate limit
#                 set above the load, JSON Schema, attack signatures in block
#                 mode), forwarding each accepted payload and answering 202
#                 only once the upstream answered 2xx
#
# The upstream is one nginx answering `return 202` on loopback, shared by
# all three. The load is wrk (HTTP/1.1 keep-alive) POSTing a rotating mix of
# 1 KiB JSON records, valid for the schema and benign for both WAFs, with one
# of four API keys. Before the load, each front must accept the whole mix and
# both WAFs must refuse an SQL injection with 403. Then the same load against
# a stream storing into the durable local sink (202 only once on disk):
# accepted ingests/s, and objects on disk vs acknowledgements.
#
# Issue 5 asks for cartorio >= 20x modsecurity and >= 0.25x nginx.
# Needs (installed when missing, Debian): wrk nginx-light
# libnginx-mod-http-modsecurity modsecurity-crs
#
#   bash benches/gateway_peers.sh           # 10 s per run, 64 connections
#   bash benches/gateway_peers.sh 5         # 5 s per run
#   CONNECTIONS=128 ROUNDS=2 bash benches/gateway_peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-${DURATION:-10}}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
RECORDS=${RECORDS:-64}
. benches/lib/modsecurity.sh

# --- what is needed -----------------------------------------------------------
extra=()
command -v wrk >/dev/null || extra+=(wrk)
modsec_install "${extra[@]}"

cargo build --release -q --bin cartorio
bin=${CARGO_TARGET_DIR:-target}/release/cartorio

work=$(mktemp -d)
chmod 711 "$work"  # nginx workers (nobody) traverse it, nothing more
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Free loopback ports, below Linux's ephemeral range (32768-60999) so that no
# outgoing connection takes one between this probe and the bind: nothing
# answers a connect, and not handed out twice.
taken=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    [[ "$taken" == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then taken+="$p "; echo "$p"; return; fi
  done
}
P_UP=$(free_port); taken+="$P_UP "
P_MODSEC=$(free_port); taken+="$P_MODSEC "
P_NGINX=$(free_port); taken+="$P_NGINX "
P_CARTORIO=$(free_port); taken+="$P_CARTORIO "
P_CARTORIO_NOLOG=$(free_port)

# --- the request mix ---------------------------------------------------------
# RECORDS single-line JSON objects of exactly 1,024 octets each.
awk -v n="$RECORDS" 'BEGIN {
  split("checkout-web catalog-api billing-worker search-edge mobile-backend", src, " ")
  split("info info info warn debug error", lvl, " ")
  split("order.created order.paid cart.updated user.signed_in shipment.dispatched page.viewed", knd, " ")
  split("eu-west eu-central us-east sa-east ap-south", reg, " ")
  split("EUR USD BRL GBP", cur, " ")
  split("mobile desktop returning new_customer promo gift express", tag, " ")
  filler = "The customer reviewed the basket, changed the delivery address to the office and " \
    "chose the express option before paying with a saved card. Stock was reserved in the " \
    "nearest warehouse and the confirmation email was queued for the morning batch. Nothing " \
    "unusual was noticed by the fraud checks, and the order moved on to picking and packing " \
    "with the usual priority for its region and the carrier chosen by the customer at checkout. " \
    "Delivery is expected within two working days, weather and holidays permitting, and the " \
    "tracking link will follow once the parcel has been scanned at the depot by the driver."
  srand(7)
  for (i = 1; i <= n; i++) {
    h = ""; for (j = 0; j < 32; j++) h = h substr("0123456789abcdef", int(rand() * 16) + 1, 1)
    head = sprintf("{\"id\":\"evt-%06d\",\"ts\":\"2026-11-21T10:%02d:%02dZ\",\"source\":\"%s-%d\",\"level\":\"%s\",\"kind\":\"%s\",\"attributes\":{\"host\":\"web-%d\",\"region\":\"%s\",\"customer\":\"c-%05d\",\"items\":%d,\"total_cents\":%d,\"currency\":\"%s\",\"tags\":[\"%s\",\"%s\"],\"trace_id\":\"%s\",\"first_order\":%s},\"message\":\"",
      i, int(i / 60) % 60, i % 60, src[i % 5 + 1], i % 7, lvl[i % 6 + 1], knd[i % 6 + 1], i % 12,
      reg[i % 5 + 1], int(rand() * 99999), 1 + i % 9, 199 + int(rand() * 90000), cur[i % 4 + 1],
      tag[i % 7 + 1], tag[(i + 3) % 7 + 1], h, (i % 3 ? "false" : "true"))
    print head substr(filler " " filler, (i * 37) % 300 + 1, 1024 - length(head) - 2) "\"}"
  }
}' > "$work/bodies.jsonl"
awk 'length($0) != 1024 { bad = 1 } END { exit bad }' "$work/bodies.jsonl" ||
  { echo "the generated records are not 1,024 octets each" >&2; exit 1; }
cat > "$work/events.schema.json" <<'JSON'
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "ts", "source", "level", "kind", "attributes", "message"],
  "additionalProperties": false,
  "properties": {
    "id": { "type": "string", "pattern": "^evt-[0-9]{6}$" },
    "ts": { "type": "string", "format": "date-time" },
    "source": { "type": "string", "maxLength": 64 },
    "level": { "enum": ["debug", "info", "warn", "error"] },
    "kind": { "type": "string", "pattern": "^[a-z]+\\.[a-z_]+$" },
    "message": { "type": "string", "maxLength": 4096 },
    "attributes": {
      "type": "object",
      "required": ["host", "region"],
      "properties": {
        "host": { "type": "string" },
        "region": { "type": "string" },
        "customer": { "type": "string", "pattern": "^c-[0-9]{5}$" },
        "items": { "type": "integer", "minimum": 1 },
        "total_cents": { "type": "integer", "minimum": 0 },
        "currency": { "type": "string", "pattern": "^[A-Z]{3}$" },
        "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 16 },
        "trace_id": { "type": "string", "pattern": "^[0-9a-f]{32}$" },
        "first_order": { "type": "boolean" }
      },
      "additionalProperties": { "type": ["string", "number", "boolean"] }
    }
  }
}
JSON
# A valid record whose message carries an SQL injection: both WAFs must say 403.
q="'"
sqli="{\"id\":\"evt-999999\",\"ts\":\"2026-11-21T10:00:00Z\",\"source\":\"checkout-web-1\",\"level\":\"info\",\"kind\":\"order.created\",\"attributes\":{\"host\":\"web-1\",\"region\":\"eu-west\"},\"message\":\"1$q UNION SELECT username, password FROM users WHERE ${q}1$q=${q}1\"}"

keys=()
for _ in 1 2 3 4; do keys+=("$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"); done
head -c 24 /dev/urandom | base64 | tr '+/' '-_' > "$work/upstream-token"

# --- upstream, plain nginx, nginx + ModSecurity + CRS --------------------------
mkdir -p "$work/nginx-tmp"
modsec_rules "$work" 1
nginx_conf() { # name server-block
  cat > "$work/$1.conf" <<CONF
$([ "$1" = modsec ] && echo "load_module $MODSEC_SO;")
worker_processes $(nproc);
pid $work/$1.pid;
error_log $work/$1-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  default_type application/json;
  client_body_temp_path $work/nginx-tmp/$1-body;
  proxy_temp_path $work/nginx-tmp/$1-proxy;
  fastcgi_temp_path $work/nginx-tmp/$1-fastcgi;
  uwsgi_temp_path $work/nginx-tmp/$1-uwsgi;
  scgi_temp_path $work/nginx-tmp/$1-scgi;
  upstream backend { server 127.0.0.1:$P_UP; keepalive 256; }
  $2
}
CONF
  "$NGINX" -e "$work/$1-error.log" -c "$work/$1.conf" -g 'daemon off;' &
  pids+=($!)
}
proxy='proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://backend;'
nginx_conf upstream "server { listen 127.0.0.1:$P_UP; location / { return 202; } }"
nginx_conf nginx "server { listen 127.0.0.1:$P_NGINX; location / { $proxy } }"
nginx_conf modsec "server { listen 127.0.0.1:$P_MODSEC; modsecurity on;
    modsecurity_rules_file $work/modsec-main.conf; location / { $proxy } }"

# --- cartorio gateway: every check on, forwarding (and a durable local stream) --
{
  cat <<CONF
listen = "127.0.0.1:$P_CARTORIO"
max_in_flight = 65536
max_per_client = 65536
[store]
kind = "local"
path = "$work/store"
CONF
  for n in "${!keys[@]}"; do
    printf '[[api_keys]]\nid = "client-%d"\nsha256 = "%s"\nstreams = ["events", "events-local"]\n' \
      "$n" "$(printf %s "${keys[$n]}" | sha256sum | cut -d' ' -f1)"
  done
  for s in events events-local; do
    cat <<CONF
[[streams]]
name = "$s"
rate_per_sec = 10000000.0
burst = 1000000
max_body_bytes = 65536
content_types = ["application/json"]
schema_file = "$work/events.schema.json"
schema_version = "events-1"
waf = { threshold = 5, mode = "block" }
CONF
    [ "$s" = events ] &&
      echo "upstream = { url = \"http://127.0.0.1:$P_UP/v1/ingest/events\", bearer_file = \"$work/upstream-token\" }"
  done
} > "$work/gateway.toml"
# As deployed: info level, an access line per request (access_log = "all",
# the gateway's default) in JSON to a file. A twin with access_log = "off"
# measures what the lines cost.
"$bin" --log-format json gateway --config "$work/gateway.toml" 2>"$work/gateway.log" &
pids+=($!)
sed -e "s/^listen = .*/listen = \"127.0.0.1:$P_CARTORIO_NOLOG\"\naccess_log = \"off\"/" \
  "$work/gateway.toml" > "$work/gateway-nolog.toml"
"$bin" --log-format json gateway --config "$work/gateway-nolog.toml" 2>"$work/gateway-nolog.log" &
pids+=($!)

for port in $P_UP $P_NGINX $P_MODSEC $P_CARTORIO $P_CARTORIO_NOLOG; do
  for i in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    [ "$i" -lt 300 ] || { echo "nothing answers on 127.0.0.1:$port (logs: KEEP=1, $work/*.log)" >&2; exit 1; }
    sleep 0.1
  done
done

# --- each front works: the whole mix accepted, the injection refused ----------
post() { # port path body [key] -> status
  curl -s -o "$work/last-body" -w '%{http_code}' -X POST -H 'Host: ingest.example.test' \
    -H 'Content-Type: application/json' -H "Authorization: Bearer ${4:-${keys[0]}}" \
    --data-binary "$3" "http://127.0.0.1:$1$2" || true
}
declare -A FRONT_PORT=([modsecurity]=$P_MODSEC [nginx]=$P_NGINX [cartorio]=$P_CARTORIO)
PATH_EVENTS=/v1/ingest/events
for front in modsecurity nginx cartorio; do
  n=0
  while IFS= read -r body; do
    n=$((n + 1))
    status=$(post "${FRONT_PORT[$front]}" $PATH_EVENTS "$body" "${keys[$((n % 4))]}")
    [[ "$status" == 2* ]] || { echo "$front refused record $n with $status: $(cat "$work/last-body")" >&2; exit 1; }
  done < "$work/bodies.jsonl"
done
jq -e '.forwarded == true' "$work/last-body" >/dev/null || { echo "cartorio did not forward" >&2; exit 1; }
for front in modsecurity cartorio; do
  status=$(post "${FRONT_PORT[$front]}" $PATH_EVENTS "$sqli")
  [ "$status" = 403 ] || { echo "$front answered $status to an SQL injection, not 403" >&2; exit 1; }
done
[ "$(post "$P_CARTORIO" $PATH_EVENTS "$(head -1 "$work/bodies.jsonl")" wrong-key)" = 401 ] ||
  { echo "cartorio took an unknown API key" >&2; exit 1; }
[ "$(post "$P_CARTORIO" $PATH_EVENTS '{"id":"evt-1"}')" = 400 ] ||
  { echo "cartorio took a record its schema refuses" >&2; exit 1; }
echo "checked: all three accept the $RECORDS records; modsecurity and cartorio refuse an SQL injection (403); cartorio refuses an unknown key (401) and a schema violation (400)"
echo

# --- load ---------------------------------------------------------------------
printf '%s\n' "${keys[@]}" | paste -sd, - > "$work/keys.txt"
results="$work/results.txt"; : > "$results"
run_wrk() { # label port path -> appends "label rps p50 p99 non2xx requests" to $results
  local out="$work/wrk-$1.txt" rps p50 p99 bad reqs errs
  BODIES_FILE="$work/bodies.jsonl" API_KEYS=$(cat "$work/keys.txt") INGEST_PATH=$3 \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s benches/wrk/ingest.lua \
    "http://127.0.0.1:$2" > "$out" 2>&1 || true
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out"); p99=$(awk '$1 == "99%" {print $2}' "$out")
  bad=$(awk '/Non-2xx/ {print $NF}' "$out"); reqs=$(awk '/requests in/ {print $1}' "$out")
  errs=$(awk '/Socket errors/ {sub(/^ *Socket errors: */, ""); print}' "$out")
  printf '%-18s %12s %10s %10s %8s  %s\n' "$1" "${rps:-0}" "${p50:--}" "${p99:--}" "${bad:-0}" "${errs:+socket errors: $errs}"
  echo "$1 ${rps:-0} ${bad:-0} ${reqs:-0}" >> "$results"
  sleep 1
}
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, keep-alive, 1 KiB JSON x $RECORDS, 4 API keys, $(nproc) cores shared by everything"
printf '%-18s %12s %10s %10s %8s\n' "front" "req/s" "p50" "p99" "non-2xx"
for r in $(seq "$ROUNDS"); do
  run_wrk "modsecurity-$r" "$P_MODSEC" $PATH_EVENTS
  run_wrk "nginx-$r" "$P_NGINX" $PATH_EVENTS
  # Logging on and off, in alternating order (the second of a pair runs on
  # a warmer machine).
  if [ $((r % 2)) -eq 1 ]; then
    run_wrk "cartorio-$r" "$P_CARTORIO" $PATH_EVENTS
    run_wrk "cartorio-nolog-$r" "$P_CARTORIO_NOLOG" $PATH_EVENTS
  else
    run_wrk "cartorio-nolog-$r" "$P_CARTORIO_NOLOG" $PATH_EVENTS
    run_wrk "cartorio-$r" "$P_CARTORIO" $PATH_EVENTS
  fi
done
echo
rps_of() { awk -v l="$1" '$1 == l {print $2}' "$results"; }
for r in $(seq "$ROUNDS"); do
  awk -v m="$(rps_of "modsecurity-$r")" -v n="$(rps_of "nginx-$r")" -v c="$(rps_of "cartorio-$r")" -v r="$r" 'BEGIN {
    printf "round %d: cartorio / modsecurity = %.1fx (goal >= 20x: %s); cartorio / nginx = %.2fx (goal >= 0.25x: %s); modsecurity / nginx = %.4fx\n",
      r, c / m, (c >= 20 * m ? "met" : "NOT met"), c / n, (c >= 0.25 * n ? "met" : "NOT met"), m / n
  }'
done
logged=$(grep -c '"target":"cartorio::access"' "$work/gateway.log" || true)
[ "$logged" -gt 0 ] || { echo "the gateway wrote no access line" >&2; exit 1; }
for r in $(seq "$ROUNDS"); do
  awk -v on="$(rps_of "cartorio-$r")" -v off="$(rps_of "cartorio-nolog-$r")" -v r="$r" 'BEGIN {
    printf "round %d: access log all / off = %.3f (goal >= 0.95: %s)\n", r, on / off, (on >= 0.95 * off ? "met" : "NOT met")
  }'
done
median=$(for r in $(seq "$ROUNDS"); do awk -v on="$(rps_of "cartorio-$r")" -v off="$(rps_of "cartorio-nolog-$r")" 'BEGIN { printf "%.3f\n", on / off }'; done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
echo "access log all / off: median $median of $ROUNDS rounds ($logged access lines written by the logging gateway)"
bad_total=$(awk '{s += $3} END {print s + 0}' "$results")
[ "$bad_total" -eq 0 ] || echo "non-2xx answers during the load: $bad_total (see the table)"

# --- the durable local sink -----------------------------------------------------
echo
printf '%-18s %12s %10s %10s %8s\n' "sink" "req/s" "p50" "p99" "non-2xx"
run_wrk "cartorio-local" "$P_CARTORIO" /v1/ingest/events-local
read -r _ rps bad reqs < <(grep '^cartorio-local ' "$results")
stored=$(find "$work/store/raw/events-local" -type f ! -name '*.meta.json' 2>/dev/null | wc -l)
acked=$((reqs - bad))
echo "durable local sink: $rps accepted ingests/s (all checks on, 202 only once on disk);" \
  "$acked acknowledged, $stored objects on disk$([ "$stored" -ge "$acked" ] && echo " (none acknowledged and missing)" || echo " (FEWER ON DISK THAN ACKNOWLEDGED)")"
