"""Aisle's own answer model: training data from ../shared/data and a LoRA fine-tune (docs/training.md).

    data.py       the whole data set, deterministic, with its manifest (`aisle train data`)
    examples.py   one chat example: the served prompt (build_messages without the worked example)
    holdout.py    what is never trained on: ePQA, and the review sets' evaluation part
    qa.py         hetPQA grounded answers and "not sure" hard negatives, semiPQA attribute answers
    reviews.py    "what customers say" over the review sets' training part
    markup.py     catalog exchanges that open with the directive their intent calls for
    declines.py   out-of-scope requests, declined
    train.py      the LoRA fine-tune and its command line (runs in the vLLM venv: torch, transformers, peft)
    merge.py      the adapter merged into the base: a plain model folder vLLM serves
    _checkpoints.py  atomic, resumable checkpoints of a run

Nothing here imports torch at module level: the main package and its tests do not need it.
"""
