#!/usr/bin/env bash
# Debian's chromium for the dashboard's browser test (Playwright's own browser download cannot be used here).
set -euo pipefail
if command -v chromium >/dev/null || [[ -x ${HUB_BROWSER:-/usr/bin/chromium} ]]; then exit 0; fi
if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
  echo "[browser] installing Debian's chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  echo "[browser] chromium is missing; the browser test will be skipped locally (install: sudo apt-get install chromium)" >&2
fi
