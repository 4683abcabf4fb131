#!/usr/bin/env bash
# OCSP responder benchmark against the peers a user would otherwise run, in
# one script on this machine, with the same certificates, the same response
# bytes where the peer serves pre-signed ones, and the same load settings:
#
#   cartorio      `cartorio up` (pre-signed responses, in-memory index)
#   nginx         the same DER responses as static files (the HTTP ceiling)
#   openssl       `openssl ocsp -index` (signs each response on request)
#   cfssl         `cfssl ocspserve` with the same pre-signed responses
#
# wrk (HTTP/1.1 keep-alive) for GET and POST; h2load (HTTP/2 prior knowledge)
# for cartorio and nginx. Prints req/s, p50, p99 and the ratios the issue
# asks for. Needs: apt-get install wrk nghttp2-client nginx-light golang-cfssl
#
#   bash benches/ocsp_peers.sh              # 10 s per run, 64 connections
#   DURATION=5 CERTS=50 bash benches/ocsp_peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
CERTS=${CERTS:-100}
P_CARTORIO=18180 P_NGINX=18181 P_NGINX_H2=18182 P_OPENSSL=18183 P_CFSSL=18184
P_LOG_OFF=18185 P_LOG_REFUSALS=18186 P_LOG_ALL=18187
for tool in wrk h2load nginx cfssl openssl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (see the header of this script)" >&2; exit 1; }
done

cargo build --release -q --bin cartorio
work=$(mktemp -d)
chmod 711 "$work"  # nginx workers (www-data) traverse it to their root, nothing more
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # openssl -multi forks workers of its own.
  pkill -f "ocsp -index $work/index.txt" 2>/dev/null || true
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
bin=target/release/cartorio
data="$work/data"

# --- cartorio, and the certificates everyone serves --------------------------
$bin up --data-dir "$data" --responder-listen 127.0.0.1:$P_CARTORIO \
  --control-listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0 2>"$work/up.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$P_CARTORIO/healthz" >/dev/null && break; sleep 0.1; done
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/k.pem" \
  -subj /CN=bench.example.test -addext subjectAltName=DNS:bench.example.test -out "$work/r.csr" 2>/dev/null
mkdir -p "$work/certs" "$work/reqs" "$work/nginx/root"
: > "$work/paths.txt"; : > "$work/bodies.txt"; : > "$work/index.txt"; : > "$work/responses.txt"
echo "unique_subject = no" > "$work/index.txt.attr"  # every bench certificate has the same subject
for i in $(seq "$CERTS"); do
  $bin issue --data-dir "$data" --csr "$work/r.csr" --out "$work/certs/$i.pem" >/dev/null
done
sleep 2  # the pre-signer publishes within a second of each issuance
for i in $(seq "$CERTS"); do
  cert="$work/certs/$i.pem"
  openssl ocsp -issuer "$data/pki/issuer.pem" -cert "$cert" -no_nonce -reqout "$work/reqs/$i.der" >/dev/null 2>&1
  b64=$(base64 -w0 "$work/reqs/$i.der")
  echo "/$b64" >> "$work/paths.txt"
  echo "$work/reqs/$i.der" >> "$work/bodies.txt"
  # nginx: the response cartorio serves, stored under the request's own path.
  mkdir -p "$(dirname "$work/nginx/root/$b64")"
  curl -sf "http://127.0.0.1:$P_CARTORIO/$b64" -o "$work/nginx/root/$b64"
  base64 -w0 "$work/nginx/root/$b64" >> "$work/responses.txt"; echo >> "$work/responses.txt"
  serial=$(openssl x509 -in "$cert" -noout -serial | cut -d= -f2)
  expiry=$(date -u -d "$(openssl x509 -in "$cert" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
  printf 'V\t%s\t\t%s\tunknown\t/CN=bench.example.test\n' "$expiry" "$serial" >> "$work/index.txt"
done
check() { # name file
  local shown
  shown=$(openssl ocsp -respin "$2" -issuer "$data/pki/issuer.pem" -cert "$work/certs/1.pem" \
    -CAfile "$data/pki/root.pem" 2>&1 || true)
  [[ "$shown" == *": good"* ]] || { echo "$1 did not answer good: $shown" >&2; exit 1; }
}
check cartorio "$work/nginx/root/$(head -1 "$work/paths.txt" | cut -c2-)"

# --- nginx: static files, h1 and h2c ----------------------------------------
cat > "$work/nginx.conf" <<CONF
worker_processes $(nproc);
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/ocsp-response;
  merge_slashes off;
  server { listen 127.0.0.1:$P_NGINX; root $work/nginx/root; }
  server { listen 127.0.0.1:$P_NGINX_H2 http2; root $work/nginx/root; }
}
CONF
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)

# --- openssl ocsp -index (delegated responder key and cert) -----------------
openssl pkey -inform DER -in "$data/pki/ocsp-key.pk8" -out "$work/ocsp-key.pem"
openssl ocsp -index "$work/index.txt" -port $P_OPENSSL -rsigner "$data/pki/ocsp.pem" \
  -rkey "$work/ocsp-key.pem" -CA "$data/pki/issuer.pem" -nmin 60 -multi "$(nproc)" 2>"$work/openssl.log" &
pids+=($!)

# --- cfssl ocspserve with the same pre-signed responses ---------------------
cfssl ocspserve -address 127.0.0.1 -port $P_CFSSL -responses "$work/responses.txt" -loglevel 5 2>"$work/cfssl.log" &
pids+=($!)
for port in $P_OPENSSL $P_CFSSL; do  # wait until each answers
  for _ in $(seq 100); do
    curl -sf --data-binary @"$work/reqs/1.der" -H 'Content-Type: application/ocsp-request' \
      "http://127.0.0.1:$port/" -o "$work/check-$port.der" && break
    sleep 0.1
  done
done
curl -sf "http://127.0.0.1:$P_NGINX$(head -1 "$work/paths.txt")" -o "$work/check-$P_NGINX.der"
check nginx "$work/check-$P_NGINX.der"
check openssl "$work/check-$P_OPENSSL.der"
check cfssl "$work/check-$P_CFSSL.der"

# --- the access log's cost: the same responder with access_log off, refusals, all --
for mode in off refusals all; do
  port_var="P_LOG_${mode^^}"
  cat > "$work/responder-$mode.toml" <<TOML
listen = "127.0.0.1:${!port_var}"
access_log = "$mode"
[store]
kind = "local"
path = "$data/store"
TOML
  $bin --log-format json responder --config "$work/responder-$mode.toml" 2>"$work/responder-$mode.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${!port_var}/readyz" >/dev/null && break; sleep 0.1; done
done

# --- load -------------------------------------------------------------------
results="$work/results.txt"; : > "$results"
run_wrk() { # label url script
  local out="$work/wrk-$1.txt"
  PATHS_FILE="$work/paths.txt" BODIES_FILE="$work/bodies.txt" CONTENT_TYPE=application/ocsp-request \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$3" "$2" > "$out" 2>&1 || true
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out"); p99=$(awk '$1 == "99%" {print $2}' "$out")
  bad=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print "socket-errors"}' "$out" | paste -sd, -)
  printf '%-22s %12s %10s %10s %s\n' "$1" "${rps:-0}" "${p50:--}" "${p99:--}" "${bad:+errors:$bad}" | tee -a "$results"
}
run_h2() { # label base-url
  local out="$work/h2-$1.txt"
  sed "s|^|$2|" "$work/paths.txt" > "$work/urls-$1.txt"
  h2load -c "$CONNECTIONS" -m 10 -t 2 -D "$DURATION" -i "$work/urls-$1.txt" > "$out" 2>&1 || true
  local rps
  rps=$(awk '/^finished in/ {print $4}' "$out")
  printf '%-22s %12s %10s %10s %s\n' "$1" "${rps:-0}" "-" "-" "$(awk '/^requests:/ {print $8, $9}' "$out")" | tee -a "$results"
}
printf '%-22s %12s %10s %10s\n' "run" "req/s" "p50" "p99" | tee -a "$results"
# The headline pair alternates for ROUNDS rounds (a shared VM drifts between
# runs); the ratio reported is the median of the per-round ratios.
ROUNDS=${ROUNDS:-3}
for r in $(seq "$ROUNDS"); do
  run_wrk "cartorio-get-$r" "http://127.0.0.1:$P_CARTORIO" benches/wrk/get_paths.lua
  run_wrk "nginx-get-$r" "http://127.0.0.1:$P_NGINX" benches/wrk/get_paths.lua
done
run_wrk cartorio-post "http://127.0.0.1:$P_CARTORIO/" benches/wrk/post_files.lua
run_wrk cfssl-post "http://127.0.0.1:$P_CFSSL/" benches/wrk/post_files.lua
run_wrk cfssl-get "http://127.0.0.1:$P_CFSSL" benches/wrk/get_paths.lua
run_wrk openssl-post "http://127.0.0.1:$P_OPENSSL/" benches/wrk/post_files.lua
run_h2 cartorio-h2-get "http://127.0.0.1:$P_CARTORIO"
run_h2 nginx-h2-get "http://127.0.0.1:$P_NGINX_H2"

ratio() { awk -v a="$(awk -v k="$1" '$1 == k {print $2}' "$results")" -v b="$(awk -v k="$2" '$1 == k {print $2}' "$results")" \
  'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
echo
median_get=$(for r in $(seq "$ROUNDS"); do ratio "cartorio-get-$r" "nginx-get-$r"; echo; done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
p99s=$(for r in $(seq "$ROUNDS"); do awk -v a="cartorio-get-$r" -v b="nginx-get-$r" '$1 == a {x = $4} $1 == b {y = $4} END {printf "%s vs %s; ", x, y}' "$results"; done)
echo "cartorio/nginx   HTTP/1.1 GET req/s: $median_get median of $ROUNDS alternating rounds   (goal >= 1.0 at equal or better p99)"
echo "                 p99 per round (cartorio vs nginx): $p99s"
echo "cartorio/nginx   HTTP/2 GET req/s:   $(ratio cartorio-h2-get nginx-h2-get)"
echo "cartorio/cfssl   POST req/s:         $(ratio cartorio-post cfssl-post)   (goal >= 3.5)"
echo "cartorio/openssl POST req/s:         $(ratio cartorio-post openssl-post)"

# Access log on and off, alternating (issue 19: logging costs the hot path <= 5%).
for r in $(seq "$ROUNDS"); do
  for mode in off refusals all; do
    port_var="P_LOG_${mode^^}"
    run_wrk "log-$mode-$r" "http://127.0.0.1:${!port_var}" benches/wrk/get_paths.lua
  done
done
logged=$(grep -c '"target":"cartorio::access"' "$work/responder-all.log" || true)
[ "$logged" -gt 0 ] || { echo "access_log = all wrote no line" >&2; exit 1; }
median_ratio() { for r in $(seq "$ROUNDS"); do ratio "$1-$r" "$2-$r"; echo; done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "access log refusals/off OCSP GET req/s: $(median_ratio log-refusals log-off) median of $ROUNDS rounds (default; goal >= 0.95)"
echo "access log all/off      OCSP GET req/s: $(median_ratio log-all log-off) median of $ROUNDS rounds ($logged lines written)"
