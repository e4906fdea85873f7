"""LoRA fine-tune of SmolLM2-135M-Instruct on the training data; the command line for it and the merge.

    python -m pipeline.training.train run --data DIR/train.jsonl --base MODEL_DIR --out RUN_DIR [options]
    python -m pipeline.training.train merge --base MODEL_DIR --adapter RUN_DIR/adapter --out MODEL_OUT

Runs in the vLLM venv (torch, transformers; `make train-deps` adds peft); `make train` runs both. The
same command trains on CUDA when a GPU is there, else on the CPU cores this process may use.

Why each choice:
- Loss only on the assistant's tokens (the answer and its closing <|im_end|>): the prompt is the
  served one, and the model must learn to answer it, not to write evidence. The chat template comes
  from the base model's tokenizer, as vLLM applies it.
- LoRA on every linear layer: a small adapter that merges into the base in seconds (merge.py), so
  vLLM serves a plain model at full speed.
- Examples longer than --max-length tokens are left out rather than cut: a cut prompt is not one the
  generate stage ever sends. Batches group examples of similar length (less padding), and a batch runs
  as micro-batches of at most --micro-tokens padded tokens, which bounds memory.
- Reproducible: a fixed seed orders the data and seeds dropout. A checkpoint (_checkpoints.py) is
  written every --save-every steps; rerunning the same command resumes from the last one and goes on
  as if never stopped. A run folder refuses options that would change the run.
- The loss curve is appended to RUN_DIR/loss.jsonl at every step; RUN_DIR/run.json sums the run up
  (examples, wall and CPU seconds per example, peak memory, device).

torch is imported inside functions only, so the package (and its unit tests) never needs it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import AisleError, ConfigError
from pipeline.training._checkpoints import publish_adapter, resume, save_checkpoint, trim_loss_curve
from pipeline.training.merge import merge
from pipeline.training.selection import read_examples
from pipeline.training.ship import ship

IGNORE = -100
"""Label of a token the loss skips (the prompt, padding)."""
_RUN_FIELDS = ("epochs", "max_examples", "mix", "pair", "rank", "alpha", "dropout", "lr", "max_length", "batch", "seed", "warmup_steps")


@dataclass(frozen=True)
class TrainOptions:
    data: Path
    base: Path
    out: Path
    epochs: int = 1
    max_examples: int = 3000
    """Train on the first N examples of the data file (shuffled when built, so a proportional sample of
    every source); 0: all. The default fits about 2 hours on this project's 2-core CPU machines at the
    seconds per example docs/training.md measures; a GPU takes all of them (0) in minutes."""
    mix: str = ""
    """Quotas per kind, "kind=N,kind=N" (docs/training.md, "The mix"): the first N examples of each named
    kind in file order, the others left out; overrides --max-examples. Empty: a proportional sample.
    On a CPU budget this spends the examples on what the model does worst rather than in proportion."""
    pair: str = ""
    """With a mix, "a:b": every example of kind a taken brings in first the example of kind b with the same
    `ref` (within b's quota). "not_sure:grounded_answer" shows the model each unanswerable question also
    answered from the snippet that answers it, so that it learns to tell the two apart."""
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    lr: float = 3e-4
    max_length: int = 1024
    """Tokens per example (prompt + answer); longer examples are left out."""
    batch: int = 8
    seed: int = 1234
    warmup_steps: int = 20
    save_every: int = 20
    """Optimizer steps between checkpoints."""
    max_steps: int = 0
    """Stop after this many steps in all (0: run to the end); a rerun without it resumes."""
    micro_tokens: int = 512
    """Padded tokens per forward pass: a batch is split into micro-batches whose gradients accumulate,
    which bounds memory without changing the batch (peak memory and speed: docs/training.md)."""


# ---- pure parts (no torch) --------------------------------------------------------------------------

def assistant_labels(prompt_ids: Sequence[int], full_ids: Sequence[int], end_id: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) for one exchange: labels only on the answer, through its last `end_id`
    (<|im_end|>); what the template adds after it is dropped. Raises ConfigError when the prompt is
    not a prefix of the whole (a chat template that rewrites earlier turns)."""
    if list(full_ids[: len(prompt_ids)]) != list(prompt_ids):
        raise ConfigError("the chat template does not render the prompt as a prefix of the exchange")
    answer = list(full_ids[len(prompt_ids):])
    if end_id in answer:
        answer = answer[: len(answer) - answer[::-1].index(end_id)]
    return list(prompt_ids) + answer, [IGNORE] * len(prompt_ids) + answer


def length_batches(lengths: Sequence[int], batch: int, seed: int, epoch: int) -> list[list[int]]:
    """Example indices in batches of similar length, in an order fixed by (seed, epoch): shuffled,
    sorted by length within windows of 32 batches, and the batches shuffled again."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch * 32
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: (lengths[i], i))
        batches += [chunk[i:i + batch] for i in range(0, len(chunk), batch)]
    rng.shuffle(batches)
    return batches


def micro_batches(batch: Iterable[int], lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """`batch` (example indices) in pieces whose padded size (examples x longest) stays within
    `max_tokens`, shortest first; an example longer than that is a piece of its own."""
    pieces: list[list[int]] = []
    current: list[int] = []
    for i in sorted(batch, key=lambda i: (lengths[i], i)):
        if current and (len(current) + 1) * lengths[i] > max_tokens:
            pieces.append(current)
            current = []
        current.append(i)
    if current:
        pieces.append(current)
    return pieces


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then linear decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def run_key(options: TrainOptions, data_sha256: str) -> str:
    """What makes a run this run: the examples and every option that changes the trajectory."""
    fields = {name: getattr(options, name) for name in _RUN_FIELDS}
    return hashlib.sha256(json.dumps({"data": data_sha256, **fields}, sort_keys=True).encode()).hexdigest()[:16]


# ---- training (torch) -------------------------------------------------------------------------------

def train(options: TrainOptions) -> dict[str, Any]:
    """Train (or resume) the LoRA adapter; write RUN_DIR/adapter and RUN_DIR/run.json; the summary."""
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    random.seed(options.seed)
    torch.manual_seed(options.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    rows = read_examples(options.data, options.max_examples, options.mix, options.pair)
    data_sha = hashlib.sha256("\n".join(json.dumps(r, sort_keys=True) for r in rows).encode()).hexdigest()
    key = run_key(options, data_sha)
    options.out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(options.base)
    end_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    encoded, too_long = _encode_all(tokenizer, rows, options.max_length, end_id)
    if not encoded:
        raise ConfigError(f"every example is longer than --max-length {options.max_length}")
    model = AutoModelForCausalLM.from_pretrained(options.base, dtype=torch.float32)
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=options.dropout,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    model.to(device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=options.lr, weight_decay=0.0)
    lengths = [len(ids) for ids, _ in encoded]
    per_epoch = len(length_batches(lengths, options.batch, options.seed, 0))
    total = per_epoch * options.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total, min(options.warmup_steps, max(1, total // 10))))
    step = resume(options.out, key, model, optimizer, scheduler)
    trim_loss_curve(options.out / "loss.jsonl", step)
    stop = min(total, options.max_steps) if options.max_steps > 0 else total
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id
    trained_examples, train_seconds, train_cpu_seconds, loss_value = 0, 0.0, 0.0, float("nan")
    order: dict[int, list[list[int]]] = {}
    model.train()
    bar = tqdm(total=total, initial=step, unit="step", desc="train", dynamic_ncols=True)
    with (options.out / "loss.jsonl").open("a", encoding="utf-8") as curve:
        while step < stop:
            epoch, index = divmod(step, per_epoch)
            if epoch not in order:
                order[epoch] = length_batches(lengths, options.batch, options.seed, epoch)
            batch = order[epoch][index]
            tick, cpu_tick = time.monotonic(), time.process_time()
            loss_value, tokens = _accumulate(model, [encoded[i] for i in batch], pad_id, device, options.micro_tokens)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seconds, cpu_seconds = time.monotonic() - tick, time.process_time() - cpu_tick
            trained_examples += len(batch)
            train_seconds += seconds
            train_cpu_seconds += cpu_seconds
            curve.write(json.dumps({"step": step, "epoch": epoch, "loss": round(loss_value, 5),
                                    "lr": scheduler.get_last_lr()[0], "examples": len(batch),
                                    "tokens": tokens, "seconds": round(seconds, 3),
                                    "cpu_seconds": round(cpu_seconds, 3)}) + "\n")
            curve.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}", s_per_example=f"{train_seconds / trained_examples:.2f}")
            if step % options.save_every == 0 or step == stop:
                save_checkpoint(options.out, step, key, model, optimizer, scheduler)
    bar.close()
    if step >= total:
        publish_adapter(options.out, model, {"run_key": key, "base": str(options.base), "data": str(options.data),
                                             **{name: getattr(options, name) for name in _RUN_FIELDS}})
    summary = {"run_key": key, "finished": step >= total, "step": step, "total_steps": total, "device": device,
               "threads": torch.get_num_threads(), "examples": len(encoded), "left_out_too_long": too_long,
               "trained_examples_this_session": trained_examples,
               "seconds_per_example": round(train_seconds / trained_examples, 3) if trained_examples else None,
               "cpu_seconds_per_example": round(train_cpu_seconds / trained_examples, 3) if trained_examples else None,
               "wall_seconds_this_session": round(time.monotonic() - started, 1), "last_loss": loss_value,
               "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
               "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}}
    (options.out / "run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _accumulate(model: Any, items: Sequence[tuple[list[int], list[int]]], pad_id: int, device: str,
                micro_tokens: int) -> tuple[float, int]:
    """Forward and backward over one batch in micro-batches of at most `micro_tokens` padded tokens,
    the gradients summing to those of the mean loss over all the batch's answer tokens. Returns
    (that mean loss, tokens). A batch of eight 1,000-token examples in one piece needed 20 GB here."""
    import torch

    lengths = [len(ids) for ids, _ in items]
    answer_tokens = sum(1 for _, labels in items for label in labels if label != IGNORE)
    loss_sum, tokens = 0.0, 0
    for piece in micro_batches(range(len(items)), lengths, micro_tokens):
        inputs = _collate([items[i] for i in piece], pad_id, device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = answer_loss(model, inputs, reduction="sum")
        (loss / answer_tokens).backward()
        loss_sum += float(loss.detach())
        tokens += sum(lengths[i] for i in piece)
    return loss_sum / max(1, answer_tokens), tokens


def answer_loss(model: Any, inputs: dict[str, Any], reduction: str = "mean") -> Any:
    """Cross-entropy over the answer tokens, with the output layer applied to those positions only.

    The model's own loss computes logits over the 49,152-word vocabulary at every position, prompt
    included, though only about one token in six is an answer token: most of a step's memory traffic.
    """
    import torch

    base = model.get_base_model()
    hidden = base.get_decoder()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).last_hidden_state
    labels = inputs["labels"][:, 1:]
    keep = labels != IGNORE
    logits = base.get_output_embeddings()(hidden[:, :-1][keep]).float()
    return torch.nn.functional.cross_entropy(logits, labels[keep], reduction=reduction)


def _encode_all(tokenizer: Any, rows: Sequence[dict[str, Any]], max_length: int,
                end_id: int) -> tuple[list[tuple[list[int], list[int]]], int]:
    encoded: list[tuple[list[int], list[int]]] = []
    too_long = 0
    for row in rows:
        messages = row["messages"]
        prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True)
        full = tokenizer.apply_chat_template(messages, tokenize=True)
        ids, labels = assistant_labels(_ids(prompt), _ids(full), end_id)
        if len(ids) > max_length:
            too_long += 1
            continue
        encoded.append((ids, labels))
    return encoded, too_long


def _ids(rendered: Any) -> list[int]:
    """transformers 5 returns a BatchEncoding from apply_chat_template; older ones a list."""
    return list(rendered["input_ids"] if hasattr(rendered, "keys") else rendered)


def _collate(items: Sequence[tuple[list[int], list[int]]], pad_id: int, device: str) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in items)
    ids = [i + [pad_id] * (width - len(i)) for i, _ in items]
    labels = [lab + [IGNORE] * (width - len(lab)) for _, lab in items]
    mask = [[1] * len(i) + [0] * (width - len(i)) for i, _ in items]
    return {"input_ids": torch.tensor(ids, device=device), "labels": torch.tensor(labels, device=device),
            "attention_mask": torch.tensor(mask, device=device)}


# ---- command line -----------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.training.train", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train (or resume) the LoRA adapter")
    defaults = TrainOptions(Path(), Path(), Path())
    run.add_argument("--data", type=Path, required=True, help="train.jsonl from `aisle train data`")
    run.add_argument("--base", type=Path, required=True, help="the base model folder (make llm-model)")
    run.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, loss.jsonl, adapter/")
    for name, kind in (("epochs", int), ("max_examples", int), ("rank", int), ("alpha", int), ("dropout", float),
                       ("lr", float), ("max_length", int), ("batch", int), ("seed", int), ("warmup_steps", int),
                       ("save_every", int), ("max_steps", int), ("micro_tokens", int), ("mix", str),
                       ("pair", str)):
        run.add_argument("--" + name.replace("_", "-"), type=kind, default=getattr(defaults, name),
                         help=f"default {getattr(defaults, name)}")
    merge_cmd = commands.add_parser("merge", help="merge an adapter into the base: a plain model folder")
    merge_cmd.add_argument("--base", type=Path, required=True)
    merge_cmd.add_argument("--adapter", type=Path, required=True)
    merge_cmd.add_argument("--out", type=Path, required=True)
    merge_cmd.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16", "float32"))
    ship_cmd = commands.add_parser("ship", help="a run's adapter in bfloat16, with its options and loss curve, "
                                                "as infra/vllm/aisle-shop-135m holds it")
    ship_cmd.add_argument("--run", type=Path, required=True, help="the run folder (`run --out`)")
    ship_cmd.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "merge":
            print(f"merged model: {merge(args.base, args.adapter, args.out, args.dtype)}")
            return 0
        if args.command == "ship":
            print(f"shipped adapter: {ship(args.run, args.out)}")
            return 0
        values = {k: v for k, v in vars(args).items() if k != "command"}
        summary = train(TrainOptions(**values))
    except AisleError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "options"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
