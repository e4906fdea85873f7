from pipeline.generation.coalesce import Coalescer


def test_the_first_text_goes_out_at_once() -> None:
    c = Coalescer(flush_chars=100, flush_ms=1_000)
    assert c.add("", 0) is None
    assert c.add("Hi", 0) == "Hi", "waiting for company would only delay the first token"
    assert c.add(" there", 1) is None


def started(flush_chars: int, flush_ms: float) -> Coalescer:
    c = Coalescer(flush_chars=flush_chars, flush_ms=flush_ms)
    assert c.add("first ", 0) == "first "
    return c


def test_flushes_by_size() -> None:
    c = started(flush_chars=5, flush_ms=1_000)
    assert c.add("ab", 0) is None
    assert c.add("cde", 1) == "abcde"
    assert c.flush() is None


def test_flushes_by_age_of_the_first_buffered_token() -> None:
    c = started(flush_chars=100, flush_ms=30)
    assert c.add("a", 0) is None
    assert c.wait_ms(10) == 20
    assert c.add("b", 29) is None
    assert c.add("c", 30) == "abc"
    assert c.wait_ms(31) is None and c.due(1_000) is None


def test_concatenated_chunks_equal_the_stream() -> None:
    c = Coalescer(flush_chars=7, flush_ms=15)
    tokens = [f"tok{i} " for i in range(50)]
    out = [chunk for i, t in enumerate(tokens) if (chunk := c.add(t, i * 4)) is not None]
    out.append(c.flush() or "")
    assert "".join(out) == "".join(tokens)
    assert all(len(chunk) < 7 + 6 for chunk in out)
