#!/usr/bin/env bash
# The main job from a fresh clone: venv + project, RabbitMQ and PostgreSQL, then the hub with its four
# simulated external systems driving a compressed-time scenario. Arguments go to `python -m hub demo`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
ensure_venv dev
bash deploy/services.sh
exec .venv/bin/python -m hub demo "$@"
