"""Checkpoints of a training run: written atomically, the last two kept, resumed exactly.

A checkpoint folder (RUN_DIR/checkpoints/step-000040) holds the LoRA adapter (safetensors), the
optimizer and scheduler state and the random state (trainer.pt), and state.json: the step and the run's
key. Each is written to a `.partial` folder and renamed, so a run killed while saving leaves the previous
checkpoint intact. Resuming refuses a checkpoint of another run (other data or options): continuing it
with different settings would give a model no command reproduces.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted((out / CHECKPOINTS).glob("step-*[0-9]")) if (out / CHECKPOINTS).is_dir() else []
    return found[-1] if found else None


def resume(out: Path, key: str, model: Any, optimizer: Any, scheduler: Any) -> int:
    """Load the last checkpoint into model, optimizer and scheduler; the step it was taken at (0: none)."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        return 0
    state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
    if state["run_key"] != key:
        raise ConfigError(f"{out} holds a run with other data or options (run {state['run_key']}, this one {key}); "
                          "use another --out, or delete it to start over")
    set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
    extra = torch.load(checkpoint / "trainer.pt", weights_only=False)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["rng"])
    if torch.cuda.is_available() and extra.get("cuda_rng") is not None:
        torch.cuda.set_rng_state_all(extra["cuda_rng"])
    print(f"resuming from {checkpoint.name}", file=sys.stderr)
    return int(state["step"])


def save_checkpoint(out: Path, step: int, key: str, model: Any, optimizer: Any, scheduler: Any) -> None:
    """Written to a .partial folder and renamed, so a killed run never leaves half a checkpoint."""
    import torch

    folder = out / CHECKPOINTS / f"step-{step:06d}"
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial, safe_serialization=True)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}, partial / "trainer.pt")
    (partial / "state.json").write_text(json.dumps({"step": step, "run_key": key}) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    for old in sorted((out / CHECKPOINTS).glob("step-*[0-9]"))[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def trim_loss_curve(path: Path, step: int) -> None:
    """Drop loss lines after the checkpoint resumed from (a run killed between checkpoints wrote some)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def publish_adapter(out: Path, model: Any, provenance: dict[str, Any]) -> None:
    """The final adapter as RUN_DIR/adapter, with what made it (aisle-training.json)."""
    final = out / "adapter"
    partial = final.with_name("adapter.partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial, safe_serialization=True)
    (partial / "aisle-training.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
