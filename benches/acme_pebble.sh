#!/usr/bin/env bash
# ACME: completed orders/s and latency per order, Cartorio against Pebble,
# same load client (benches/src/bin/acme_load.rs: many accounts at once,
# http-01 answered in process, one name per order, certificate downloaded),
# same machine, same run. Pebble runs with its artificial validation sleeps
# and random nonce rejection off; both resolve names through the same DNS
# server (pebble-challtestsrv, every A query answered 127.0.0.1). Cartorio
# runs `up` as a newcomer would (SQLite registry, commits fsynced, OCSP
# pre-signed for every certificate issued). Goal (issue 17): >= 5x Pebble,
# and >= 200 orders/s.
#
# Pebble runs at 4 concurrent accounts: its best rate on this machine
# (1: 52, 2: 118, 4: 198 to 302 orders/s). At 8 and more, Pebble 2.4 (Debian)
# deadlocks within a second (goroutines blocked in db.MemoryStore's locks,
# SIGQUIT dump) and completes nothing more; the load client's per-order
# timeout (20 s) then counts the orders in flight as failed.
#
# Why 5x is out of reach on a 2-core machine (measured 2026-12-04): the
# load client spends 0.44 ms CPU per order and the DNS server 0.11 ms, so at
# 5 x 302 orders/s they alone take 0.83 of the 2 cores, leaving Cartorio at
# most 0.77 ms per order. It spends 2.9 ms (Pebble 3.5 ms), of which P-256
# arithmetic alone, the ES256 check of every request RFC 8555 requires plus
# the certificate and OCSP signatures, is about 0.5 ms.
#
# Cartorio keeps its default limit of 300 orders per account and hour:
# past about 30 s at 32 accounts, raise ACCOUNTS with SECONDS_EACH.
#
#   bash benches/acme_pebble.sh                    # 15 s each, 32 accounts (Pebble 4)
#   SECONDS_EACH=30 ACCOUNTS=64 bash benches/acme_pebble.sh
#   PEBBLE_ACCOUNTS=32 bash benches/acme_pebble.sh  # see Pebble deadlock
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${SECONDS_EACH:-15}
ACCOUNTS=${ACCOUNTS:-32}
PEBBLE_ACCOUNTS=${PEBBLE_ACCOUNTS:-4}
MAX_ORDERS=${MAX_ORDERS:-20000}
for tool in pebble pebble-challtestsrv openssl; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install pebble openssl" >&2; exit 1; }
done

cargo build --release -q -p cartorio --bin cartorio -p cartorio-benches --bin acme-load
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; wait $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }

dns=$(free_port); dns_mgmt=$(free_port); http01=$(free_port)
pebble-challtestsrv -dns01 127.0.0.1:$dns -management 127.0.0.1:$dns_mgmt -defaultIPv6 "" \
  -http01 "" -https01 "" -tlsalpn01 "" >"$work/challtestsrv.log" 2>&1 &
pids+=($!)
wait_port $dns_mgmt
# load DIRECTORY_URL ACCOUNTS LABEL PID: the same client against either
# server; then the server's CPU time (user + system, from /proc) per order
# completed, which Pebble's deadlock-bound concurrency does not skew
# (Cartorio's includes pre-signing and publishing OCSP for every
# certificate, which Pebble does not do).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load() {
  local before out orders
  before=$(ticks "$4")
  out=$(target/release/acme-load "$1" $http01 $2 $SECONDS_EACH $MAX_ORDERS $3)
  orders=$(sed -nE 's/^[^:]*: ([0-9]+) orders in .*/\1/p' <<<"$out" | head -1)
  echo "$out"
  awk -v t="$(( $(ticks "$4") - before ))" -v hz="$(getconf CLK_TCK)" -v n="$orders" -v l="$3" \
    'BEGIN { printf "%s: server CPU %.2f ms per order\n", l, (n > 0 ? t * 1000 / hz / n : 0) }'
}

# Cartorio.
acme=$(free_port)
target/release/cartorio up --data-dir "$work/cartorio" --acme-listen 127.0.0.1:$acme \
  --acme-dns-server 127.0.0.1:$dns --acme-http-port $http01 \
  --responder-listen 127.0.0.1:0 --control-listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0 \
  --responder-tls-listen 127.0.0.1:0 2>"$work/cartorio.log" &
cartorio_pid=$!
pids+=($cartorio_pid)
wait_port $acme
cartorio_out=$(load "https://127.0.0.1:$acme/acme/directory" $ACCOUNTS Cartorio $cartorio_pid)
echo "$cartorio_out"
kill $cartorio_pid; wait $cartorio_pid 2>/dev/null || true

# Pebble, with a certificate of its own for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/pebble-key.pem" -out "$work/pebble-cert.pem" 2>/dev/null
pebble_port=$(free_port); pebble_mgmt=$(free_port)
cat >"$work/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$pebble_port", "managementListenAddress": "127.0.0.1:$pebble_mgmt",
  "certificate": "$work/pebble-cert.pem", "privateKey": "$work/pebble-key.pem",
  "httpPort": $http01, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  pebble -config "$work/pebble.json" -dnsserver 127.0.0.1:$dns >"$work/pebble.log" 2>&1 &
pebble_pid=$!
pids+=($pebble_pid)
wait_port $pebble_port
pebble_out=$(load "https://127.0.0.1:$pebble_port/dir" $PEBBLE_ACCOUNTS Pebble $pebble_pid)
echo "$pebble_out"

rate() { sed -nE 's/.* = ([0-9.]+) orders\/s.*/\1/p' <<<"$1"; }
cpu() { sed -nE 's/.*server CPU ([0-9.]+) ms per order/\1/p' <<<"$1"; }
awk -v c="$(rate "$cartorio_out")" -v p="$(rate "$pebble_out")" \
  'BEGIN { printf "ratio Cartorio/Pebble = %.1fx (goal >= 5x); Cartorio %.0f orders/s (goal >= 200)\n", c / p, c }'
awk -v c="$(cpu "$cartorio_out")" -v p="$(cpu "$pebble_out")" \
  'BEGIN { if (c > 0) printf "server CPU per order Pebble/Cartorio = %.1fx\n", p / c }'
