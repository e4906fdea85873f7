"""Package a run's adapter as the committed model is packaged: what `infra/vllm/aisle-shop-135m/` holds.

    python -m pipeline.training.train ship --run RUN_DIR --out infra/vllm/aisle-shop-135m

Training keeps the adapter in float32; shipped, it is cast to bfloat16 like the base's weights, which
halves it (about 10 MB at rank 16 on every linear layer) and is what `make shop-model` merges, so a
candidate is evaluated exactly as it would ship. Copies the adapter's config and options
(`aisle-training.json`) and the run's loss curve beside it; the model card is written by hand.

Runs in the vLLM venv (torch, safetensors); torch is imported inside the function.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.errors import ConfigError

ADAPTER_FILES = ("adapter_config.json", "aisle-training.json")
WEIGHTS = "adapter_model.safetensors"


def ship(run: Path, out: Path) -> Path:
    """Write `run`'s adapter, cast to bfloat16, with its config, options and loss curve into `out`.
    Raises ConfigError when the run has no finished adapter."""
    adapter = run / "adapter"
    missing = [name for name in (WEIGHTS, *ADAPTER_FILES) if not (adapter / name).is_file()]
    if missing:
        raise ConfigError(f"{adapter} lacks {', '.join(missing)}: has the run finished?")
    out.mkdir(parents=True, exist_ok=True)
    cast_to_bfloat16(adapter / WEIGHTS, out / WEIGHTS)
    for name in ADAPTER_FILES:
        shutil.copyfile(adapter / name, out / name)
    if (run / "loss.jsonl").is_file():
        shutil.copyfile(run / "loss.jsonl", out / "loss.jsonl")
    return out


def cast_to_bfloat16(source: Path, target: Path) -> None:
    """Write the safetensors file `source` to `target` with its floating-point tensors in bfloat16."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {name: t.to(torch.bfloat16) if t.is_floating_point() else t for name, t in load_file(source).items()}
    save_file(tensors, target, metadata={"format": "pt"})
