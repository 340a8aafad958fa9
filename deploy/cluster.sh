#!/usr/bin/env bash
# A three-node RabbitMQ cluster on one machine, for trying failover and for the cluster test:
#
#   node            AMQP   management  distribution
#   hub1@localhost  5681   15681       25681
#   hub2@localhost  5682   15682       25682
#   hub3@localhost  5683   15683       25683
#
#   bash deploy/cluster.sh start          boot hub1, then hub2 and hub3 one after the other, each
#                                         joining hub1; fails unless all three run as one cluster
#   bash deploy/cluster.sh status         the cluster as hub1 sees it
#   bash deploy/cluster.sh ctl NODE ...   rabbitmqctl against NODE (hub1, hub2 or hub3)
#   bash deploy/cluster.sh queues NODE ...  rabbitmq-queues against NODE (e.g. quorum_status Q --vhost V)
#   bash deploy/cluster.sh kill NODE      kill -9 NODE's Erlang VM (a crash)
#   bash deploy/cluster.sh revive NODE    start NODE again after `kill` (it rejoins the cluster)
#   bash deploy/cluster.sh partition NODE  cut NODE off, the process left running: every packet of
#                                         its distribution and AMQP traffic dropped (nftables, root)
#   bash deploy/cluster.sh heal           end the partition (delete the nftables table)
#   bash deploy/cluster.sh logs [LINES]   the last LINES (80) of each node's logs
#   bash deploy/cluster.sh stop           stop the three nodes (data kept: `start` brings them back)
#   bash deploy/cluster.sh remove         kill -9 the nodes and delete everything (see below)
#
# Quorum queues declared on it get a replica on each of the three nodes (RabbitMQ's default group
# size is the cluster's size); with one node down the other two are a majority and the queues go on.
# A node cut off from the other two pauses itself (`cluster_partition_handling = pause_minority`) and
# resumes when it sees them again. To cut one node off on one machine, each node's distribution
# connections leave from an address of its own (hub1 127.0.1.1, hub2 127.0.1.2, hub3 127.0.1.3;
# all loopback) while every node listens on 127.0.0.1: a node's traffic is then its distribution
# port, its AMQP port and its own source address, which `partition` drops in an nftables table of
# its own (`hub_cluster_partition`, deleted by `heal`, `stop` and `remove`). net_ticktime is 15 s
# (RabbitMQ's default is 60): a silent peer is declared down within about 20 s.
# Everything (data, logs, the Erlang cookie, a PostgreSQL instance the cluster test starts with
# deploy/private.sh) is under $HUB_CLUSTER_DIR (default /tmp/hub-cluster), apart from the fault
# suite's /tmp/hub-private; `remove` deletes that directory. The shared broker (rabbit@localhost
# :5672) is never touched. Every step is bounded in time. Beyond one machine, see deploy/CLUSTER.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PRIVATE="$HERE/private.sh"
export HUB_PRIVATE_DIR=${HUB_CLUSTER_DIR:-/tmp/hub-cluster}
BASE=$HUB_PRIVATE_DIR
RMQ_BIN=${HUB_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}
NODES=(hub1 hub2 hub3)
BOOT_S=${HUB_CLUSTER_BOOT_S:-240}  # one node's boot (and join), at most

say() { printf '[cluster] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_of() {
  case $1 in
    hub1) echo 5681 ;; hub2) echo 5682 ;; hub3) echo 5683 ;;
    *) die "no node $1 (hub1, hub2 or hub3)" ;;
  esac
}
private() { timeout -k 10 "$BOOT_S" bash "$PRIVATE" "$@"; }
ctl() { timeout -k 5 60 bash "$PRIVATE" rabbitctl "$@"; }

pid_of() {  # the pid of NODE's Erlang VM if it is alive
  local pid
  pid=$(cat "$BASE/rabbit/$1/$1.pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

ours() {  # whether NODE answers as a node of this directory (same cookie)
  [[ -f $BASE/rabbit/$1/rabbitmq.conf ]] && ctl "$1" ping >/dev/null 2>&1
}

check_ports() {  # refuse to start beside something else on our ports (a cluster of another dir?)
  local node port p
  for node in "${NODES[@]}"; do
    port=$(port_of "$node")
    for p in "$port" $((port + 10000)) $((port + 20000)); do
      if port_open "$p" && ! ours "$node"; then
        die "port $p is taken, not by $node@localhost of $BASE (a cluster left by another run?" \
          "try HUB_CLUSTER_DIR=<its dir> bash deploy/cluster.sh remove)"
      fi
    done
  done
}

# hub2 and hub3 find hub1 by peer discovery (classic config) and join it as they first boot.
JOIN_HUB1='cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = hub1@localhost'
PAUSE_MINORITY='cluster_partition_handling = pause_minority'
NET_TICKTIME=${HUB_CLUSTER_NET_TICKTIME:-15}
NFT_TABLE=hub_cluster_partition

source_of() {  # the loopback address NODE's distribution connections leave from
  case $1 in
    hub1) echo 127.0.1.1 ;; hub2) echo 127.0.1.2 ;; hub3) echo 127.0.1.3 ;;
    *) die "no node $1 (hub1, hub2 or hub3)" ;;
  esac
}

erl_args() {  # NODE's Erlang VM arguments: its distribution source address, the tick time
  local ip
  ip=$(source_of "$1")
  echo "-kernel inet_dist_connect_options [{ip,{${ip//./,}}}] -kernel net_ticktime $NET_TICKTIME"
}

boot() {  # boot NODE [join]: start NODE and wait until it runs (joined to hub1 on its first boot)
  local node=$1 port extra=$PAUSE_MINORITY
  port=$(port_of "$node")
  [[ ${2:-} == join && ! -d $BASE/rabbit/$node/mnesia/$node@localhost ]] &&
    extra+=$'\n'$JOIN_HUB1
  HUB_RABBIT_CONF_EXTRA=$extra HUB_RABBIT_ERL_ARGS=$(erl_args "$node") \
    private rabbit start "$node" "$port" ||
    die "$node did not start within $BOOT_S s (logs: $BASE/rabbit/$node/log)"
}

boot_all() {
  local i pids=() failed=0
  if [[ -d $BASE/rabbit/hub1/mnesia/hub1@localhost ]]; then
    # Restarting a stopped cluster: all at once, since each node waits for the peers it knew.
    for i in 0 1 2; do boot "${NODES[i]}" & pids+=($!); done
    for i in "${!pids[@]}"; do wait "${pids[i]}" || failed=1; done
    ((failed == 0)) || die "a node did not start"
  else
    # A new cluster: one node at a time. Two nodes joining hub1 at once can both be told of the
    # other, half-joined, and then wait minutes for its Mnesia tables.
    boot hub1
    boot hub2 join
    boot hub3 join
  fi
}

member() {  # member NODE: whether NODE is already in hub1's cluster
  [[ $(ctl hub1 eval "lists:member('$1@localhost', rabbit_nodes:all())." 2>/dev/null) == true ]]
}

join() {  # only when peer discovery did not: stop_app, reset, join_cluster, start_app
  local node=$1 log="$BASE/rabbit/$1/log/join.log"
  if member "$node"; then return 0; fi
  say "joining $node@localhost to hub1@localhost"
  { ctl "$node" stop_app && ctl "$node" reset && ctl "$node" join_cluster hub1@localhost &&
    ctl "$node" start_app; } >"$log" 2>&1 || die "join failed: see $log"
}

running() {
  ctl hub1 eval 'length(rabbit_nodes:all_running()).' 2>/dev/null || echo 0
}

start() {
  [[ -x $RMQ_BIN/rabbitmq-server ]] || die "no $RMQ_BIN/rabbitmq-server (apt-get install rabbitmq-server)"
  check_ports
  boot_all
  join hub2
  join hub3
  local n i
  for ((i = 0; i < 60; i++)); do
    n=$(running)
    [[ $n == 3 ]] && break
    sleep 1
  done
  [[ $n == 3 ]] || die "cluster has $n running nodes, not 3 (logs: $BASE/rabbit/*/log)"
  say "three nodes running: amqp://guest:guest@127.0.0.1:{5681,5682,5683}/ (management 1568x)"
}

stop_node() {  # a clean stop, bounded; kill -9 what is still alive after it
  local node=$1 pid
  [[ -f $BASE/rabbit/$node/rabbitmq.conf ]] || return 0
  timeout -k 5 90 bash "$PRIVATE" rabbit stop "$node" "$(port_of "$node")" ||
    say "$node did not stop cleanly"
  if pid=$(pid_of "$node"); then
    say "kill -9 $node@localhost (pid $pid)"
    kill -9 "$pid" 2>/dev/null || true
  fi
}

partition() {  # partition NODE: drop every packet NODE sends or is sent, on the cluster's ports
  local node=${1:?node} port src
  port=$(port_of "$node")
  src=$(source_of "$node")
  command -v nft >/dev/null || die "no nft (apt-get install nftables; it needs root)"
  say "cutting $node@localhost off: distribution :$((port + 20000)) and from $src, AMQP :$port"
  # Replaces the table if there is one: one node cut off at a time. Only loopback traffic of the
  # cluster's own ports and addresses matches; the hook is output (every local packet passes it).
  nft -f - <<NFT || die "nft refused the rules (root? a kernel with nf_tables?)"
table inet $NFT_TABLE
delete table inet $NFT_TABLE
table inet $NFT_TABLE {
  chain out {
    type filter hook output priority 0; policy accept;
    ip saddr $src drop
    ip daddr $src drop
    tcp dport { $((port + 20000)), $port } drop
    tcp sport { $((port + 20000)), $port } drop
  }
}
NFT
}

heal() {  # delete the partition's table, if any
  command -v nft >/dev/null || return 0
  if nft list table inet "$NFT_TABLE" >/dev/null 2>&1; then
    nft delete table inet "$NFT_TABLE"
    say "partition healed"
  fi
}

stop() {
  local node
  heal
  for node in hub3 hub2 hub1; do stop_node "$node"; done
}

remove() {  # the data goes too, so no clean stop: kill -9 each VM and wait until its ports close
  local conf name pid node i
  heal
  for node in "${NODES[@]}"; do
    if pid=$(pid_of "$node"); then kill -9 "$pid" 2>/dev/null || true; fi
  done
  for node in "${NODES[@]}"; do
    for ((i = 0; i < 100; i++)); do pid_of "$node" >/dev/null || break; sleep 0.1; done
    ! pid_of "$node" >/dev/null || say "$node@localhost is still alive"
  done
  for conf in "$BASE"/pg/*/data/postgresql.conf; do  # the cluster test's PostgreSQL, if any
    [[ -f $conf ]] || continue
    name=$(basename "$(dirname "$(dirname "$conf")")")
    timeout -k 5 90 bash "$PRIVATE" postgres stop "$name" 0 || say "postgres $name did not stop"
    pid=$(head -1 "$(dirname "$conf")/postmaster.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  rm -rf "${BASE:?}"
  say "removed $BASE"
}

logs() {  # the tail of every log of every node
  local lines=${1:-80} f
  for f in "$BASE"/rabbit/*/log/*; do
    [[ -f $f && -s $f ]] || continue
    printf '===== %s (last %s lines)\n' "${f#"$BASE"/}" "$lines"
    tail -n "$lines" "$f"
  done
}

queues() {  # queues NODE ARGS...: rabbitmq-queues against a node of the cluster
  local node=${1:?node}; shift
  [[ -f $BASE/rabbit/$node/rabbitmq.conf ]] || die "$node was never started here"
  HOME="$BASE/home" RABBITMQ_CONF_ENV_FILE="$BASE/rabbit/$node/rabbitmq-env.conf" \
    ERL_EPMD_ADDRESS=127.0.0.1 timeout -k 5 60 "$RMQ_BIN/rabbitmq-queues" -n "$node@localhost" "$@"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  remove) remove ;;
  status) ctl hub1 cluster_status ;;
  ctl) shift; node=${1:?node}; port_of "$node" >/dev/null; shift; ctl "$node" "$@" ;;
  queues) shift; queues "$@" ;;
  kill) timeout -k 5 60 bash "$PRIVATE" rabbit kill "${2:?node}" "$(port_of "$2")" ;;
  revive) boot "${2:?node}" ;;
  partition) partition "${2:?node}" ;;
  heal) heal ;;
  logs) logs "${2:-80}" ;;
  *) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
