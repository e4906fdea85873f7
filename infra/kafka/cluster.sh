#!/usr/bin/env bash
# Start, stop or check a three-node KRaft cluster built from the same Maven Central jars as kafka.sh.
#   infra/kafka/cluster.sh up|down|status|env|kill N
# Each node is broker and controller (combined mode) on loopback. State lives in
# $AISLE_HOME/kafka-cluster/node<N> (data, server.properties, pid, log); the cluster id in
# $AISLE_HOME/kafka-cluster/cluster.id. `up` starts the nodes that are not running and waits for them,
# so it also restarts one that was killed; `kill N` SIGKILLs node N (chaos by hand).
#
#   AISLE_KAFKA_CLUSTER_PORTS             client ports, default 9192,9193,9194
#   AISLE_KAFKA_CLUSTER_CONTROLLER_PORTS  controller ports, default 9195,9196,9197
#   AISLE_KAFKA_HEAP                      heap per node, default 512m
#   AISLE_KAFKA_READY_TIMEOUT_S           how long `up` waits, default 120
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
home=${AISLE_HOME:-$here/../../.aisle}
dir=$home/kafka-cluster
lib=$here/lib
heap=${AISLE_KAFKA_HEAP:-512m}
ready_timeout_s=${AISLE_KAFKA_READY_TIMEOUT_S:-120}
IFS=, read -ra ports <<< "${AISLE_KAFKA_CLUSTER_PORTS:-9192,9193,9194}"
IFS=, read -ra controller_ports <<< "${AISLE_KAFKA_CLUSTER_CONTROLLER_PORTS:-9195,9196,9197}"
source "$here/common.sh"

if ((${#ports[@]} != 3 || ${#controller_ports[@]} != 3)); then
  echo "kafka-cluster: AISLE_KAFKA_CLUSTER_PORTS and AISLE_KAFKA_CLUSTER_CONTROLLER_PORTS need three ports each" >&2
  exit 2
fi
nodes=(1 2 3)

node_dir() { echo "$dir/node$1"; }
port_of() { echo "${ports[$(($1 - 1))]}"; }
pid_of() { cat "$(node_dir "$1")/kafka.pid" 2>/dev/null; }
alive() { local pid; pid=$(pid_of "$1") && kill -0 "$pid" 2>/dev/null; }
bootstrap() { local out=() n; for n in "${nodes[@]}"; do out+=("127.0.0.1:$(port_of "$n")"); done; (IFS=,; echo "${out[*]}"); }
voters() { local out=() n; for n in "${nodes[@]}"; do out+=("$n@127.0.0.1:${controller_ports[$((n - 1))]}"); done; (IFS=,; echo "${out[*]}"); }

prepare() {  # server.properties for node $1, and its storage formatted once with the cluster's id
  local n=$1 nd
  nd=$(node_dir "$n")
  mkdir -p "$nd"
  sed -e "s/@NODE_ID@/$n/" -e "s/@VOTERS@/$(voters)/" -e "s/@PORT@/$(port_of "$n")/g" \
    -e "s/@CONTROLLER_PORT@/${controller_ports[$((n - 1))]}/" "$here/cluster.properties" > "$nd/server.properties"
  echo "log.dirs=$nd/data" >> "$nd/server.properties"
  if [[ ! -f $nd/data/meta.properties ]]; then
    java_cmd kafka.tools.StorageTool format -t "$(cat "$dir/cluster.id")" -c "$nd/server.properties" \
      > "$nd/format.log" 2>&1 || { cat "$nd/format.log" >&2; exit 1; }
  fi
}

start_node() {
  local n=$1 nd pin=() cpus
  nd=$(node_dir "$n")
  if port_open_at "$(port_of "$n")"; then
    echo "kafka-cluster: something else listens on 127.0.0.1:$(port_of "$n"); not starting node $n" >&2; exit 1
  fi
  cpus=$(broker_cpus)
  [[ -n $cpus ]] && pin=(taskset -c "$cpus")
  # Readiness is read from what this start writes to the log, not from an earlier run's lines.
  touch "$nd/kafka.log"
  stat -c %s "$nd/kafka.log" > "$nd/log.offset"
  java_argv
  nohup "${pin[@]}" "${JAVA[@]}" kafka.Kafka "$nd/server.properties" >> "$nd/kafka.log" 2>&1 &
  echo $! > "$nd/kafka.pid"
}

ready() {
  local nd
  nd=$(node_dir "$1")
  port_open_at "$(port_of "$1")" \
    && tail -c +"$(($(cat "$nd/log.offset") + 1))" "$nd/kafka.log" | grep -q "Kafka Server started"
}

up() {
  jars_present || exit 1
  mkdir -p "$dir"
  [[ -f $dir/cluster.id ]] || java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 > "$dir/cluster.id"
  local n starting=()
  for n in "${nodes[@]}"; do
    if alive "$n"; then continue; fi
    prepare "$n"
    start_node "$n"
    starting+=("$n")
  done
  if ((${#starting[@]} == 0)); then echo "kafka-cluster: already running on $(bootstrap)"; return; fi
  echo -n "kafka-cluster: starting node(s) ${starting[*]} "
  # A node finishes starting only once a quorum of controllers (two of three) is up: start all, then wait.
  local waiting=("${starting[@]}") i still
  for ((i = 0; i < ready_timeout_s * 2; i++)); do
    still=()
    for n in "${waiting[@]}"; do
      if ! alive "$n"; then
        echo; echo "kafka-cluster: node $n exited; last lines of $(node_dir "$n")/kafka.log:" >&2
        tail -n 20 "$(node_dir "$n")/kafka.log" >&2; exit 1
      fi
      ready "$n" || still+=("$n")
    done
    if ((${#still[@]} == 0)); then
      echo " ready ($((i / 2)) s) on $(bootstrap). Logs: $dir/node<N>/kafka.log"
      echo "kafka-cluster: use it with: export KAFKA_BOOTSTRAP_SERVERS=$(bootstrap) AISLE_REPLICATION_FACTOR=3"
      return
    fi
    waiting=("${still[@]}")
    echo -n "."; sleep 0.5
  done
  echo; echo "kafka-cluster: node(s) ${waiting[*]} not ready after ${ready_timeout_s}s; see $dir/node<N>/kafka.log" >&2
  exit 1
}

stop_node() {  # SIGTERM node $1, wait up to $2 s, then SIGKILL
  local n=$1 wait_s=$2 pid i
  pid=$(pid_of "$n")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  echo "kafka-cluster: node $n killed after ${wait_s} s"
}

down() {
  local n running=()
  for n in "${nodes[@]}"; do alive "$n" && running+=("$n"); done
  if ((${#running[@]} == 0)); then echo "kafka-cluster: not running"; rm -f "$dir"/node*/kafka.pid; return; fi
  # One by one, so each node's controlled shutdown hands its leaderships to the others. The last node has
  # no controller quorum left to acknowledge its own, and would wait for it: it gets 10 s, then SIGKILL
  # (its log recovers on the next start, as after a crash).
  local last=$((${#running[@]} - 1)) i
  for ((i = 0; i < last; i++)); do stop_node "${running[$i]}" 30; done
  stop_node "${running[$last]}" 10
  rm -f "$dir"/node*/kafka.pid
  echo "kafka-cluster: stopped node(s) ${running[*]}"
}

kill_node() {
  local n=${1:?usage: $0 kill N}
  [[ " ${nodes[*]} " == *" $n "* ]] || { echo "kafka-cluster: no node $n (1-3)" >&2; exit 2; }
  if ! alive "$n"; then echo "kafka-cluster: node $n is not running"; return; fi
  local pid i
  pid=$(pid_of "$n")
  kill -KILL "$pid"
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  echo "kafka-cluster: node $n (pid $pid) killed; '$0 up' starts it again"
}

status() {
  local n up_count=0
  for n in "${nodes[@]}"; do
    if alive "$n" && port_open_at "$(port_of "$n")"; then
      echo "kafka-cluster: node $n running (pid $(pid_of "$n")) on 127.0.0.1:$(port_of "$n")"; ((up_count += 1))
    else
      echo "kafka-cluster: node $n not running (127.0.0.1:$(port_of "$n"))"
    fi
  done
  ((up_count > 0)) || exit 1
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;; kill) kill_node "${2:-}" ;;
  env) echo "export KAFKA_BOOTSTRAP_SERVERS=$(bootstrap) AISLE_REPLICATION_FACTOR=3" ;;
  *) echo "usage: $0 up|down|status|env|kill N" >&2; exit 2 ;;
esac
