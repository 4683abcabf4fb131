#!/usr/bin/env bash
# Detection on inputs the rules were not written against, side by side with
# nginx + ModSecurity + CRS: wfuzz's injection and traversal lists and
# sqlmap's payloads (attacks), lines of Debian changelogs and copyright
# files (benign), each as a query argument and as a JSON value. The corpus
# is built by benches/waf_payloads.py from the Debian packages wfuzz and
# sqlmap (downloaded, unpacked, not installed); the table comes from
# benches/waf_detection.sh.
#
#   bash benches/waf_payload_lists.sh
#   BENIGN_LINES=30000 PARANOIA=2 bash benches/waf_payload_lists.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
chmod 755 "$work"
(
  cd "$work"
  # apt's sandbox user cannot write a mktemp directory owned by root.
  apt-get download -o APT::Sandbox::User=root wfuzz sqlmap >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download -o APT::Sandbox::User=root wfuzz sqlmap >/dev/null; }
  dpkg-deb -x wfuzz_*.deb wfuzz
  dpkg-deb -x sqlmap_*.deb sqlmap
)
python3 benches/waf_payloads.py "$work/wfuzz" "$work/sqlmap" "$work/payloads.jsonl" "${BENIGN_LINES:-10000}"
CORPUS="$work/payloads.jsonl" bash benches/waf_detection.sh
