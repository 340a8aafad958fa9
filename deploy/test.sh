#!/usr/bin/env bash
# The whole test suite from a fresh clone: venv + project, RabbitMQ and PostgreSQL, then lint, types,
# import rules and every test (unit, handlers, integration on the real broker and database, browser).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
ensure_venv dev
bash deploy/services.sh
bash deploy/tools.sh
export HUB_BROWSER=${HUB_BROWSER:-/usr/bin/chromium}
echo "[test] ruff" >&2;          .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "[test] mypy --strict" >&2; .venv/bin/mypy
echo "[test] import rules" >&2;  .venv/bin/lint-imports
echo "[test] pytest" >&2
export CI=${CI:-}
exec .venv/bin/pytest "$@"
