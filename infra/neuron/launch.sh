#!/usr/bin/env bash
# Launch the OpenAI-compatible vLLM server on Inferentia2/Trainium from a Neuron config file.
#   infra/neuron/launch.sh [--dry-run] [CONFIG]      CONFIG defaults to infra/neuron/neuron.toml
#
# UNTESTED ON HARDWARE (docs/operations.md "Neuron"). Run it inside the Neuron SDK's Python
# environment with the vLLM Neuron plugin installed (its packages come from AWS's Neuron index).
# The command itself is rendered and validated by pipeline/llm/neuron.py, which needs only the
# standard library plus the aisle package: AISLE_PYTHON picks the interpreter that runs it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dry_run=0
if [[ ${1:-} == --dry-run ]]; then dry_run=1; shift; fi
config=${1:-$here/neuron.toml}
renderer=${AISLE_PYTHON:-$repo/.venv/bin/python}
[[ -x $renderer ]] || renderer=python3
# The interpreter on the Neuron host that has vLLM and the plugin (the SDK's venv when active).
vllm_python=${VLLM_PYTHON:-python3}

# The renderer prints one shell-quoted line: `env K=V ... PYTHON -m vllm.entrypoints.openai.api_server ...`.
cmd=$(cd "$repo" && "$renderer" -m pipeline.llm.neuron --python "$vllm_python" "$config")
if ((dry_run)); then echo "$cmd"; exit 0; fi

"$vllm_python" - <<'PY' || { echo "neuron: vLLM with the Neuron platform plugin is not installed for $vllm_python" >&2; exit 1; }
from importlib.metadata import entry_points
plugins = {ep.name for ep in entry_points(group="vllm.platform_plugins")}
raise SystemExit(0 if plugins else 1)
PY
echo "neuron: $cmd"
eval "exec $cmd"
