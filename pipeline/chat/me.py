"""`aisle me`: the web chat's "You" panel in the terminal (docs/clients.md, "`aisle me`").

It reads GET /me with the session of the last `aisle chat` (its token is kept in
$AISLE_HOME/session.token, owner-only) and prints the cart, orders, price alerts and auto-buys, and
what Aisle remembers. A change (`aisle me less|more|remove ID`, `cancel ALERT_ID`, `forget KEY|all`)
is sent as the panel sends it, an `account` message on the websocket, so it goes through the same
stages as the words or buttons that make it; the command prints the turn's answer when it comes.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import connect

from pipeline.chat.client import SESSION_TIMEOUT_S, http_base
from pipeline.errors import ConfigError, DependencyError
from pipeline.money import format_money

ANSWER_TIMEOUT_S = 60.0
ACTIONS = {"less": "remove_from_cart:{}:quantity=1", "more": "add_to_cart:{}:quantity=1",
           "remove": "remove_from_cart:{}", "cancel": "cancel_alert:{}", "forget": "forget:{}"}
"""`aisle me VERB TARGET` -> the panel's action (pipeline/gateway/account_actions.py)."""


def token_file(home: Path) -> Path:
    return home / "session.token"


def save_token(home: Path, token: str) -> None:
    """Keep the terminal chat's token for `aisle me` (mode 0600: it is the shopper's key)."""
    path = token_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(token)


def money(cents: Any, currency: Any = "USD") -> str:
    """A price from GET /me's JSON, through the one formatter; a value that is not cents is shown as it came."""
    return format_money(cents, str(currency)) if isinstance(cents, int) else f"{cents} {currency}"


async def _session(base: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=SESSION_TIMEOUT_S) as client:
        response = await client.post(f"{base}/session", json={"token": token})
    if response.status_code != 200:
        raise ConfigError("the saved session was refused (expired?): run `aisle chat` again")
    session: dict[str, Any] = response.json()
    return session


async def show(ws_url: str, home: Path, console: Console) -> None:
    base = http_base(ws_url)
    session = await _session(base, _saved(home))
    try:
        async with httpx.AsyncClient(timeout=SESSION_TIMEOUT_S) as client:
            response = await client.get(f"{base}/me", headers={"Authorization": f"Bearer {session['token']}"})
    except httpx.HTTPError as exc:
        raise DependencyError(f"gateway at {base} is unreachable: {exc}") from exc
    me = response.json()
    render(me, console)


def render(me: dict[str, Any], console: Console) -> None:
    cart: dict[str, Any] | None = me.get("cart")
    table = Table(title="Cart", show_edge=False)
    for column in ("product", "title", "qty", "each"):
        table.add_column(column)
    currency = (cart or {}).get("currency", "USD")
    for line in (cart or {}).get("lines", []):
        table.add_row(line["product_id"], line["title"], str(line["quantity"]), money(line["unit_price_cents"], currency))
    console.print(table if cart and cart.get("lines") else ("Cart: unavailable" if cart is None else "Cart: empty"))
    if cart and cart.get("lines"):
        console.print(f"Total {money(cart['total_cents'], cart['currency'])}")
    for order in me.get("orders") or []:
        console.print(f"Order {order['order_id']}: {order['status']}, {money(order['total_cents'], order['currency'])}")
    if me.get("orders") is None:
        console.print("Orders: unavailable")
    alerts = me.get("alerts")
    for a in alerts or []:
        what = (f"AUTO-BUY (spends money): buys {a['quantity']} at {money(a['threshold_cents'], a['currency'])} or less, "
                f"never above {money(a['max_price_cents'], a['currency'])}") if a["spends_money"] else \
            f"alert at {money(a['threshold_cents'], a['currency'])} or less"
        until = time.strftime("%Y-%m-%d", time.gmtime(a["expires_at_ms"] / 1000))
        console.print(f"{a['alert_id']}  {a['title']}: {what}; until {until}; fired {a['fired_count']}x")
    console.print("Alerts: unavailable" if alerts is None else ("Alerts: none" if not alerts else ""), end="")
    memory = me.get("memory")
    console.print("\nMemory: " + ("unavailable" if memory is None else
                                  "; ".join(f"{m['label']} ({m['key']}): {m['shown']}" for m in memory) or "nothing"))


async def change(ws_url: str, home: Path, verb: str, target: str, console: Console) -> None:
    """Send one panel change and print its answer; raises ConfigError for an unknown verb."""
    if verb not in ACTIONS:
        raise ConfigError(f"unknown change {verb!r}; one of {', '.join(ACTIONS)}")
    session = await _session(http_base(ws_url), _saved(home))
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "hello", "token": session["token"]}))
        await ws.send(json.dumps({"type": "account", "action": ACTIONS[verb].format(target)}))
        turn: int | None = None
        deadline = asyncio.get_running_loop().time() + ANSWER_TIMEOUT_S
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise DependencyError(f"no answer within {ANSWER_TIMEOUT_S:g} s")
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
            kind = message.get("type")
            if kind == "error":
                raise ConfigError(str(message.get("message")))
            if kind == "accepted" and message.get("account"):
                turn = message["turn"]
            elif turn is not None and message.get("turn") == turn and message.get("conversation_id") == session["conversation_id"]:
                payload = message.get("payload") or {}
                if kind == "text" and message.get("text"):
                    console.print(message["text"].strip(), end=" " if "action" not in payload else "\n")
                if kind == "done" or (kind == "text" and isinstance(payload.get("ok"), bool)):
                    console.print()
                    return


def _saved(home: Path) -> str:
    path = token_file(home)
    if not path.exists():
        raise ConfigError(f"no saved session in {path}: chat once with `aisle chat` first")
    return path.read_text().strip()
