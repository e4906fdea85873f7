"""The training loop's pure parts: labels, batching, schedule, run identity. No torch needed."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.training._checkpoints import latest_checkpoint
from pipeline.training.selection import read_examples
from pipeline.training.train import IGNORE, TrainOptions, assistant_labels, length_batches, lr_factor, micro_batches, run_key

END = 2  # <|im_end|>


def test_the_module_imports_without_torch() -> None:
    check = "import sys, pipeline.training.train, pipeline.training.data; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_labels_cover_the_answer_through_its_end_token_only() -> None:
    prompt = [1, 10, 11, END, 198, 1, 20, 198]
    full = prompt + [30, 31, 32, END, 198]
    ids, labels = assistant_labels(prompt, full, END)
    assert ids == prompt + [30, 31, 32, END]
    assert labels == [IGNORE] * len(prompt) + [30, 31, 32, END]


def test_a_template_that_rewrites_the_prompt_is_refused() -> None:
    with pytest.raises(ConfigError):
        assistant_labels([1, 2, 3], [1, 9, 3, 4], END)


def test_batches_are_deterministic_complete_and_of_similar_length() -> None:
    lengths = [(i * 37) % 500 + 10 for i in range(1_000)]
    first = length_batches(lengths, 8, seed=3, epoch=0)
    assert first == length_batches(lengths, 8, seed=3, epoch=0)
    assert first != length_batches(lengths, 8, seed=3, epoch=1)
    assert sorted(i for batch in first for i in batch) == list(range(1_000))
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first]
    assert sorted(spread)[len(spread) // 2] < 40  # random batches of 8 would spread over ~400


def test_micro_batches_bound_the_padded_size_and_keep_every_example() -> None:
    lengths = [900, 100, 120, 1000, 3000, 110, 130, 950]
    pieces = micro_batches(range(8), lengths, 2048)
    assert sorted(i for piece in pieces for i in piece) == list(range(8))
    assert all(len(p) * max(lengths[i] for i in p) <= 2048 for p in pieces if len(p) > 1)
    assert [4] in pieces  # longer than the bound: alone
    assert pieces[0] == [1, 5, 2, 6]


def test_learning_rate_warms_up_then_decays_to_zero() -> None:
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10) == 0.0


def test_run_key_changes_with_what_changes_the_run_only() -> None:
    options = TrainOptions(Path("d"), Path("b"), Path("o"))
    key = run_key(options, "sha")
    assert run_key(dataclasses.replace(options, max_steps=2, save_every=1, out=Path("x")), "sha") == key
    assert run_key(dataclasses.replace(options, lr=1e-3), "sha") != key
    assert run_key(options, "other data") != key


def test_read_examples_takes_the_first_n(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(5)))
    assert [r["n"] for r in read_examples(path, 3)] == [0, 1, 2]
    assert len(read_examples(path)) == 5
    with pytest.raises(ConfigError):
        read_examples(tmp_path / "missing.jsonl")


def test_latest_checkpoint_ignores_partial_ones(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    for name in ("step-000020", "step-000040", "step-000060.partial"):
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
    found = latest_checkpoint(tmp_path)
    assert found is not None and found.name == "step-000040"


def test_read_examples_takes_the_first_n_of_each_kind_in_the_mix(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    kinds = ["a", "b", "a", "c", "a", "b", "b"]
    path.write_text("".join(json.dumps({"n": n, "kind": k}) + "\n" for n, k in enumerate(kinds)))
    assert [r["n"] for r in read_examples(path, 1, mix="a=2,b=1")] == [0, 1, 2]
    # a quota larger than what the file holds takes all of that kind
    assert [r["n"] for r in read_examples(path, mix="b=9, c=1")] == [1, 3, 5, 6]
    with pytest.raises(ConfigError):
        read_examples(path, mix="a=two")


def test_a_pair_brings_in_the_partner_with_the_same_ref_first(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    rows = [("answer", "q1"), ("answer", "q2"), ("unsure", "q3"), ("answer", "q3"), ("unsure", "q4"), ("answer", "q4")]
    path.write_text("".join(json.dumps({"n": n, "kind": k, "ref": r}) + "\n" for n, (k, r) in enumerate(rows)))
    # without the pair, the first two answers; with it, the answers to the two unsure questions, in file order
    assert [r["n"] for r in read_examples(path, mix="answer=2,unsure=2")] == [0, 1, 2, 4]
    assert [r["n"] for r in read_examples(path, mix="answer=2,unsure=2", pair="unsure:answer")] == [2, 3, 4, 5]
    # a partner counts against its kind's quota; the quota's rest is filled in file order
    assert [r["n"] for r in read_examples(path, mix="answer=3,unsure=1", pair="unsure:answer")] == [0, 1, 2, 3]
    with pytest.raises(ConfigError):
        read_examples(path, mix="answer=2", pair="unsure:answer")
    with pytest.raises(ConfigError):
        read_examples(path, mix="answer=2,unsure=1", pair="unsure")
