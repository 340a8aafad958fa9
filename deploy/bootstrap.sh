#!/usr/bin/env bash
# Shared set-up for the two README commands: a virtual environment with the project installed (redone only
# when pyproject.toml changes), then the services. Sourced, not run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}

ensure_python() {
  if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "[bootstrap] Python 3.11 or newer is needed as '$PY' (set PYTHON=...)" >&2; exit 1
  fi
  if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "[bootstrap] installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
}

ensure_venv() {  # ensure_venv EXTRAS
  local stamp=.venv/.installed-$1 want
  want=$(sha256sum pyproject.toml | cut -c1-16)
  if [[ -x .venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then return 0; fi
  ensure_python
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  echo "[bootstrap] installing the project into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$1]"
  echo "$want" >"$stamp"
}

export HUB_RABBIT__URL=${HUB_RABBIT__URL:-amqp://guest:guest@127.0.0.1:5672/}
export HUB_RABBIT__MANAGEMENT_URL=${HUB_RABBIT__MANAGEMENT_URL:-http://guest:guest@127.0.0.1:15672/}
export HUB_POSTGRES__DSN=${HUB_POSTGRES__DSN:-postgresql://hub:hub@127.0.0.1:5432/hub}
