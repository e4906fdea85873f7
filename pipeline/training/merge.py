"""Merge a trained LoRA adapter into its base model: a plain model folder vLLM serves like the base.

vLLM's CPU platform can serve a LoRA adapter itself, but it turns graph compilation off to do so, which
slows every request (../shared/notes/vllm-cpu.md). Merged, the tuned model is an ordinary folder of
weights: same architecture, same size, same speed as the base.

    python -m pipeline.training.train merge --base MODEL_DIR --adapter RUN_DIR/adapter --out MODEL_OUT

Runs in the vLLM venv (torch, transformers, peft); torch is imported inside the function.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from pipeline.errors import ConfigError


def merge(base: Path, adapter: Path, out: Path, dtype: str = "bfloat16") -> Path:
    """Merge `adapter` into the `base` model and write a plain model folder (weights in `dtype`, the
    tokenizer and its chat template) that vLLM serves like the base. Checks that the merged model gives
    the adapter's logits. Raises ConfigError for a missing folder or a merge that changes the output."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for folder in (base, adapter):
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not a folder")
    tokenizer = AutoTokenizer.from_pretrained(base)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter)
    tuned.eval()
    probe = tokenizer("Is this kettle fast? It boils two cups in three minutes.", return_tensors="pt")
    with torch.no_grad():
        expected = tuned(**probe).logits
        merged = tuned.merge_and_unload()
        drift = float((merged(**probe).logits - expected).abs().max())
    if drift > 1e-3:
        raise ConfigError(f"the merged model's logits differ from the adapter's by {drift:.2e}")
    merged = merged.to(getattr(torch, dtype))
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    merged.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    weights = adapter / "adapter_model.safetensors"
    source = {"base": str(base), "adapter": str(adapter), "dtype": dtype,
              "adapter_sha256": hashlib.sha256(weights.read_bytes()).hexdigest() if weights.exists() else None}
    (partial / "aisle-source.json").write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out
