"""Closing what a stream left open. Pure.

An answer cut off by the token limit can end inside a directive ("<suggest>Is it loud?|Is it"). The
parser rightly drops such a tail, but it would also swallow anything sent after it, such as the
generate stage's fallback sentence. `closing_suffix` says what to append so the open directive ends
where the stream ended: the parser then accepts it (a suggest keeps the questions it has) or drops
it as malformed, and later text is text again.
"""

from __future__ import annotations

from pipeline.markup._scan import BODY_TAGS, Accept, Drop, scan
from pipeline.markup.parser import DEFAULT_MAX_DIRECTIVE_CHARS, MarkupParser

_CLOSERS = ('"/>', "/>", "</suggest>", "</link>", '">', ">")
"""Tried in order: the first that completes a well-formed directive wins, else the first that makes a
tag the parser drops; a closer that turns the tail into visible text is the last resort."""


def closing_suffix(answer: str, limit: int = DEFAULT_MAX_DIRECTIVE_CHARS) -> str:
    """Text to append to `answer` so it does not end inside a directive; "" when it does not."""
    parser = MarkupParser(limit)
    parser.feed(answer)
    tail = answer[len(answer) - parser.buffered:] if parser.buffered else ""
    if not tail.startswith("<"):
        return ""
    # A body tag cut inside its closing tag ("...</sugg") is finished, not closed again.
    finishing = [end[k:] for end in (f"</{name}>" for name in BODY_TAGS) for k in range(1, len(end)) if tail.endswith(end[:k])]
    decided = [(closer, scan(tail + closer, limit)) for closer in (*finishing, *_CLOSERS)]
    for wanted in (Accept, Drop):
        for closer, decision in decided:
            if isinstance(decision, wanted):
                return closer
    return ">"
