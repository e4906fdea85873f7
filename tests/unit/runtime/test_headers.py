from pipeline.runtime.headers import carry, hops, stage_durations_ms


def test_hops_accumulate_along_the_path() -> None:
    first = carry([("trace", b"x")], "plan", in_ms=1_000, out_ms=1_040)
    second = carry(first, "retrieve", in_ms=1_045, out_ms=1_065)
    assert ("trace", b"x") not in second, "only hop headers are carried"
    assert hops(second) == {"plan:in": 1_000, "plan:out": 1_040, "retrieve:in": 1_045, "retrieve:out": 1_065}
    assert stage_durations_ms(hops(second)) == {"plan": 40.0, "retrieve.wait": 5.0, "retrieve": 20.0}


def test_malformed_hop_values_are_skipped() -> None:
    assert hops([("aisle-hop:plan:in", b"soon"), ("aisle-hop:plan:out", b"7")]) == {"plan:out": 7}
