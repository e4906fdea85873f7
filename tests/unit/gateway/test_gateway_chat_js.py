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
CHAT_JS = HERE.parents[2] / "pipeline" / "gateway" / "static" / "chat.js"
EVIL = '<img src=x onerror="alert(1)">'
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if NODE is None:
        pytest.skip("node is not installed; the chat script cannot run outside a browser without it")
    done = subprocess.run([NODE, str(HERE / "chat_harness.js"), str(CHAT_JS)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_script_never_writes_html() -> None:
    source = CHAT_JS.read_text()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", code)


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
    assert report["resume_hello"]["last_turn"] == 0


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
