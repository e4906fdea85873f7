"""Client message validation and the JSON a client receives."""

from __future__ import annotations

import json

import pytest

from pipeline.gateway.protocol import (
    MAX_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    Ask,
    FeedbackRequest,
    Hello,
    ProtocolError,
    alert_json,
    frame_json,
    parse_client_message,
)
from pipeline.messages import Alert, Frame


def test_ask_is_parsed_and_trimmed() -> None:
    message = parse_client_message(json.dumps({"type": "ask", "text": "  best kettle? ", "page_product_id": "B01"}))
    assert message == Ask("best kettle?", "B01")


def test_hello_with_resume_map() -> None:
    message = parse_client_message(json.dumps({"type": "hello", "token": "t", "after_seq": {"2": 5, "3": -1}}))
    assert message == Hello("t", {2: 5, 3: -1}, -1)


def test_hello_resumes_after_a_millisecond_seq() -> None:
    # Alert frames and action confirmations are numbered with millisecond timestamps.
    message = parse_client_message(json.dumps({"type": "hello", "token": "t", "after_seq": {"0": 1_796_161_447_917}}))
    assert message == Hello("t", {0: 1_796_161_447_917}, -1)
    with pytest.raises(ProtocolError):
        parse_client_message(json.dumps({"type": "hello", "token": "t", "after_seq": {"0": 2**63}}))


def test_hello_without_resume_is_live_only() -> None:
    assert parse_client_message('{"type":"hello","token":"t","last_turn":4}') == Hello("t", None, 4)


def test_hello_before_any_turn_says_last_turn_minus_one() -> None:
    # What the web chat and `aisle chat` send on a fresh page: -1 means "no turn yet".
    hello = '{"type":"hello","token":"t","after_seq":{},"last_turn":-1}'
    assert parse_client_message(hello) == Hello("t", {}, -1)
    with pytest.raises(ProtocolError):
        parse_client_message('{"type":"hello","token":"t","last_turn":-2}')


def test_feedback_kinds_are_checked() -> None:
    ok = parse_client_message('{"type":"feedback","turn":1,"kind":"thumbs_up"}')
    assert ok == FeedbackRequest(1, "thumbs_up", "")
    with pytest.raises(ProtocolError) as info:
        parse_client_message('{"type":"feedback","turn":1,"kind":"buy_everything"}')
    assert info.value.code == "bad_field"


@pytest.mark.parametrize("kind", ["action_done", "action_failed"])
def test_a_client_cannot_report_how_an_action_went(kind: str) -> None:
    # Only the actions stage knows whether a click's action was done; a client's claim would be counted.
    with pytest.raises(ProtocolError) as info:
        parse_client_message('{"type":"feedback","turn":1,"kind":"%s","value":"add_to_cart"}' % kind)
    assert info.value.code == "not_allowed"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1,2]", "bad_message"),
        ('{"type":"dance"}', "bad_type"),
        ('{"type":"ask"}', "bad_field"),
        ('{"type":"ask","text":"   "}', "bad_field"),
        ('{"type":"ask","text":42}', "bad_field"),
        ('{"type":"ask","text":"' + "x" * (MAX_TEXT_CHARS + 1) + '"}', "too_long"),
        ('{"type":"ask","text":"hi","pad":"' + "x" * MAX_MESSAGE_BYTES + '"}', "too_large"),
        ('{"type":"feedback","turn":true,"kind":"thumbs_up"}', "bad_field"),
        ('{"type":"feedback","turn":-1,"kind":"thumbs_up"}', "bad_field"),
        ('{"type":"hello","token":"t","after_seq":{"x":1}}', "bad_field"),
        ('{"type":"hello","token":"t","after_seq":[1]}', "bad_field"),
        ('{"type":"hello"}', "bad_field"),
        ('{"type":"hello","token":"t","after_seq":{"²":1}}', "bad_field"),  # "²".isdigit(), int("²") fails
        ('{"type":"hello","token":"t","after_seq":{"٣":1}}', "bad_field"),  # Arabic-Indic three
        ("[" * 8000 + "]" * 8000, "bad_json"),  # RecursionError in the parser
        ('{"type":"ask","text":"hi","x":' + "[" * 8000 + "]" * 8000 + "}", "bad_json"),
    ],
)
def test_malformed_messages_say_what_is_wrong(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == code


def test_text_at_the_limit_is_accepted() -> None:
    message = parse_client_message(json.dumps({"type": "ask", "text": "é" * MAX_TEXT_CHARS}, ensure_ascii=False))
    assert isinstance(message, Ask) and len(message.text) == MAX_TEXT_CHARS


def test_frame_json_passes_the_payload_through_and_survives_a_bad_one() -> None:
    good = json.loads(frame_json(Frame("c", 1, 2, "card", payload='{"title":"<b>x</b>"}')))
    assert good == {"type": "card", "conversation_id": "c", "turn": 1, "seq": 2, "text": "", "payload": {"title": "<b>x</b>"}}
    assert json.loads(frame_json(Frame("c", 1, 3, "card", payload="[not json")))["payload"] == {}
    assert json.loads(frame_json(Frame("c", 1, 4, "card", payload="[1]")))["payload"] == {}
    assert json.loads(frame_json(Frame("c", 1, 5, "card", payload="")))["payload"] == {}


def test_frame_json_splices_the_encoded_payload_unparsed() -> None:
    # The payload's own text, spacing and key order included, is what the client gets: no decode and
    # re-encode on the gateway's hot path. Text outside it is encoded as UTF-8, not \u escapes.
    payload = '{"z": 1, "a": "été"}'
    text = frame_json(Frame("c", 1, 2, "card", text="prix: 3 €", payload=payload))
    assert text.endswith(f',"payload":{payload}}}')
    assert '"text":"prix: 3 €"' in text


def test_alert_json_is_an_alert_frame_of_the_alerts_conversation_without_a_seq() -> None:
    alert = Alert("al-1", "c-home", 2, 1, "u1", "B01", "price_below", 4000, 3899, "USD", fired_at_ms=17)
    message = json.loads(alert_json(alert))
    assert (message["type"], message["conversation_id"], message["turn"]) == ("alert", "c-home", 2)
    assert "seq" not in message
    assert message["text"] == "Price alert: B01 is now $38.99 (you asked for $40.00 or less)."
    assert message["payload"] == {
        "alert_id": "al-1", "kind": "price_below", "product_id": "B01", "price_cents": 3899,
        "threshold_cents": 4000, "currency": "USD", "order_id": None, "message": message["text"],
        "firing": 1, "fired_at_ms": 17,
    }


def test_alert_json_says_what_an_auto_buy_did() -> None:
    bought = Alert("al-2", "c", 0, 0, "u1", "B01", "auto_buy", 4000, 3899, "USD", order_id="o-9")
    assert json.loads(alert_json(bought))["text"] == (
        "Auto-buy: bought B01 at $38.99 (your target: $40.00). Order o-9.")
    not_bought = Alert("al-3", "c", 0, 0, "u1", "B01", "auto_buy", 4000, 3899, "EUR")
    text = json.loads(alert_json(not_bought))["text"]
    assert text.startswith("Auto-buy: B01 dropped to 38.99 EUR (your target: 40.00 EUR), but no order was placed")
