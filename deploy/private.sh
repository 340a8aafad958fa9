#!/usr/bin/env bash
# Private RabbitMQ nodes and a private PostgreSQL instance on loopback, for the fault suite and the
# cluster test: their own node names, ports, data and logs under one directory, never the shared
# services (rabbit@localhost :5672, PostgreSQL 15/main :5432), which this script does not touch.
#
#   deploy/private.sh rabbit   start|stop|restart|kill|status|remove NODE AMQP_PORT
#   deploy/private.sh rabbitctl NODE ARGS...            rabbitmqctl against a private node
#   deploy/private.sh postgres start|stop|restart|crash|status|remove NAME PORT
#   deploy/private.sh remove                            stop everything private and delete its files
#
# A node's management port is AMQP_PORT+10000 and its distribution port AMQP_PORT+20000 (RabbitMQ's
# own convention, 5672 -> 15672, 25672). Everything lives in $HUB_PRIVATE_DIR (/tmp/hub-private),
# with its own HOME, so the private nodes share an Erlang cookie that the shared node does not have.
# $HUB_RABBIT_ERL_ARGS is added to a node's Erlang VM arguments (deploy/cluster.sh: the address its
# distribution connections leave from, its net_ticktime).
# $HUB_RABBIT_CONF_EXTRA is appended to a node's rabbitmq.conf (deploy/cluster.sh uses it to join
# nodes to a cluster as they first boot). With $HUB_RABBIT_TLS_DIR (ca.pem, server.pem, server.key)
# a node also listens for AMQP over TLS on AMQP_PORT-1 (RabbitMQ's own 5672 -> 5671), and asks every
# TLS client for a certificate signed by that CA. PostgreSQL runs as the `postgres` OS user when
# started by root, with trust auth on 127.0.0.1 and a role and database `hub` (password `hub`).
set -euo pipefail

BASE=${HUB_PRIVATE_DIR:-/tmp/hub-private}
RMQ_BIN=${HUB_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}

say() { printf '[private] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------------------------------------ RabbitMQ

rmq_env() {  # rmq_env NODE AMQP_PORT: export what rabbitmq-server and rabbitmqctl need for NODE
  local node=$1 port=$2 dir="$BASE/rabbit/$1"
  mkdir -p "$dir/mnesia" "$dir/log" "$BASE/home"
  export HOME="$BASE/home"  # the private Erlang cookie
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"  # not /etc/rabbitmq's (it names rabbit@)
  export RABBITMQ_NODENAME="$node@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$port
  export RABBITMQ_DIST_PORT=$((port + 20000))
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_MNESIA_DIR="$dir/mnesia/$node"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_PID_FILE="$dir/$node.pid"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} ${HUB_RABBIT_ERL_ARGS:-}"
  export ERL_EPMD_ADDRESS=127.0.0.1
  [[ -f $RABBITMQ_CONF_ENV_FILE ]] || : >"$RABBITMQ_CONF_ENV_FILE"
  [[ -f $RABBITMQ_ADVANCED_CONFIG_FILE ]] || echo '[].' >"$RABBITMQ_ADVANCED_CONFIG_FILE"
  echo '[rabbitmq_management].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  local tls
  tls=$(tls_conf "$port")
  cat >"$RABBITMQ_CONFIG_FILE" <<CONF
listeners.tcp.local = 127.0.0.1:$port
management.tcp.ip = 127.0.0.1
management.tcp.port = $((port + 10000))
loopback_users = none
log.file.level = warning
# the broker refuses a message over 16 MiB (its default is 128 MiB); the hub refuses what is over
# its own HUB_RABBIT__MAX_MESSAGE_BYTES (1 MiB) before parsing
max_message_size = 16777216
$tls
${HUB_RABBIT_CONF_EXTRA:-}
CONF
}

tls_conf() {  # tls_conf AMQP_PORT: the TLS listener's lines, when $HUB_RABBIT_TLS_DIR names one
  local dir=${HUB_RABBIT_TLS_DIR:-}
  [[ -n $dir ]] || return 0
  local f
  for f in ca.pem server.pem server.key; do [[ -r $dir/$f ]] || die "no $dir/$f"; done
  cat <<CONF
listeners.ssl.local = 127.0.0.1:$(($1 - 1))
ssl_options.cacertfile = $dir/ca.pem
ssl_options.certfile = $dir/server.pem
ssl_options.keyfile = $dir/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
CONF
}

ctl() {  # ctl NODE ARGS...: rabbitmqctl against a private node (its environment must be set)
  local node=$1; shift
  "$RMQ_BIN/rabbitmqctl" -n "$node@localhost" "$@"
}

rabbit_start() {
  local node=$1 port=$2
  if port_open "$port"; then say "$node: port $port already answers"; return 0; fi
  [[ -x $RMQ_BIN/rabbitmq-server ]] || die "no $RMQ_BIN/rabbitmq-server (apt-get install rabbitmq-server)"
  rmq_env "$node" "$port"
  say "starting $node@localhost (amqp :$port, management :$((port + 10000)), dist :$((port + 20000)))"
  (cd "$BASE/rabbit/$node" && "$RMQ_BIN/rabbitmq-server" -detached >"$BASE/rabbit/$node/log/start.out" 2>&1) ||
    die "$node: rabbitmq-server -detached failed (see $BASE/rabbit/$node/log/start.out)"
  ctl "$node" wait --timeout 120 "$RABBITMQ_PID_FILE" >/dev/null || die "$node did not boot (see $BASE/rabbit/$node/log)"
  local i
  local tls=$port  # the TLS port when there is one, else the AMQP port again
  [[ -n ${HUB_RABBIT_TLS_DIR:-} ]] && tls=$((port - 1))
  for ((i = 0; i < 300; i++)); do
    port_open "$port" && port_open $((port + 10000)) && port_open "$tls" && return 0
    sleep 0.2
  done
  die "$node booted but ports $port/$((port + 10000))/$tls do not answer"
}

rabbit_stop() {
  local node=$1 port=$2
  rmq_env "$node" "$port"
  if ctl "$node" ping >/dev/null 2>&1; then
    say "stopping $node@localhost"
    ctl "$node" stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
  fi
}

rabbit_kill() {  # a crash: SIGKILL the node's Erlang VM (its pid file names it)
  local node=$1 port=$2 pid
  rmq_env "$node" "$port"
  pid=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null || true)
  [[ -n $pid ]] || die "$node: no pid file"
  say "kill -9 $node@localhost (pid $pid)"
  kill -9 "$pid"
  local i
  for ((i = 0; i < 100; i++)); do port_open "$port" || return 0; sleep 0.1; done
}

rabbit() {
  local action=${1:?action} node=${2:?node} port=${3:?amqp port}
  case $action in
    start) rabbit_start "$node" "$port" ;;
    stop) rabbit_stop "$node" "$port" ;;
    restart) rabbit_stop "$node" "$port"; rabbit_start "$node" "$port" ;;
    kill) rabbit_kill "$node" "$port" ;;
    remove) rabbit_stop "$node" "$port"; rm -rf "${BASE:?}/rabbit/$node" ;;
    status) rmq_env "$node" "$port"; ctl "$node" status ;;
    *) die "rabbit: unknown action $action" ;;
  esac
}

rabbitctl() {  # rabbitctl NODE ARGS...: the node's port is read from its config file
  local node=${1:?node}; shift
  local conf="$BASE/rabbit/$node/rabbitmq.conf" port
  [[ -f $conf ]] || die "$node was never started here"
  port=$(sed -n 's/^listeners.tcp.local = 127.0.0.1:\([0-9]*\)$/\1/p' "$conf")
  rmq_env "$node" "$port"
  ctl "$node" "$@"
}

# ------------------------------------------------------------------ PostgreSQL

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n $bin ]] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
  echo "$bin"
}

as_pg() {  # run as the postgres OS user when root (initdb refuses root), else as ourselves
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_init() {
  local name=$1 port=$2 dir="$BASE/pg/$1" bin
  bin=$(pg_bin)
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  say "initdb $name in $dir/data"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    die "initdb failed (see $dir/initdb.log)"
  cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 64MB
CONF
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$dir/data/pg_hba.conf"
}

pg_ctl_() {  # pg_ctl_ NAME ARGS...
  local name=$1; shift
  as_pg "$(pg_bin)/pg_ctl" -D "$BASE/pg/$name/data" -l "$BASE/pg/$name/server.log" "$@"
}

pg_start() {
  local name=$1 port=$2 fresh=0
  if port_open "$port"; then say "postgres $name: port $port already answers"; return 0; fi
  [[ -f $BASE/pg/$name/data/PG_VERSION ]] || { pg_init "$name" "$port"; fresh=1; }
  say "starting postgres $name on 127.0.0.1:$port"
  pg_ctl_ "$name" -w -t 60 start >/dev/null
  if ((fresh)); then
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atqc \
      "create role hub login createdb password 'hub'" >/dev/null
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atqc \
      "create database hub owner hub" >/dev/null
  fi
}

postgres() {
  local action=${1:?action} name=${2:?name} port=${3:?port}
  case $action in
    start) pg_start "$name" "$port" ;;
    stop) [[ -f $BASE/pg/$name/data/postmaster.pid ]] && pg_ctl_ "$name" -w -m fast stop >/dev/null || true ;;
    restart) pg_ctl_ "$name" -w -t 60 -m fast restart >/dev/null ;;
    crash) pg_ctl_ "$name" -m immediate stop >/dev/null; pg_ctl_ "$name" -w -t 60 start >/dev/null ;;
    status) pg_ctl_ "$name" status ;;
    remove) postgres stop "$name" "$port"; rm -rf "${BASE:?}/pg/$name" ;;
    *) die "postgres: unknown action $action" ;;
  esac
}

# ------------------------------------------------------------------ everything

remove_all() {
  local conf node port name
  for conf in "$BASE"/rabbit/*/rabbitmq.conf; do
    [[ -f $conf ]] || continue
    node=$(basename "$(dirname "$conf")")
    port=$(sed -n 's/^listeners.tcp.local = 127.0.0.1:\([0-9]*\)$/\1/p' "$conf")
    rabbit_stop "$node" "$port"
  done
  for conf in "$BASE"/pg/*/data/postgresql.conf; do
    [[ -f $conf ]] || continue
    name=$(basename "$(dirname "$(dirname "$conf")")")
    postgres stop "$name" 0
  done
  rm -rf "${BASE:?}"
  say "removed $BASE"
}

case ${1:-} in
  rabbit) shift; rabbit "$@" ;;
  rabbitctl) shift; rabbitctl "$@" ;;
  postgres) shift; postgres "$@" ;;
  remove) remove_all ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
