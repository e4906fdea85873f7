"""The pipeline benchmark's overhead interval (bench/pipeline.py), without a broker or an LLM."""

import random

from bench.pipeline import Answer, overhead_interval, paired_overhead


def test_a_constant_shift_has_no_spread() -> None:
    assert overhead_interval([120.0] * 30, [100.0] * 30) == (20.0, 20.0)


def test_the_interval_holds_the_true_shift_and_widens_with_noise() -> None:
    rng = random.Random(7)
    direct = [rng.gauss(200, 10) for _ in range(96)]
    quiet = overhead_interval([t + 15 for t in direct], direct)
    noisy_direct = [rng.gauss(200, 60) for _ in range(96)]
    noisy = overhead_interval([rng.gauss(215, 60) for _ in range(96)], noisy_direct)
    assert quiet[0] <= 15 <= quiet[1]
    assert noisy[0] <= 15 <= noisy[1]
    assert noisy[1] - noisy[0] > quiet[1] - quiet[0]


def test_the_same_samples_give_the_same_interval() -> None:
    pipeline, direct = [float(v) for v in range(100, 160)], [float(v) for v in range(90, 150)]
    assert overhead_interval(pipeline, direct) == overhead_interval(pipeline, direct)


def _answers(ttfts: dict[int, list[float]]) -> list[Answer]:
    return [Answer(k, t, 100, 1.0) for k, ts in ttfts.items() for t in ts]


def test_paired_overhead_takes_out_the_prompts_own_spread() -> None:
    # Prompts whose TTFTs spread from 100 to 900 ms; the pipeline adds 12 ms to every one of them.
    direct = {k: [100.0 + 25 * k] for k in range(33)}
    pipeline = {k: [t + 12 for t in ts] for k, ts in direct.items()}
    unpaired = overhead_interval([t for ts in pipeline.values() for t in ts], [t for ts in direct.values() for t in ts])
    assert unpaired[1] - unpaired[0] > 100
    assert paired_overhead(_answers(pipeline), _answers(direct)) == (12.0, 12.0, 12.0)


def test_paired_overhead_averages_repeats_and_skips_unpaired_or_silent_answers() -> None:
    direct = _answers({0: [100.0, 110.0], 1: [200.0], 2: [300.0]})
    pipeline = _answers({0: [125.0], 1: [220.0], 3: [50.0]}) + [Answer(2, None, 0, 1.0)]
    assert paired_overhead(pipeline, direct)[0] == 20.0  # questions 0 (+20) and 1 (+20) pair up
    assert paired_overhead([], direct) == (0.0, 0.0, 0.0)


def test_the_shown_overhead_pairs_the_pipeline_with_the_guarded_direct_moment() -> None:
    # Direct's first token at 100 ms, its first supported sentence ends at 400 ms: the pipeline showing
    # that sentence at 415 ms costs 15 ms over the guarded stream, 315 ms over the raw first token.
    direct = [Answer(k, 100.0, 100, 1.0, shown_ms=400.0) for k in range(3)]
    pipeline = [Answer(k, 415.0, 100, 1.0) for k in range(3)]
    assert paired_overhead(pipeline, direct)[0] == 315.0
    assert paired_overhead(pipeline, direct, direct_ms=lambda a: a.shown_ms)[0] == 15.0
    # A direct answer the guard would show nothing of has no moment to pair with.
    silent = [Answer(0, 100.0, 100, 1.0, shown_ms=None)]
    assert paired_overhead(pipeline[:1], silent, direct_ms=lambda a: a.shown_ms) == (0.0, 0.0, 0.0)


def test_stage_medians_split_the_first_text_by_hop_and_pair_generate_with_the_direct_shown_moment() -> None:
    from bench._pipeline_sides import hop_spans
    from bench.pipeline import stage_medians
    from pipeline.runtime.headers import carry, hop_name

    sent = [(hop_name("bench", "out"), b"1000")]
    headers = carry(carry(carry(sent, "plan", in_ms=1002, out_ms=1003), "retrieve", in_ms=1005, out_ms=1012),
                    "generate", in_ms=1014, out_ms=1214)
    stages = hop_spans(headers)
    assert {k: stages[k] for k in ("plan.wait", "plan", "retrieve.wait", "retrieve", "generate.wait", "generate")} == {
        "plan.wait": 2.0, "plan": 1.0, "retrieve.wait": 2.0, "retrieve": 7.0, "generate.wait": 2.0, "generate": 200.0}
    assert stages["tokens.wait"] > 0  # read "now", long after the epoch-second 1.2 it was produced at

    pipeline = [Answer(k, 300.0, 10, 1.0, stages_ms={"plan": 1.0 + k, "generate": 200.0 + k}) for k in range(3)]
    direct = [Answer(k, 150.0, 10, 1.0, shown_ms=190.0 + k) for k in range(3)]
    medians = stage_medians(pipeline, direct)
    assert medians["plan"] == 2.0
    assert medians["generate"] == 201.0
    assert medians["generate_over_shown"] == 10.0
