#!/bin/sh
# The compose `pki` step, run after `ca` (`cartorio control --init` created
# the CA in CARTORIO_DATA_DIR and the registry in PostgreSQL) and before
# anything serves:
#
# - for each entry NAME=DNS[,DNS...] of TLS_CERTS, a P-256 key and a
#   certificate from the control's `tls` CA (profile `server`, 90 days) for
#   those names and 127.0.0.1 (the health checks inside each container):
#   TLS_DIR/NAME.pem (leaf, then the issuing CA) and TLS_DIR/NAME.key;
#   issued (by `cartorio issue` on the registry directly) again when
#   missing or within 30 days of expiry, so every `docker compose up`
#   renews them (the services reload changed files);
# - TLS_DIR/root.pem (the root clients trust) and TLS_DIR/trust.pem (the
#   system's roots plus it: SSL_CERT_FILE of the services, so their S3
#   client trusts the S3 server's certificate);
# - the TSA's signing key and chain, copied from the CA's directory into
#   TSA_DIR (the TSA container never sees the CA's keys);
# - the gateway's key-encryption key in GATEWAY_DIR/kek, made once.
#
# Everything comes from the environment compose sets; nothing here names a
# host or a path, so tests/docker_compose.rs runs this file as it is.
set -eu
umask 077

pki="$CARTORIO_DATA_DIR/pki"
for file in root.pem issuer.pem tsa-key.pk8 tsa-chain.pem; do
  [ -s "$pki/$file" ] || { echo "pki-init: $pki/$file missing: has the ca step (cartorio control --init) run?" >&2; exit 1; }
done

install -m 0644 "$pki/root.pem" "$TLS_DIR/root.pem"
{
  if [ -s /etc/ssl/certs/ca-certificates.crt ]; then cat /etc/ssl/certs/ca-certificates.crt; fi
  cat "$pki/root.pem"
} >"$TLS_DIR/trust.pem.tmp"
chmod 0644 "$TLS_DIR/trust.pem.tmp"
mv "$TLS_DIR/trust.pem.tmp" "$TLS_DIR/trust.pem"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for entry in $TLS_CERTS; do
  name=${entry%%=*}
  dns=${entry#*=}
  chain="$TLS_DIR/$name.pem"
  if [ -s "$chain" ] && [ -s "$TLS_DIR/$name.key" ] \
      && openssl x509 -in "$chain" -noout -checkend 2592000 >/dev/null; then
    continue
  fi
  sans="IP:127.0.0.1"
  for host in $(echo "$dns" | tr ',' ' '); do sans="DNS:$host,$sans"; done
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/$name.key" -out "$work/$name.csr" \
    -subj "/CN=${dns%%,*}" -addext "subjectAltName=$sans" 2>/dev/null
  cartorio --log-format json issue --data-dir "$CARTORIO_DATA_DIR" --csr "$work/$name.csr" \
    --profile server --out "$work/$name.leaf.pem"
  cat "$work/$name.leaf.pem" "$pki/issuer.pem" >"$work/$name.pem"
  chmod 0644 "$work/$name.pem"
  # The key first: a service reloading between the two renames sees a new
  # key with the old certificate for an instant, refuses it and keeps the
  # pair it has; the next change brings the matching pair.
  mv "$work/$name.key" "$TLS_DIR/$name.key"
  mv "$work/$name.pem" "$chain"
  echo "pki-init: $chain for $dns"
done

install -m 0600 "$pki/tsa-key.pk8" "$TSA_DIR/tsa-key.pk8"
install -m 0644 "$pki/tsa-chain.pem" "$TSA_DIR/tsa-chain.pem"

if [ ! -s "$GATEWAY_DIR/kek" ]; then
  cartorio --log-format json gateway kek generate --out "$GATEWAY_DIR/kek"
fi
echo "pki-init: done"
