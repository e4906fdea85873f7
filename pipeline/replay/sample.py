"""A sample traffic file from the visible ePQA questions: `python -m pipeline.replay.sample`.

Conversations start as a Poisson process (exponential gaps, mean `mean_gap_s`). Each opens with a real
ePQA question on its product's page; with probability 0.6 a follow-up of the kind shoppers ask next
("what do reviewers say about it?") comes after an exponential think time (mean `think_s`), and with
probability 0.3 one more ePQA question on the same product. One in four conversations ends with a
thumbs up or down. Seeded, so the same arguments give the same file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from pipeline.replay.traffic import ASK, FEEDBACK, TrafficEvent, event_line, header_line

FOLLOW_UPS = (
    "what do reviewers say about it?",
    "how much does it cost right now?",
    "is it in stock?",
    "are there similar products that are cheaper?",
    "what are the main pros and cons?",
)


def sample_events(epqa: list[dict[str, object]], conversations: int, seed: int, mean_gap_s: float,
                  think_s: float) -> Iterator[TrafficEvent]:
    rng = random.Random(seed)
    by_asin: dict[str, list[str]] = {}
    for row in epqa:
        by_asin.setdefault(str(row["asin"]), []).append(str(row["question"]))
    asins = sorted(by_asin)
    rng.shuffle(asins)
    start_s = 0.0
    for n, asin in enumerate(asins[:conversations]):
        start_s += rng.expovariate(1 / mean_gap_s) if n else 0.0
        conversation, user = f"sample-{n:02d}", f"shopper-{n:02d}"
        questions = list(by_asin[asin])
        asks = [questions.pop(rng.randrange(len(questions)))]
        if rng.random() < 0.6:
            asks.append(rng.choice(FOLLOW_UPS))
        if questions and rng.random() < 0.3:
            asks.append(questions.pop(rng.randrange(len(questions))))
        at_s = start_s
        for turn, text in enumerate(asks):
            if turn:
                at_s += rng.expovariate(1 / think_s)
            yield TrafficEvent(ASK, int(at_s * 1000), conversation, user, turn, text, asin)
        if rng.random() < 0.25:
            yield TrafficEvent(FEEDBACK, int((at_s + 20) * 1000), conversation, user, len(asks) - 1,
                               kind=rng.choice(["thumbs_up", "thumbs_down"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--epqa", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "eval"
                        / "epqa_visible.jsonl")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mean-gap-s", type=float, default=15.0)
    parser.add_argument("--think-s", type=float, default=20.0)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.epqa.read_text(encoding="utf-8").splitlines() if line.strip()]
    events = sorted(sample_events(rows, args.conversations, args.seed, args.mean_gap_s, args.think_s),
                    key=lambda e: e.offset_ms)
    sys.stdout.write(header_line(0) + "\n")
    for event in events:
        sys.stdout.write(event_line(event) + "\n")


if __name__ == "__main__":
    main()
