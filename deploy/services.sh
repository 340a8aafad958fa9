#!/usr/bin/env bash
# Make sure RabbitMQ (with the management plugin) and PostgreSQL answer on loopback, and that the hub's
# database role exists. Reuses running services; otherwise installs them with apt and starts them; otherwise
# uses docker compose where a Docker engine runs; otherwise stops with a message saying what to install.
# Idempotent: a second run only checks the ports and returns.
set -euo pipefail

PG_PORT=${HUB_PG_PORT:-5432}
AMQP_PORT=${HUB_AMQP_PORT:-5672}
MGMT_PORT=${HUB_MGMT_PORT:-15672}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf '[services] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {  # wait_port PORT SECONDS NAME
  local i
  for ((i = 0; i < $2 * 5; i++)); do port_open "$1" && return 0; sleep 0.2; done
  say "$3 did not open port $1 within $2 s"; return 1
}
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
can_apt() { command -v apt-get >/dev/null && { [[ $(id -u) -eq 0 ]] || sudo -n true 2>/dev/null; }; }
has_systemd() { [[ -d /run/systemd/system ]]; }

APT_UPDATED=0
apt_install() {
  if ((APT_UPDATED == 0)); then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

docker_fallback() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    say "no apt/root here; starting RabbitMQ and PostgreSQL with docker compose"
    docker compose -f "$HERE/compose.yaml" up -d rabbitmq postgres
    return 0
  fi
  cat >&2 <<MSG
[services] RabbitMQ and/or PostgreSQL are not answering on 127.0.0.1 and this user cannot install them.
[services] Install and start them, then run this command again:
[services]   sudo apt-get install rabbitmq-server postgresql
[services]   sudo rabbitmq-plugins enable rabbitmq_management
[services] or run a Docker engine so that 'docker compose -f deploy/compose.yaml up -d' can start them.
MSG
  exit 1
}

ensure_rabbitmq() {
  if port_open "$AMQP_PORT" && port_open "$MGMT_PORT"; then return 0; fi
  if ! port_open "$AMQP_PORT"; then
    if ! command -v rabbitmq-server >/dev/null; then
      can_apt || docker_fallback
      say "installing rabbitmq-server"
      apt_install rabbitmq-server
    fi
    as_root rabbitmq-plugins --offline enable rabbitmq_management >/dev/null
    say "starting rabbitmq-server"
    if has_systemd; then as_root systemctl start rabbitmq-server; else as_root rabbitmq-server -detached; fi
    wait_port "$AMQP_PORT" 90 RabbitMQ
  fi
  if ! port_open "$MGMT_PORT"; then
    say "enabling the management plugin"
    as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
  fi
  wait_port "$MGMT_PORT" 60 "RabbitMQ management"
}

ensure_postgres() {
  if ! port_open "$PG_PORT"; then
    if ! command -v pg_ctlcluster >/dev/null; then
      can_apt || docker_fallback
      say "installing postgresql"
      apt_install postgresql
    fi
    say "starting postgresql"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    if has_systemd; then as_root systemctl start postgresql; else
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster "$version" main start
    fi
    wait_port "$PG_PORT" 60 PostgreSQL
  fi
  ensure_role
}

psql_admin() {  # run SQL as the database superuser: trust over TCP if it works, else the postgres OS user
  if PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"
  else
    as_root su postgres -c "psql -p $PG_PORT -d postgres -v ON_ERROR_STOP=1 -Atqc \"$1\""
  fi
}

ensure_role() {
  if PGPASSWORD=hub PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U hub -d hub -Atqc 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  command -v psql >/dev/null || apt_install postgresql-client
  say "creating database role and database 'hub'"
  if [[ -z $(psql_admin "select 1 from pg_roles where rolname='hub'") ]]; then
    psql_admin "create role hub login createdb password 'hub'"
  fi
  if [[ -z $(psql_admin "select 1 from pg_database where datname='hub'") ]]; then
    psql_admin "create database hub owner hub"
  fi
}

ensure_rabbitmq
ensure_postgres
say "RabbitMQ :$AMQP_PORT (management :$MGMT_PORT) and PostgreSQL :$PG_PORT answer"
