"""The answerability judge: does any passage of the turn's evidence answer the question?

A MiniLM cross-encoder trained on hetPQA and semiPQA pairs (pipeline/training/judge.py; the adapter
and its card are committed under infra/judge/, `make judge-model` builds the ONNX folder under
AISLE_HOME/models/judge). It reads each (question, passage) pair and gives the probability that the
passage answers; the card's threshold (chosen on held-out products for at most 10% "not sure" where
something answers) turns the best of them into a verdict.

Why the system asks and not the model: the 135M answer model does not learn to tell "the evidence
answers this" from "the evidence is about this" (docs/training.md: four mixes of paired "not sure"
examples raised true and false abstention together), and a judge holds for whatever model the router
picks. Measured on ePQA it did not tell answered from unanswered questions (docs/training.md, "The
answerability judge"), so the generate stage asks it only when AISLE_ANSWER_JUDGE is on.

Scoring is CPU work (tens of milliseconds for a turn's dozen passages): it runs on one worker thread,
like the embedder, so the event loop and the turn's token stream go on meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, DependencyError
from pipeline.training.judge_data import CARD, MAX_TOKENS



class AnswerJudge:
    """Loads the exported judge from `model_dir` (model.onnx, tokenizer.json, judge.json)."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        missing = [n for n in ("model.onnx", "tokenizer.json", CARD) if not (model_dir / n).is_file()]
        if missing:
            raise ConfigError(f"{model_dir} lacks {', '.join(missing)}; run `make judge-model`")
        import onnxruntime
        from tokenizers import Tokenizer

        self.threshold = float(json.loads((model_dir / CARD).read_text(encoding="utf-8"))["threshold"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session: Any = onnxruntime.InferenceSession(str(model_dir / "model.onnx"), options,
                                                          providers=["CPUExecutionProvider"])
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge")

    def probabilities(self, question: str, passages: Sequence[str]) -> list[float]:
        """The probability that each passage answers the question. DependencyError if onnxruntime fails."""
        if not passages:
            return []
        import numpy as np

        encoded = self._tokenizer.encode_batch([(question, passage) for passage in passages])
        inputs = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                  "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                  "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64)}
        try:
            logits = self._session.run(None, inputs)[0].reshape(-1)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise DependencyError(f"the answerability judge failed: {exc}") from exc
        return [1.0 / (1.0 + math.exp(-float(x))) for x in logits]

    async def aprobabilities(self, question: str, passages: Sequence[str]) -> list[float]:
        """`probabilities` on the judge's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.probabilities, question, list(passages))

    def close(self) -> None:
        self._executor.shutdown(wait=False)


def load(model_dir: Path) -> AnswerJudge | None:
    """The judge, or None when its folder was never built (the stage then answers without it)."""
    if not model_dir.is_dir():
        return None
    return AnswerJudge(model_dir, threads=min(2, len(os.sched_getaffinity(0))))
