#!/usr/bin/env bash
# Detection side by side: every request of the evaluation corpus through the
# gateway's WAF and through nginx + ModSecurity v3 + the OWASP CRS (Debian
# packages, the same set-up as benches/gateway_peers.sh): attacks blocked
# and benign requests passed, per part (tuning, validation), per source and
# class, and per class over all sources. ModSecurity's verdict is its 403; a
# 400 is nginx refusing a malformed request before ModSecurity saw it
# (counted apart).
#
# The corpus is built by benches/waf_corpora.py (the CRS regression corpus,
# wfuzz, sqlmap, wapiti and the naughty strings as attacks; GitHub API
# traffic, Debian prose and the naughty strings as benign), split into a
# tuning and a validation part by a committed seed. Rules are changed by
# looking at the tuning part; figures are quoted from the validation part.
# CORPUS=file replays another file in the same format (the CRS corpus alone:
# CORPUS=../shared/corpora/waf/crs-requests.jsonl, where every line is one
# part, "-").
#
#   bash benches/waf_detection.sh
#   PARANOIA=2 bash benches/waf_detection.sh
# Needs (installed when missing, Debian): nginx-light
# libnginx-mod-http-modsecurity modsecurity-crs python3
set -euo pipefail
cd "$(dirname "$0")/.."
PARANOIA=${PARANOIA:-1}
. benches/lib/modsecurity.sh
modsec_install

cargo build --release -q -p cartorio-benches --bin waf-corpus
bin=${CARGO_TARGET_DIR:-target}/release/waf-corpus

work=$(mktemp -d)
chmod 711 "$work"
if [ -z "${CORPUS:-}" ]; then
  CORPUS=$work/corpus.jsonl
  python3 benches/waf_corpora.py "$CORPUS"
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
upstream=$(free_port)

mkdir -p "$work/nginx-tmp"
modsec_rules "$work" "$PARANOIA"
cat > "$work/nginx.conf" <<CONF
load_module $MODSEC_SO;
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  # \`return\` runs before ModSecurity's phases: the answer comes from a
  # second server, as in front of a real upstream.
  server { listen 127.0.0.1:$upstream; location / { return 200; } }
  server { listen 127.0.0.1:$port; modsecurity on; modsecurity_rules_file $work/modsec-main.conf;
    location / { proxy_pass http://127.0.0.1:$upstream; } }
}
CONF
"$NGINX" -e "$work/nginx-error.log" -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
for i in $(seq 300); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  [ "$i" -lt 300 ] || { echo "nginx + ModSecurity did not start (KEEP=1, $work/nginx-error.log)" >&2; exit 1; }
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/?q=1%27%20union%20select%20password%20from%20users--")" = 403 ] ||
  { echo "ModSecurity did not refuse an SQL injection" >&2; exit 1; }

python3 benches/waf_replay.py "$CORPUS" "$port" > "$work/modsec.txt"
python3 benches/waf_replay.py "$CORPUS" "$port" --form-default > "$work/modsec-form.txt"
"$bin" "$CORPUS" > "$work/cartorio.txt"
echo "corpus: $CORPUS ($(wc -l < "$CORPUS") requests); ModSecurity + CRS $(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null) at paranoia level $PARANOIA"
awk '
  FILENAME == ARGV[1] { status[$1] = $2; next }
  FILENAME == ARGV[2] { form[$1] = $2; next }
  {
    part = $7; family = $2; sub(/^[^\/]*\//, "", family); sub(/-(json|xml)$/, "", family)
    tally(part, $2, $3 == "attack", $4, status[$1] == 403, form[$1] == 403)
    tally(part, "= " family, $3 == "attack", $4, status[$1] == 403, form[$1] == 403)
    tally(part, "= all", $3 == "attack", $4, status[$1] == 403, form[$1] == 403)
    refused400 += (status[$1] == 400); lost += (status[$1] == 0 || status[$1] == "")
  }
  function tally(part, c, attack, mine, theirs, f,   k) {
    k = part SUBSEP c; keys[k] = 1
    if (attack) { a[k]++; ca[k] += mine; ma[k] += theirs; fa[k] += f }
    else { b[k]++; cb[k] += !mine; mb[k] += !theirs; fb[k] += !f }
  }
  function pct(n, d) { return d ? sprintf("%8.1f%%", 100 * n / d) : "        -" }
  END {
    for (k in keys) {
      split(k, pc, SUBSEP)
      line = sprintf("%-11s %-28s %7d %s %s %s   %6d %s %s %s", pc[1], pc[2], a[k], pct(ca[k], a[k]), pct(ma[k], a[k]),
        pct(fa[k], a[k]), b[k], pct(cb[k], b[k]), pct(mb[k], b[k]), pct(fb[k], b[k]))
      print line | "sort"
    }
    printf "%-11s %-28s %7s %9s %9s %9s   %6s %9s %9s %9s\n", "", "", "", "cartorio", "modsec", "modsec*", "", "cartorio", "modsec", "modsec*"
    printf "%-11s %-28s %7s %9s %9s %9s   %6s %9s %9s %9s\n", "part", "source/class", "attacks", "blocked", "blocked", "blocked", "benign", "passed", "passed", "passed"
    fflush()
    close("sort")
    print "rows \"= class\" sum a class over every source; \"= all\" the whole part"
    print "modsec*: bodies sent without a Content-Type declared a form, as the gateway reads them"
    printf "nginx refused %d requests as malformed (400) before ModSecurity; %d got no answer\n", refused400, lost
  }' "$work/modsec.txt" "$work/modsec-form.txt" "$work/cartorio.txt"
