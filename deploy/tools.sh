#!/usr/bin/env bash
# Tools some tests drive, from Debian's packages: chromium (the dashboard's browser test, driven by
# Playwright, whose own browser download cannot be used here), amqp-tools and openssl (the
# integration guide's commands are run as written). Missing tools make those tests skip locally and
# fail under CI=true.
set -euo pipefail
need=()
command -v chromium >/dev/null || [[ -x ${HUB_BROWSER:-/usr/bin/chromium} ]] || need+=(chromium)
command -v amqp-publish >/dev/null || need+=(amqp-tools)
command -v openssl >/dev/null || need+=(openssl)
# Playwright drives chromium through its bundled Node, which needs libatomic (not pulled in by chromium)
[[ $(/sbin/ldconfig -p 2>/dev/null) == *"libatomic.so.1 "* ]] || need+=(libatomic1)
((${#need[@]})) || exit 0
if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
  echo "[tools] installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "[tools] missing: ${need[*]} (sudo apt-get install ${need[*]}); their tests will skip locally" >&2
fi
