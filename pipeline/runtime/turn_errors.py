"""The error frames that end a shopper's turn when a stage dead-letters a record on its path.

A dead letter alone leaves the shopper waiting: nothing downstream will ever send the turn's `done`.
So when the dead-lettered record belongs to a turn (it decodes to a message of the answer path:
UserTurn, Plan, EvidenceBundle, TokenChunk or Frame), the worker also writes an `error` frame and a
`done` frame for that (conversation, turn) to `frames`, which the gateway delivers to the
conversation's sockets and the replay tool counts.

Exactly once at the client, whoever writes them and however often: the two frames always carry the
reserved seqs TURN_ERROR_SEQ and TURN_ERROR_SEQ + 1, and identical payloads, so a redelivered record
that is dead-lettered again, or a second stage giving up on the same turn, repeats the same
(conversation, turn, seq), which the gateway, the clients and the replay tool drop as a duplicate.
The seqs are above any seq a real turn reaches (a turn has at most a few hundred frames), so a client
that already shows part of the answer still takes them as new (it drops only seqs at or below the
last one it has); and anything of the turn that straggles in after them is below, so dropped.

Pure: no Kafka, no clock.
"""

from __future__ import annotations

from pipeline import codec
from pipeline.errors import DecodeError
from pipeline.markup.payloads import DonePayload, ErrorPayload, to_json
from pipeline.messages import EvidenceBundle, Frame, Plan, TokenChunk, UserTurn

TURN_ERROR_SEQ = 1_000_000
"""The error frame's seq; its done frame has the next one."""

SHOPPER_MESSAGE = "Something went wrong with this answer. Ask again?"

ANSWER_PATH = (UserTurn, Plan, EvidenceBundle, TokenChunk, Frame)
"""Message types that belong to a shopper's turn on its way to an answer."""


def turn_of(value: bytes | None) -> tuple[str, int] | None:
    """(conversation, turn) of a record value on the answer path; None when it does not decode, is not
    on the path (a store event, feedback) or names no conversation: then there is no turn to end."""
    if value is None:
        return None
    try:
        message = codec.decode(value)
    except DecodeError:
        return None
    if not isinstance(message, ANSWER_PATH):
        return None
    conversation, turn = message.conversation_id, message.turn
    if not isinstance(conversation, str) or not conversation or not isinstance(turn, int) or turn < 0:
        return None
    return conversation, turn


def turn_error_frames(conversation_id: str, turn: int) -> list[Frame]:
    """The `error` then `done` frame that end `turn`. The same for every stage and every attempt, so a
    repeat is a duplicate by (conversation, turn, seq) and byte for byte (the failing stage and the
    reason stay in the dead letter, for operators)."""
    error = Frame(conversation_id, turn, TURN_ERROR_SEQ, "error", "",
                  to_json(ErrorPayload(SHOPPER_MESSAGE, "pipeline", True)))
    done = Frame(conversation_id, turn, TURN_ERROR_SEQ + 1, "done", "",
                 to_json(DonePayload(chars=0, frames=0, directives=0, counts={"dead_letter": 1},
                                     products_shown=[], model=None, error=True)))
    return [error, done]
