#!/usr/bin/env bash
# A streaming replica of a private PostgreSQL instance (deploy/private.sh), and a failover to it:
#
#   deploy/pg-replica.sh replica NAME PORT PRIMARY [sync|async]
#                                 a standby NAME on 127.0.0.1:PORT, copied from the running private
#                                 instance PRIMARY by pg_basebackup over a replication slot; `sync`
#                                 (the default) makes it PRIMARY's synchronous standby: a commit on
#                                 PRIMARY returns once NAME has flushed its WAL
#   deploy/pg-replica.sh kill NAME     a crash: SIGKILL the postmaster and every backend at once (no
#                                      shutdown, no checkpoint; clients see their connections drop)
#   deploy/pg-replica.sh promote NAME  promote the standby NAME (pg_ctl promote); returns once it
#                                      takes writes
#   deploy/pg-replica.sh status NAME   role (primary/standby), and on a primary its standbys
#
# With a synchronous standby a commit that the hub saw succeed is on both instances, so the hub's
# inbox and outbox survive a failover whole (deploy/CLUSTER.md, "PostgreSQL failover"). The cost:
# every commit waits for the standby's flush, and the primary stops committing (waits) while its only
# synchronous standby is down. After a promotion the new primary runs alone and asynchronously
# (`synchronous_standby_names` is empty on the standby) until a new standby is made from it.
#
# Instances live in $HUB_PRIVATE_DIR (/tmp/hub-private) as deploy/private.sh's do, and go with
# `deploy/private.sh remove` (or `postgres remove NAME PORT`). Every wait is bounded.
set -euo pipefail

BASE=${HUB_PRIVATE_DIR:-/tmp/hub-private}
WAIT_S=${HUB_PG_WAIT_S:-60}

say() { printf '[pg-replica] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n $bin ]] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
  echo "$bin"
}

as_pg() {  # as the postgres OS user when root (the data directories are its), else as ourselves
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

data_of() {  # the data directory of instance NAME; fails when there is none
  local data="$BASE/pg/$1/data"
  [[ -f $data/PG_VERSION ]] || die "no instance $1 in $BASE/pg (deploy/private.sh postgres start)"
  echo "$data"
}

port_of() {  # the port instance NAME listens on (the last `port =` of its configuration wins)
  local data port
  data=$(data_of "$1")
  port=$(sed -n "s/^port = \([0-9]*\).*/\1/p" "$data/postgresql.conf" "$data/postgresql.auto.conf" | tail -1)
  [[ -n $port ]] || die "$1: no port in its configuration"
  echo "$port"
}

sql() {  # sql PORT QUERY: one value, as the superuser
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atqc "$2"
}

until_true() {  # until_true WHAT PORT QUERY: poll QUERY (a boolean) until true, at most WAIT_S
  local what=$1 port=$2 query=$3 i
  for ((i = 0; i < WAIT_S * 5; i++)); do
    [[ $(sql "$port" "$query" 2>/dev/null || true) == t ]] && return 0
    sleep 0.2
  done
  die "$what: not within $WAIT_S s"
}

allow_replication() {  # PRIMARY's pg_hba.conf lets loopback replication connections in (trust)
  local primary=$1 port=$2 hba
  hba="$(data_of "$primary")/pg_hba.conf"
  grep -q '^host replication' "$hba" && return 0
  printf 'local replication all trust\nhost replication all 127.0.0.1/32 trust\n' >>"$hba"
  sql "$port" "select pg_reload_conf()" >/dev/null
}

replica() {
  local name=${1:?name} port=${2:?port} primary=${3:?primary} mode=${4:-sync}
  local dir="$BASE/pg/$name" pport slot=${1//[^a-zA-Z0-9_]/_}
  [[ $mode == sync || $mode == async ]] || die "mode is sync or async, not $mode"
  pport=$(port_of "$primary")
  port_open "$pport" || die "$primary does not answer on $pport"
  if port_open "$port"; then die "port $port is taken"; fi
  allow_replication "$primary" "$pport"
  rm -rf "${dir:?}"
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  # A slot keeps on the primary every WAL segment the standby has not received yet.
  sql "$pport" "select pg_drop_replication_slot('$slot') from pg_replication_slots
    where slot_name = '$slot'" >/dev/null
  say "pg_basebackup of $primary (:$pport) into $dir/data"
  as_pg "$(pg_bin)/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir/data" \
    -X stream -C -S "$slot" -R --checkpoint=fast >"$dir/basebackup.log" 2>&1 ||
    die "pg_basebackup failed (see $dir/basebackup.log)"
  # postgresql.auto.conf has the last word (pg_basebackup -R wrote primary_conninfo there): the
  # standby's own port and socket, its name on the primary, and no synchronous standby of its own,
  # so that once promoted it commits alone instead of waiting for a standby that does not exist.
  cat >>"$dir/data/postgresql.auto.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
primary_conninfo = 'host=127.0.0.1 port=$pport user=postgres application_name=$name'
primary_slot_name = '$slot'
synchronous_standby_names = ''
CONF
  say "starting standby $name on 127.0.0.1:$port"
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$WAIT_S" start >/dev/null ||
    die "$name did not start (see $dir/server.log)"
  if [[ $mode == sync ]]; then
    sql "$pport" "alter system set synchronous_standby_names = '\"$name\"'" >/dev/null
  else
    sql "$pport" "alter system reset synchronous_standby_names" >/dev/null
  fi
  sql "$pport" "select pg_reload_conf()" >/dev/null
  local want=async
  [[ $mode == sync ]] && want=sync
  until_true "$name streaming ($want) from $primary" "$pport" \
    "select exists (select from pg_stat_replication where application_name = '$name'
       and state = 'streaming' and sync_state = '$want')"
  say "$name streams from $primary ($want)"
}

kill_() {  # the postmaster and its children in one kill: none is left to restart the others
  local name=${1:?name} data pid kids port i
  data=$(data_of "$name")
  port=$(port_of "$name")
  pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || die "$name is not running"
  kids=$(ps -o pid= --ppid "$pid" | tr '\n' ' ')
  say "kill -9 $name (postmaster $pid and its children $kids)"
  # shellcheck disable=SC2086  # one pid per word
  kill -9 "$pid" $kids 2>/dev/null || true
  for ((i = 0; i < WAIT_S * 10; i++)); do  # gone, or a zombie its parent has not reaped yet
    if [[ $(ps -o stat= -p "$pid" || true) != [^Z]* ]] && ! port_open "$port"; then return 0; fi
    sleep 0.1
  done
  die "$name (pid $pid) still alive after kill -9"
}

promote() {
  local name=${1:?name} data port
  data=$(data_of "$name")
  port=$(port_of "$name")
  [[ -f $data/standby.signal ]] || die "$name is not a standby"
  say "promoting $name"
  as_pg "$(pg_bin)/pg_ctl" -D "$data" -w -t "$WAIT_S" promote >/dev/null || die "promote failed"
  until_true "$name out of recovery" "$port" "select not pg_is_in_recovery()"
}

status() {
  local name=${1:?name} port
  port=$(port_of "$name")
  if [[ $(sql "$port" "select pg_is_in_recovery()") == t ]]; then
    echo "$name: standby on :$port, $(sql "$port" "select status || ' from ' || sender_port
      from pg_stat_wal_receiver")"
  else
    echo "$name: primary on :$port"
    sql "$port" "select '  standby ' || application_name || ': ' || state || ', ' || sync_state
      from pg_stat_replication"
  fi
}

case ${1:-} in
  replica) shift; replica "$@" ;;
  kill) kill_ "${2:-}" ;;
  promote) promote "${2:-}" ;;
  status) status "${2:-}" ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
