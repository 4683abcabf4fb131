# Shared by the benchmarks that run nginx + ModSecurity v3 + the OWASP CRS
# (Debian packages) beside the gateway. Source it; it defines:
#
#   modsec_install [extra-package...]   installs what is missing (apt-get),
#                                       sets NGINX
#   modsec_rules DIR PARANOIA           writes DIR/modsec-main.conf: the
#                                       Debian ModSecurity settings with the
#                                       engine on, logs and temp files in DIR,
#                                       then the CRS at PARANOIA
MODSEC_SO=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
CRS=/usr/share/modsecurity-crs

modsec_install() {
  local need=("$@")
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  [ -e "$MODSEC_SO" ] || need+=(libnginx-mod-http-modsecurity)
  [ -d "$CRS/rules" ] || need+=(modsecurity-crs)
  if [ "${#need[@]}" -gt 0 ]; then
    local sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "installing ${need[*]}" >&2
    "${sudo[@]}" apt-get install -y -q "${need[@]}" >/dev/null ||
      { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q "${need[@]}" >/dev/null; }
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

modsec_rules() { # dir paranoia
  local dir=$1 paranoia=$2
  mkdir -p "$dir/modsec-tmp"
  sed -e 's/^SecRuleEngine .*/SecRuleEngine On/' \
      -e "s|^SecAuditLog .*|SecAuditLog $dir/modsec-audit.log|" \
      -e "s|^SecTmpDir .*|SecTmpDir $dir/modsec-tmp/|" \
      -e "s|^SecDataDir .*|SecDataDir $dir/modsec-tmp/|" \
      -e 's|^SecUnicodeMapFile unicode.mapping|SecUnicodeMapFile /etc/nginx/unicode.mapping|' \
      /etc/nginx/modsecurity.conf > "$dir/modsecurity.conf"
  if ! grep -q '^SecRuleEngine On' "$dir/modsecurity.conf" || ! grep -q '^SecRequestBodyAccess On' "$dir/modsecurity.conf"; then
    echo "unexpected /etc/nginx/modsecurity.conf" >&2; return 1
  fi
  cat > "$dir/modsec-main.conf" <<CONF
Include $dir/modsecurity.conf
Include /etc/modsecurity/crs/crs-setup.conf
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=$paranoia"
Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
Include $CRS/rules/*.conf
Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
CONF
}
