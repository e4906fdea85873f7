#!/usr/bin/env bash
# Start, stop or check the vLLM OpenAI-compatible server (CPU) that serves the local model.
#   infra/vllm/vllm.sh up|down|status
# Pid in $AISLE_HOME/run/vllm-PORT.pid, log in $AISLE_HOME/logs/vllm-PORT.log, compile cache in
# $AISLE_HOME/cache/vllm. Recipe and the reasons behind each setting: docs/operations.md "LLM serving".
#
# Environment (defaults in brackets):
#   AISLE_LLM_PORT [8000]                 port on 127.0.0.1
#   AISLE_LLM_MODEL [aisle-shop-135m]     the local model: aisle-shop-135m (tuned) or smollm2-135m-instruct (base)
#   AISLE_LLM_MODEL_DIR [$AISLE_HOME/models/$AISLE_LLM_MODEL]
#   AISLE_LLM_SERVED_NAMES [$AISLE_LLM_MODEL]   space-separated names the API answers to
#   AISLE_LLM_CPUS [0]                    cores vLLM is pinned to (taskset list, e.g. "0" or "0-3")
#   AISLE_LLM_KV_CACHE_MB [512]           KV cache size (SmolLM2-135M: 46 KB/token fp32, 23 KB bf16)
#   AISLE_LLM_MAX_MODEL_LEN [4096]        longest prompt + completion, tokens
#   AISLE_LLM_MAX_NUM_SEQS [16]           sequences batched together (continuous batching)
#   AISLE_LLM_DTYPE [auto]                auto: bfloat16 with AVX-512 BF16, else float32
#   AISLE_LLM_EAGER [0]                   1: skip torch.compile (faster start, slower tokens)
#   AISLE_LLM_SPECULATIVE []              ngram: prompt-lookup speculative decoding (lossless)
#   AISLE_LLM_SINGLE_PROCESS [0]          1: engine and model in the API server's process (no busy-wait
#                                         hand-offs between processes sharing one core)
#   AISLE_LLM_READY_TIMEOUT_S [600]       how long `up` waits for /health (a cold compile on one busy core: ~5 min)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
home=$(mkdir -p "${AISLE_HOME:-$here/../../.aisle}" && cd "${AISLE_HOME:-$here/../../.aisle}" && pwd)
vpy=$here/.venv/bin/python
port=${AISLE_LLM_PORT:-8000}
model=${AISLE_LLM_MODEL:-aisle-shop-135m}
model_dir=${AISLE_LLM_MODEL_DIR:-$home/models/$model}
served_names=${AISLE_LLM_SERVED_NAMES:-$model}
cpus=${AISLE_LLM_CPUS:-0}
kv_cache_mb=${AISLE_LLM_KV_CACHE_MB:-512}
max_model_len=${AISLE_LLM_MAX_MODEL_LEN:-4096}
max_num_seqs=${AISLE_LLM_MAX_NUM_SEQS:-16}
dtype=${AISLE_LLM_DTYPE:-auto}
eager=${AISLE_LLM_EAGER:-0}
speculative=${AISLE_LLM_SPECULATIVE:-}
single_process=${AISLE_LLM_SINGLE_PROCESS:-0}
ready_timeout_s=${AISLE_LLM_READY_TIMEOUT_S:-600}
# One pid and log per port, so a second server (e.g. a speculative-decoding trial) can run beside.
pidfile=$home/run/vllm-$port.pid
log=$home/logs/vllm-$port.log
url=http://127.0.0.1:$port

pid_alive() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
healthy() { curl -sf -o /dev/null --max-time 2 "$url/health"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
# Resident memory of the server and its engine process (same process group), MB.
rss_mb() { ps -o rss= -g "$(cat "$pidfile")" 2>/dev/null | awk '{s += $1} END {printf "%.0f", s / 1024}'; }

server_args() {
  if [[ $dtype == auto ]]; then
    # Without AVX-512 BF16 the CPU emulates bfloat16 math; float32 is faster there.
    if grep -qw avx512_bf16 /proc/cpuinfo; then dtype=bfloat16; else dtype=float32; fi
  fi
  # shellcheck disable=SC2206
  local names=($served_names)
  args=(-m vllm.entrypoints.openai.api_server
    --model "$model_dir" --served-model-name "${names[@]}"
    --host 127.0.0.1 --port "$port"
    --dtype "$dtype" --max-model-len "$max_model_len" --max-num-seqs "$max_num_seqs"
    --kv-cache-memory-bytes $((kv_cache_mb * 1024 * 1024))
    # Per-request whitespace settings are ignored; without this, JSON outputs wander into whitespace.
    --structured-outputs-config '{"backend":"xgrammar","disable_any_whitespace":true}'
    --generation-config vllm --disable-uvicorn-access-log)
  if [[ $eager == 1 ]]; then args+=(--enforce-eager); fi
  mp_env=(VLLM_ENABLE_V1_MULTIPROCESSING=1)
  if [[ $single_process == 1 ]]; then
    args+=(--distributed-executor-backend uni)
    mp_env=(VLLM_ENABLE_V1_MULTIPROCESSING=0 OMP_NUM_THREADS=1)
  fi
  case $speculative in
    "") ;;
    ngram) args+=(--speculative-config
      '{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4,"prompt_lookup_min":2}') ;;
    *) echo "vllm: AISLE_LLM_SPECULATIVE=$speculative is not one of: ngram" >&2; exit 2 ;;
  esac
}

up() {
  [[ -x $vpy ]] || { echo "vllm: $vpy missing; run 'make llm-install' first" >&2; exit 1; }
  [[ -f $model_dir/config.json ]] || { echo "vllm: no model in $model_dir; run 'make llm-model' first" >&2; exit 1; }
  mkdir -p "$home/run" "$home/logs" "$home/cache/vllm"
  if pid_alive; then echo "vllm: already running (pid $(cat "$pidfile")) at $url"; return; fi
  if port_open; then echo "vllm: something else listens on 127.0.0.1:$port; using it"; return; fi
  server_args
  local mode=compiled; [[ $eager == 1 ]] && mode=eager; [[ $single_process == 1 ]] && mode+=", one process"
  echo "vllm: starting $served_names on $url (cpus $cpus, $dtype, $mode, kv ${kv_cache_mb} MB${speculative:+, speculative $speculative})"
  echo "=== $(date -Is) ${args[*]}" >> "$log"
  local started=$SECONDS
  # setsid: the server and its engine process share one process group that `down` stops as a whole.
  # VLLM_USE_AOT_COMPILE=0: vLLM 0.32's AOT artefacts fail to load on CPU ("'function' object has no
  # attribute 'finalize_loading'"), so every start recompiled; the older compile cache is reused.
  # Pinning matters: vLLM's engine busy-waits and starves every process sharing its cores.
  env "${mp_env[@]}" VLLM_CPU_OMP_THREADS_BIND="$cpus" VLLM_CPU_NUM_OF_RESERVED_CPU=0 VLLM_HOST_IP=127.0.0.1 \
    VLLM_NO_USAGE_STATS=1 VLLM_DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    VLLM_CACHE_ROOT="$home/cache/vllm" TORCHINDUCTOR_CACHE_DIR="$home/cache/torchinductor" \
    VLLM_USE_AOT_COMPILE="${VLLM_USE_AOT_COMPILE:-0}" \
    setsid nohup taskset -c "$cpus" "$vpy" "${args[@]}" >> "$log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  while ((SECONDS - started < ready_timeout_s)); do
    if healthy; then
      echo "vllm: ready in $((SECONDS - started)) s, $(rss_mb) MB resident. Log: $log"; return
    fi
    if ! pid_alive; then
      echo "vllm: the server exited during start; last lines of $log:" >&2; tail -n 25 "$log" >&2
      rm -f "$pidfile"; exit 1
    fi
    sleep 1
  done
  echo "vllm: not healthy after ${ready_timeout_s} s (AISLE_LLM_READY_TIMEOUT_S); still starting or stuck, see $log" >&2
  exit 1
}

down() {
  if ! pid_alive; then echo "vllm: not running"; rm -f "$pidfile"; return; fi
  local pid; pid=$(cat "$pidfile")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do pid_alive || break; sleep 0.5; done
  if pid_alive || ps -o pid= -g "$pid" >/dev/null 2>&1; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"; echo "vllm: stopped"
}

status() {
  if pid_alive && healthy; then echo "vllm: running (pid $(cat "$pidfile"), $(rss_mb) MB) at $url"
  elif pid_alive; then echo "vllm: starting or unhealthy (pid $(cat "$pidfile")); see $log"; exit 1
  elif healthy; then echo "vllm: a server not started by us answers at $url"
  else echo "vllm: not running"; exit 1; fi
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
