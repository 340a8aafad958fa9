#!/usr/bin/env bash
# Tools some tests drive, from Debian's packages: chromium (the dashboard's browser test, driven by
# Playwright, whose own browser download cannot be used here), amqp-tools and openssl (the
# integration guide's commands are run as written), promtool (the alert rules' unit tests). Missing
# tools make those tests skip locally and fail under CI=true.
set -euo pipefail
need=()
command -v chromium >/dev/null || [[ -x ${HUB_BROWSER:-/usr/bin/chromium} ]] || need+=(chromium)
command -v amqp-publish >/dev/null || need+=(amqp-tools)
command -v openssl >/dev/null || need+=(openssl)
# nftables: the cluster test cuts a node off (a partition) by dropping its packets (needs root)
command -v nft >/dev/null || need+=(nftables)
# promtool (package prometheus): the alert rules' unit tests (tests/ops/test_alert_rules.py). The
# package's prometheus daemon is not wanted: it is stopped and disabled below if the install starts it.
command -v promtool >/dev/null || need+=(prometheus)
# Playwright drives chromium through its bundled Node, which needs libatomic (not pulled in by chromium)
[[ $(/sbin/ldconfig -p 2>/dev/null) == *"libatomic.so.1 "* ]] || need+=(libatomic1)
((${#need[@]})) || exit 0
if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
  echo "[tools] installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [[ " ${need[*]} " == *" prometheus "* ]]; then  # only promtool is used; no daemon listens on :9090
    if [[ -d /run/systemd/system ]]; then systemctl disable --now prometheus >/dev/null 2>&1 || true
    else update-rc.d prometheus disable >/dev/null 2>&1 || true; service prometheus stop >/dev/null 2>&1 || true; fi
  fi
else
  echo "[tools] missing: ${need[*]} (sudo apt-get install ${need[*]}); their tests will skip locally" >&2
fi
