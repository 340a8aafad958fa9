#!/usr/bin/env bash
# A three-node RabbitMQ cluster on one machine, for trying failover and for the cluster test:
#
#   node            AMQP   management  distribution
#   hub1@localhost  5681   15681       25681
#   hub2@localhost  5682   15682       25682
#   hub3@localhost  5683   15683       25683
#
#   bash deploy/cluster.sh start     boot the three nodes (deploy/private.sh) and join hub2, hub3 to hub1
#   bash deploy/cluster.sh status    the cluster as hub1 sees it
#   bash deploy/cluster.sh stop      stop the three nodes (data kept: `start` brings the cluster back)
#   bash deploy/cluster.sh remove    stop them and delete their data
#
# Quorum queues declared on it get a replica on each of the three nodes (RabbitMQ's default group
# size is the cluster's size); with one node down the other two are a majority and the queues go on.
# A node's data and logs are under $HUB_PRIVATE_DIR/rabbit/<node> (default /tmp/hub-private). The shared
# broker (rabbit@localhost :5672) is never touched. Beyond one machine, see deploy/CLUSTER.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PRIVATE="$HERE/private.sh"
NODES=(hub1 hub2 hub3)
PORTS=(5681 5682 5683)

say() { printf '[cluster] %s\n' "$*" >&2; }
ctl() { bash "$PRIVATE" rabbitctl "$@"; }

# hub2 and hub3 find hub1 by peer discovery (classic config) and join it as they first boot.
JOIN_HUB1='cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = hub1@localhost'

boot_all() {
  local i pids=() failed=0
  if [[ -d ${HUB_PRIVATE_DIR:-/tmp/hub-private}/rabbit/hub1/mnesia/hub1@localhost ]]; then
    # Restarting a stopped cluster: all at once, since each node waits for the peers it knew.
    for i in 0 1 2; do bash "$PRIVATE" rabbit start "${NODES[i]}" "${PORTS[i]}" & pids+=($!); done
  else
    bash "$PRIVATE" rabbit start hub1 5681
    for i in 1 2; do
      HUB_RABBIT_CONF_EXTRA=$JOIN_HUB1 bash "$PRIVATE" rabbit start "${NODES[i]}" "${PORTS[i]}" &
      pids+=($!)
    done
  fi
  for i in "${!pids[@]}"; do wait "${pids[i]}" || failed=1; done
  ((failed == 0)) || { say "a node did not start"; exit 1; }
}

member() {  # member NODE: whether NODE is already in hub1's cluster
  [[ $(ctl hub1 eval "lists:member('$1@localhost', rabbit_nodes:all())." 2>/dev/null) == true ]]
}

join() {  # only when peer discovery did not: stop_app, reset, join_cluster, start_app
  local node=$1 log="${HUB_PRIVATE_DIR:-/tmp/hub-private}/rabbit/$1/log/join.log"
  if member "$node"; then return 0; fi
  say "joining $node@localhost to hub1@localhost"
  { ctl "$node" stop_app && ctl "$node" reset && ctl "$node" join_cluster hub1@localhost &&
    ctl "$node" start_app; } >"$log" 2>&1 || { say "join failed: see $log"; exit 1; }
}

running() {
  ctl hub1 eval 'length(rabbit_nodes:all_running()).' 2>/dev/null || echo 0
}

start() {
  boot_all
  join hub2
  join hub3
  local n
  n=$(running)
  [[ $n == 3 ]] || { say "cluster has $n running nodes, not 3"; exit 1; }
  say "three nodes running: amqp://guest:guest@127.0.0.1:{5681,5682,5683}/ (management 1568x)"
}

stop() {
  local i
  for i in 2 1 0; do bash "$PRIVATE" rabbit stop "${NODES[i]}" "${PORTS[i]}"; done
}

remove() {
  local i
  for i in 2 1 0; do bash "$PRIVATE" rabbit remove "${NODES[i]}" "${PORTS[i]}"; done
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  remove) remove ;;
  status) ctl hub1 cluster_status ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
