#!/usr/bin/env bash
# Detection side by side: every request of the OWASP CRS regression corpus
# (../shared/corpora/waf/crs-requests.jsonl) through the gateway's WAF and
# through nginx + ModSecurity v3 + the OWASP CRS (Debian packages, the same
# set-up as benches/gateway_peers.sh), per class: attacks blocked and
# benign requests passed. ModSecurity's verdict is its 403; a 400 is nginx
# refusing a malformed request before ModSecurity saw it (counted apart).
#
# The corpus holds the CRS's tests for every paranoia level; ModSecurity
# runs at PARANOIA (default 1, what Debian ships and the issue compares).
#
#   bash benches/waf_detection.sh
#   PARANOIA=2 bash benches/waf_detection.sh
# Needs (installed when missing, Debian): nginx-light
# libnginx-mod-http-modsecurity modsecurity-crs python3
set -euo pipefail
cd "$(dirname "$0")/.."
PARANOIA=${PARANOIA:-1}
CORPUS=${CORPUS:-../shared/corpora/waf/crs-requests.jsonl}
[ -f "$CORPUS" ] || CORPUS=/work/shared/corpora/waf/crs-requests.jsonl
. benches/lib/modsecurity.sh
modsec_install

cargo build --release -q -p cartorio-benches --bin waf-corpus
bin=${CARGO_TARGET_DIR:-target}/release/waf-corpus

work=$(mktemp -d)
chmod 711 "$work"
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
    c = $2; attack = ($3 == "attack"); mine = $4; s = status[$1]; theirs = (s == 403); f = (form[$1] == 403)
    classes[c] = 1; refused400 += (s == 400); lost += (s == 0 || s == "")
    if (attack) { a[c]++; ca[c] += mine; ma[c] += theirs; fa[c] += f }
    else { b[c]++; cb[c] += !mine; mb[c] += !theirs; fb[c] += !f }
  }
  function pct(n, d) { return d ? 100 * n / d : 0 }
  function row(c) {
    return sprintf("%-17s %7d %8.1f%% %8.1f%% %8.1f%%   %6d %8.1f%% %8.1f%% %8.1f%%", c, a[c], pct(ca[c], a[c]),
      pct(ma[c], a[c]), pct(fa[c], a[c]), b[c], pct(cb[c], b[c]), pct(mb[c], b[c]), pct(fb[c], b[c]))
  }
  END {
    printf "%-17s %7s %9s %9s %9s   %6s %9s %9s %9s\n", "", "", "cartorio", "modsec", "modsec*", "", "cartorio", "modsec", "modsec*"
    printf "%-17s %7s %9s %9s %9s   %6s %9s %9s %9s\n", "class", "attacks", "blocked", "blocked", "blocked", "benign", "passed", "passed", "passed"
    for (c in classes) {
      print row(c) | "sort"
      a["all"] += a[c]; ca["all"] += ca[c]; ma["all"] += ma[c]; fa["all"] += fa[c]
      b["all"] += b[c]; cb["all"] += cb[c]; mb["all"] += mb[c]; fb["all"] += fb[c]
    }
    close("sort")
    print row("all")
    print "modsec*: bodies sent without a Content-Type declared a form, as the gateway reads them"
    printf "nginx refused %d requests as malformed (400) before ModSecurity; %d got no answer\n", refused400, lost
  }' "$work/modsec.txt" "$work/modsec-form.txt" "$work/cartorio.txt"
