"""`aisle eval guard`: labelled pairs are built as documented and the guard beats overlap on them."""

from pipeline.eval.guard import evaluate, labelled_pairs

ROWS = [
    {"split": "train", "asin": "A1", "question": "does it need batteries?", "evidence_text":
     "runs on two aa batteries, not included", "answer": "it needs two aa batteries."},
    {"split": "train", "asin": "A1", "question": "what color is it?", "evidence_text":
     "available in matte black finish", "answer": "it comes in matte black."},
    {"split": "dev", "asin": "B2", "question": "is it waterproof?", "evidence_text":
     "waterproof to 30 meters for swimming", "answer": "yes, waterproof to 30 meters."},
    {"split": "dev", "asin": "C3", "question": "how long is the cable?", "evidence_text":
     "the cable is six feet long", "answer": "the cable is six feet."},
]


def test_each_row_gives_a_supported_an_unsupported_and_an_echo_pair() -> None:
    pairs = labelled_pairs(ROWS)
    assert [p.kind for p in pairs] == ["supported", "hard", "echo", "supported", "easy", "echo",
                                       "supported", "easy", "echo", "supported", "easy", "echo"]
    assert pairs[2].sentence == "does it need batteries."
    hard = pairs[1]
    assert hard.sentence == "it comes in matte black." and hard.evidence == ROWS[0]["evidence_text"]
    assert all(p.sentence != ROWS[n // 3]["answer"] for n, p in enumerate(pairs) if not p.supported)


def test_report_has_both_measures_chosen_on_train_and_scored_on_dev() -> None:
    report = evaluate(ROWS)
    assert report["pairs"] == {"train": 6, "dev": 6}
    guard = report["measures"]["guard (content words + numbers)"]["dev_at_shipped"]
    assert guard["supported_kept"] == 1.0 and guard["easy_caught"] == 1.0
    # These echoes restate what the evidence says ("how long is the cable" / "the cable is six feet long"):
    # judged by the evidence alone, they pass.
    assert guard["echo_caught"] == 0.0
