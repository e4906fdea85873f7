#!/usr/bin/env bash
# Start, stop or check the single-node KRaft broker built from Maven Central jars.
#   infra/kafka/kafka.sh up|down|status
# State lives in $AISLE_HOME/kafka (data, server.properties, pid, log); loopback only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
home=${AISLE_HOME:-$here/../../.aisle}
dir=$home/kafka
lib=$here/lib
port=${AISLE_KAFKA_PORT:-9092}
controller_port=${AISLE_KAFKA_CONTROLLER_PORT:-9093}
ready_timeout_s=${AISLE_KAFKA_READY_TIMEOUT_S:-90}
heap=${AISLE_KAFKA_HEAP:-1g}

source "$here/common.sh"

pid_alive() { [[ -f $dir/kafka.pid ]] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; }
port_open() { port_open_at "$port"; }

up() {
  jars_present || exit 1
  mkdir -p "$dir"
  if pid_alive; then echo "kafka: already running (pid $(cat "$dir/kafka.pid")) on 127.0.0.1:$port"; return; fi
  if port_open; then echo "kafka: something else listens on 127.0.0.1:$port; using it"; return; fi
  sed -e "s/127.0.0.1:9092/127.0.0.1:$port/g" -e "s/127.0.0.1:9093/127.0.0.1:$controller_port/g" \
    "$here/server.properties" > "$dir/server.properties"
  echo "log.dirs=$dir/data" >> "$dir/server.properties"
  if [[ ! -f $dir/data/meta.properties ]]; then
    echo "kafka: formatting KRaft storage in $dir/data"
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" > "$dir/format.log" 2>&1 \
      || { cat "$dir/format.log" >&2; exit 1; }
  fi
  local pin=() cpus
  cpus=$(broker_cpus)
  [[ -n $cpus ]] && pin=(taskset -c "$cpus")
  echo -n "kafka: starting on 127.0.0.1:$port${cpus:+ (cores $cpus)} "
  # nohup and taskset exec the JVM: the pid file holds the broker's own pid.
  java_argv
  nohup "${pin[@]}" "${JAVA[@]}" kafka.Kafka "$dir/server.properties" >> "$dir/kafka.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
  for ((i = 0; i < ready_timeout_s * 2; i++)); do
    if port_open && grep -q "Kafka Server started\|Transitioning from RECOVERY to RUNNING\|started (kafka.server" "$dir/kafka.log" 2>/dev/null; then
      echo " ready ($((i / 2)) s). Log: $dir/kafka.log"; return
    fi
    if ! pid_alive; then echo; echo "kafka: the broker exited; last lines of $dir/kafka.log:" >&2; tail -n 20 "$dir/kafka.log" >&2; exit 1; fi
    echo -n "."; sleep 0.5
  done
  echo; echo "kafka: not ready after ${ready_timeout_s}s; see $dir/kafka.log" >&2; exit 1
}

down() {
  if ! pid_alive; then echo "kafka: not running"; rm -f "$dir/kafka.pid"; return; fi
  pid=$(cat "$dir/kafka.pid")
  # The broker's JVM is a child of the nohup'd bash: stop the whole process group member by member.
  pkill -TERM -P "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do pid_alive || break; sleep 0.5; done
  if pid_alive; then pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$dir/kafka.pid"; echo "kafka: stopped"
}

status() {
  if pid_alive && port_open; then echo "kafka: running (pid $(cat "$dir/kafka.pid")) on 127.0.0.1:$port"
  elif port_open; then echo "kafka: a broker not started by us answers on 127.0.0.1:$port"
  else echo "kafka: not running"; exit 1; fi
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
