"""`aisle me`: what it prints from a GET /me body, and that the saved token is owner-only."""

from __future__ import annotations

import stat
from pathlib import Path

from rich.console import Console

from pipeline.chat.me import ACTIONS, render, save_token, token_file
from pipeline.gateway.account_actions import panel_change


def test_it_prints_each_part_and_says_which_spends_money(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    render({
        "cart": {"lines": [{"product_id": "B01", "title": "Kettle", "quantity": 2, "unit_price_cents": 1000}],
                 "total_cents": 2000, "currency": "USD"},
        "orders": None,
        "alerts": [{"alert_id": "al-1", "title": "Kettle", "kind": "auto_buy", "threshold_cents": 900, "max_price_cents": 950,
                    "quantity": 1, "currency": "USD", "expires_at_ms": 1893456000000, "fired_count": 0, "spends_money": True}],
        "memory": [{"key": "budget_cents", "label": "budget", "value": "3000", "shown": "$30.00"}],
    }, console)
    out = console.export_text()
    for shown in ["Kettle", "Total $20.00", "Orders: unavailable", "AUTO-BUY (spends money)", "fired 0x",
                  "budget (budget_cents): $30.00"]:
        assert shown in out, shown


def test_every_change_is_a_panel_action_and_the_token_file_is_private(tmp_path: Path) -> None:
    for verb, action in ACTIONS.items():
        assert panel_change(action.format("all" if verb == "forget" else "B01")) is not None, verb
    save_token(tmp_path, "tok")
    assert token_file(tmp_path).read_text() == "tok"
    assert stat.S_IMODE(token_file(tmp_path).stat().st_mode) == 0o600
