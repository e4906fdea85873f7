"""The web chat's script, run in node against a fake DOM (chat_harness.js): untrusted text stays text,
every frame type renders, duplicates are dropped, clicks send the right messages, reconnects resume,
an alert set in another conversation is shown apart and other conversations' frames are ignored, and
product-page mode shows its starter questions as chips."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
STATIC = HERE.parents[2] / "pipeline" / "gateway" / "static"
SCRIPTS = [STATIC / name for name in ("render.js", "product.js", "voice.js", "panel.js", "chat.js")]
"""In the order index.html loads them."""
EVIL = '<img src=x onerror="alert(1)">'
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if NODE is None:
        pytest.skip("node is not installed; the chat script cannot run outside a browser without it")
    done = subprocess.run([NODE, str(HERE / "chat_harness.js"), *map(str, SCRIPTS)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_scripts_never_write_html() -> None:
    for script in SCRIPTS:
        source = script.read_text()
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", code), script


def test_index_loads_every_script_in_order() -> None:
    html = (STATIC / "index.html").read_text()
    assert re.findall(r'<script src="/static/([a-z]+\.js)"></script>', html) == [s.name for s in SCRIPTS]


def test_hostile_strings_are_shown_as_text(report: dict[str, Any]) -> None:
    # text, card title, compare header, a pro, a chip, an alert from another conversation, and a starter
    # title and chip: eight places, all text, no element made from them.
    assert report["occurrences"] == 8
    assert report["imgs"] == 0  # the card's javascript: image URL was refused too


def test_every_frame_type_renders(report: dict[str, Any]) -> None:
    assert report["cards"] == 1
    assert report["table_cells"] == ["1 kg", "—"]
    assert report["badges"] == ["simulated price", "simulated prices"]
    assert len(report["polyline"]) == 1 and len(report["polyline"][0].split()) == 2
    for shown in ["$39.99", "What customers say", "Add to cart", "Alert me below $30.00", "Is it quiet?"]:
        assert shown in report["text"]
    assert report["text"].count("Try ") == 1  # the duplicate frame was dropped


def test_the_review_box_shows_the_summary_line_and_the_counted_aspects(report: dict[str, Any]) -> None:
    assert report["reviews"]["summary"] == "This kettle is well reviewed: 3 of 4 reviews are positive."
    assert report["reviews"]["pros"] == ["3 of 4 reviews praise the lid.", EVIL]
    assert "review sentences" not in report["text"]  # the summary line says how many were read


def test_the_page_asks_and_reports_clicks(report: dict[str, Any]) -> None:
    assert report["hello"] == {"type": "hello", "token": "tok-1", "after_seq": {}, "last_turn": -1}
    assert report["ask"] == {"type": "ask", "text": "which kettle?", "page_product_id": "B0PAGE"}
    assert report["chip_ask"]["text"] == "Is it quiet?"
    action = report["action_feedback"]
    assert (action["kind"], json.loads(action["value"])["type"]) == ("action_clicked", "price_alert")
    assert report["thumbs"] == {"type": "feedback", "turn": 0, "kind": "thumbs_up"}


def test_a_reconnect_resumes_after_the_last_seq(report: dict[str, Any]) -> None:
    assert report["resume_hello"]["after_seq"] == {"0": 10}
    assert report["resume_hello"]["last_turn"] == 1  # the starter question's turn, accepted but never answered


def test_an_alert_from_another_conversation_is_shown_apart_and_other_frames_are_ignored(
    report: dict[str, Any],
) -> None:
    (shown,) = report["elsewhere"]
    assert shown["text"].startswith("Price alert: ") and shown["text"].endswith("set in another conversation")
    assert not shown["in_turn"]  # in the log itself, not inside this conversation's turn 0
    assert "NOT MINE" not in report["text"]
    # Neither touched this conversation's seqs: the resume still asks after turn 0's own last seq (10).
    assert report["resume_hello"]["after_seq"] == {"0": 10}


def test_product_page_mode_shows_starter_chips_that_ask_on_the_page(report: dict[str, Any]) -> None:
    assert report["starters"]["first_in_log"]  # shown on entering the page, before any turn
    assert report["starters"]["chips"] == ["What is its weight?", EVIL]  # the non-string item is left out
    assert report["starter_ask"] == {"type": "ask", "text": "What is its weight?", "page_product_id": "B0PAGE"}
    # Once per product entered; the id is encoded into the path; an unknown product (404) adds no box.
    assert report["starter_fetches"] == ["/products/B0PAGE/starters", "/products/..%2Fsession%3Fx%3D1/starters"]
    assert report["starter_boxes"] == 1


def test_a_card_a_link_and_a_comparison_column_open_the_product_view(report: dict[str, Any]) -> None:
    assert sorted(report["openers"]) == ["column", "column", "product-link", "title"]  # B01 and B02 columns
    # Opened last to first: the B02 column, the B01 column, the link, the card's title; each reads the
    # store again (the price is live); B02 is unknown to the store and the view says so.
    assert report["view_fetches"] == ["/products/B02", "/products/B01", "/products/B01", "/products/B01"]
    assert report["view_titles"][0] == "B02 | The store does not know this product."
    assert report["view_open"]
    assert all(title.startswith(f"Kettle {EVIL} | $29.99") for title in report["view_titles"][1:])


def test_the_product_view_shows_the_endpoint_as_text_and_asks_on_the_page(report: dict[str, Any]) -> None:
    # Title, an attribute's value and a question: three places, all text (the card's title is not shown).
    assert report["view_occurrences"] == 3
    for shown in ["In stock · delivery in 3 days", "simulated price", "Details", "Item weight", "Well reviewed.",
                  "Questions from customers", "A: No."]:
        assert shown in report["view_text"], shown
    assert "X" not in report["view_rows"]  # an attribute without a value is left out
    assert report["view_polyline"] == 1
    assert report["view_after_ask"] == {"open": False, "page": "B01", "focused_question": True}
    assert report["view_after_escape"] == {"open": False, "focus_back": True}
    assert "Now asking on the page of B01." in report["announced"]


def test_the_microphone_is_hidden_without_speech_recognition(report: dict[str, Any]) -> None:
    assert report["mic_hidden"] is True


def test_the_live_region_gets_sentences_and_the_end_of_the_answer(report: dict[str, Any]) -> None:
    assert "Answer finished." in report["announced"]


def test_an_unanswered_turn_times_out_and_the_chat_takes_asks_again(report: dict[str, Any]) -> None:
    timeout = report["timeout"]
    assert timeout["send_disabled"] and timeout["refused_while_waiting"]
    assert timeout["after"]["send_disabled"] is False
    assert timeout["after"]["error"] == ["No answer for 60 seconds: Aisle may be busy or down. You can ask again."]


def test_the_you_panel_reads_me_with_the_token_and_changes_through_the_socket(report: dict[str, Any]) -> None:
    me = report["me"]
    assert me["fetches"][0].startswith("Bearer tok-")
    assert me["occurrences"] == 1  # the hostile cart title, as text
    for shown in ["Cart", "Orders", "shipped", "Auto-buy: spends money", "fired 0 times", "budget: $30.00", "Forget everything"]:
        assert shown in me["text"], shown
    assert me["remove"] == {"type": "account", "action": "remove_from_cart:B01"}
    assert me["bubble"] and me["bubble"][0].startswith("From your page: Remove")
    assert me["turn"] == {"text": "Removed it.", "pending": False, "thumbs": 0}
    assert me["refetched"]


def test_a_token_that_cannot_be_renewed_starts_over_and_says_so(report: dict[str, Any]) -> None:
    refused = report["refused"]
    assert refused["asked"] == [{"token": "tok-refused"}, {}]  # renewal first, a new session only on 401
    assert len(refused["lost"]) == 1 and "could not be restored (bad signature)" in refused["lost"][0]
    assert refused["stored"] != "tok-refused" and refused["sockets"] == 3  # reconnected with the new token
