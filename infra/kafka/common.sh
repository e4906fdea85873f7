# Shared by kafka.sh (one broker) and cluster.sh (three): sourced, not run. Needs $here, $lib, $heap.

# The broker stays off the cores a local vLLM server busy-waits on (pipeline/runtime/affinity.py has the
# same rule for workers): AISLE_WORKER_CPUS auto | all | a core list such as 1-3.
broker_cpus() {
  local spec=${AISLE_WORKER_CPUS:-auto} llm=${AISLE_LLM_CPUS:-0} url=${AISLE_LLM_URL:-http://127.0.0.1:8000/v1}
  [[ $spec == all ]] && return
  if [[ $spec != auto ]]; then echo "$spec"; return; fi
  [[ $url == *://127.0.0.1[:/]* || $url == *://localhost[:/]* ]] || return
  local n cpus=() part a b c
  n=$(nproc)
  declare -A taken=()
  IFS=, read -ra parts <<< "$llm"
  for part in "${parts[@]}"; do a=${part%-*}; b=${part#*-}; for ((c = a; c <= b; c++)); do taken[$c]=1; done; done
  for ((c = 0; c < n; c++)); do [[ -n ${taken[$c]:-} ]] || cpus+=("$c"); done
  ((${#cpus[@]} > 0 && ${#cpus[@]} < n)) && (IFS=,; echo "${cpus[*]}")
  return 0
}

# The JVM command line, in the array JAVA; `java_cmd ARGS...` runs it in the foreground.
java_argv() {
  JAVA=(java -Xms256m "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -Djava.awt.headless=true "-Dlog4j2.configurationFile=$here/log4j2.yaml" -cp "$lib/*")
}

java_cmd() { java_argv; "${JAVA[@]}" "$@"; }

jars_present() {
  if [[ ! -d $lib ]] || ! ls "$lib"/kafka_2.13-*.jar >/dev/null 2>&1; then
    echo "kafka: jars missing in $lib; run 'make kafka-jars' first" >&2; return 1
  fi
}

port_open_at() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
