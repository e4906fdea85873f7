// Aisle web chat: the "You" panel, a modal dialog with the shopper's cart, orders, price alerts and
// auto-buys, and what Aisle remembers (docs/clients.md, "The You panel").
//
// It reads GET /me with the session token (owner-only) and changes nothing itself: every button sends an
// `account` message on the chat's socket, which the gateway turns into the same records the words or
// buttons that do it produce (a click for the actions stage, "forget my …" for the planner). The panel
// reads /me again when the gateway says the account changed (`account_changed`, from any conversation).
"use strict";

window.AisleYou = (function () {
  const R = window.AisleRender;
  const el = R.el, str = R.str, num = R.num, arr = R.arr, obj = R.obj, money = R.money;
  const SETTLE_MS = 600; // the gateway's tables may read a change a moment after its frame: read twice

  // deps: token() -> the session token; send(action, label) -> true when the socket took it.
  function create(dialog, deps) {
    const body = dialog.querySelector(".you-body");
    const statusLine = dialog.querySelector(".you-status");
    let returnTo = null;
    let loading = 0; // a counter, so a slow read never overwrites a newer one

    function close() {
      if (dialog.open && typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
    }
    dialog.addEventListener("close", function () {
      if (returnTo && typeof returnTo.focus === "function") returnTo.focus();
      returnTo = null;
    });
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    dialog.addEventListener("click", function (event) { if (event.target === dialog) close(); });
    dialog.querySelector(".pv-close").addEventListener("click", close);

    function open(opener) {
      returnTo = opener || null;
      if (!dialog.open) {
        if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
      }
      dialog.querySelector(".pv-close").focus();
      body.replaceChildren(el("p", "muted", "Loading…"));
      refresh();
    }

    async function refresh() {
      if (!dialog.open) return;
      const mine = ++loading;
      dialog.setAttribute("aria-busy", "true");
      let me = null;
      try {
        const response = await fetch("/me", { cache: "no-store", headers: { Authorization: "Bearer " + deps.token() } });
        if (response.ok) me = obj(await response.json());
      } catch (e) {
        me = null;
      }
      if (mine !== loading || !dialog.open) return;
      dialog.removeAttribute("aria-busy");
      // Keep the focus on the same control across a re-render (the list is rebuilt from scratch).
      const focusKey = document.activeElement && body.contains(document.activeElement)
        ? document.activeElement.getAttribute("data-key") : null;
      if (!me) { body.replaceChildren(el("p", "error", "Your page could not be loaded; try again in a moment.")); return; }
      body.replaceChildren(cart(me.cart), orders(me.orders), alerts(me.alerts), memory(me.memory));
      const again = focusKey ? body.querySelector('[data-key="' + CSS.escape(focusKey) + '"]') : null;
      if (again && !again.disabled) again.focus();
    }

    function changed() {
      if (!dialog.open) return;
      refresh();
      setTimeout(refresh, SETTLE_MS);
    }

    // A button that asks for one change; it stays disabled until the panel is read again.
    function change(text, label, action, key) {
      const b = R.button("", text, label);
      b.setAttribute("data-key", key);
      b.addEventListener("click", function () {
        if (deps.send(action, label)) {
          b.disabled = true;
          statusLine.textContent = "Asked: " + label + ".";
        } else {
          statusLine.textContent = "Not connected: try again in a moment.";
        }
      });
      return b;
    }

    function section(heading, id) {
      const box = el("section", "you-section");
      const h = el("h3", "", heading);
      h.id = id;
      box.setAttribute("aria-labelledby", id);
      box.appendChild(h);
      return box;
    }
    function unavailable(box, what) { box.appendChild(el("p", "error", what + " could not be read just now.")); return box; }

    function cart(c) {
      const box = section("Cart", "you-cart");
      if (c === null || c === undefined) return unavailable(box, "Your cart");
      c = obj(c);
      const lines = arr(c.lines).map(obj).filter(function (l) { return str(l.product_id); });
      if (!lines.length) { box.appendChild(el("p", "muted", "Your cart is empty.")); return box; }
      const list = el("ul", "you-list");
      for (const line of lines) {
        const id = line.product_id, title = str(line.title) || id, qty = num(line.quantity) || 0;
        const li = el("li", "you-item");
        li.appendChild(el("span", "you-title", title));
        li.appendChild(el("span", "muted", money(line.unit_price_cents, c.currency) + " each" + (line.in_stock === false ? " · out of stock" : "")));
        const row = el("div", "you-row");
        row.appendChild(change("−", "One fewer " + title, "remove_from_cart:" + id + ":quantity=1", "less:" + id));
        const count = el("span", "you-qty");
        count.appendChild(el("span", "sr-only", "Quantity "));
        count.appendChild(document.createTextNode(String(qty)));
        row.appendChild(count);
        const more = change("+", "One more " + title, "add_to_cart:" + id + ":quantity=1", "more:" + id);
        if (qty >= 20) more.disabled = true; // the actions stage's MAX_QUANTITY per click
        row.appendChild(more);
        row.appendChild(change("Remove", "Remove " + title + " from the cart", "remove_from_cart:" + id, "remove:" + id));
        li.appendChild(row);
        list.appendChild(li);
      }
      box.appendChild(list);
      box.appendChild(el("p", "you-total", "Total " + money(c.total_cents, c.currency)));
      return box;
    }

    function orders(list) {
      const box = section("Orders", "you-orders");
      if (list === null || list === undefined) return unavailable(box, "Your orders");
      const items = arr(list).map(obj);
      if (!items.length) { box.appendChild(el("p", "muted", "No orders yet.")); return box; }
      const ul = el("ul", "you-list");
      for (const o of items) {
        const li = el("li", "you-item");
        li.appendChild(el("span", "you-title", "Order " + str(o.order_id)));
        li.appendChild(el("span", "badge", str(o.status).replace(/_/g, " ") || "unknown"));
        const placed = num(o.placed_at_ms) !== null ? new Date(o.placed_at_ms).toLocaleDateString() : "";
        li.appendChild(el("span", "muted", money(o.total_cents, o.currency) + (placed ? " · placed " + placed : "")
          + (num(o.delivery_days) !== null ? " · " + R.delivery(o.delivery_days) : "")));
        const what = arr(o.lines).map(obj).map(function (l) { return (num(l.quantity) || 1) + " × " + (str(l.title) || str(l.product_id)); });
        if (what.length) li.appendChild(el("span", "you-lines", what.join(", ")));
        ul.appendChild(li);
      }
      box.appendChild(ul);
      return box;
    }

    function alerts(list) {
      const box = section("Price alerts and auto-buys", "you-alerts");
      if (list === null || list === undefined) return unavailable(box, "Your alerts");
      const items = arr(list).map(obj).filter(function (a) { return str(a.alert_id); });
      if (!items.length) { box.appendChild(el("p", "muted", "No price alerts. Ask \"tell me when it drops below $40\" on a product.")); return box; }
      const ul = el("ul", "you-list");
      for (const a of items) {
        const title = str(a.title) || str(a.product_id);
        const li = el("li", "you-item" + (a.spends_money ? " spends" : ""));
        li.appendChild(el("span", "you-title", title));
        if (a.spends_money) {
          li.appendChild(el("span", "badge spends-money", "Auto-buy: spends money"));
          li.appendChild(el("span", "", "Buys " + (num(a.quantity) || 1) + " at " + money(a.threshold_cents, a.currency)
            + " or less (never above " + money(a.max_price_cents, a.currency) + " each)"));
        } else {
          li.appendChild(el("span", "", "Tells you at " + money(a.threshold_cents, a.currency) + " or less"));
        }
        const fired = num(a.fired_count) || 0;
        const until = num(a.expires_at_ms) !== null ? new Date(a.expires_at_ms).toLocaleDateString() : "?";
        li.appendChild(el("span", "muted", "Until " + until + " · fired " + fired + (fired === 1 ? " time" : " times")));
        li.appendChild(change("Cancel", "Cancel the " + (a.spends_money ? "auto-buy" : "alert") + " on " + title,
          "cancel_alert:" + a.alert_id, "cancel:" + a.alert_id));
        ul.appendChild(li);
      }
      box.appendChild(ul);
      return box;
    }

    function memory(list) {
      const box = section("What Aisle remembers", "you-memory");
      if (list === null || list === undefined) return unavailable(box, "Your account memory");
      const items = arr(list).map(obj).filter(function (m) { return str(m.key); });
      if (!items.length) { box.appendChild(el("p", "muted", "Nothing yet. Aisle remembers what you say about yourself (budget, size, brands) to narrow searches.")); return box; }
      const ul = el("ul", "you-list");
      for (const m of items) {
        const li = el("li", "you-item you-pref");
        li.appendChild(el("span", "you-title", str(m.label) + ": " + (str(m.shown) || str(m.value))));
        li.appendChild(change("Delete", "Delete your " + str(m.label), "forget:" + m.key, "forget:" + m.key));
        ul.appendChild(li);
      }
      box.appendChild(ul);
      // Two steps: the first click only asks to confirm, so one slip cannot wipe everything.
      const all = R.button("danger", "Forget everything", "Forget everything Aisle remembers about you");
      all.setAttribute("data-key", "forget:all");
      all.addEventListener("click", function () {
        if (all.getAttribute("data-armed") !== "1") {
          all.setAttribute("data-armed", "1");
          all.textContent = "Really forget everything?";
          all.setAttribute("aria-label", "Really forget everything Aisle remembers about you?");
          statusLine.textContent = "Press again to forget everything.";
          return;
        }
        if (deps.send("forget:all", "Forget everything")) { all.disabled = true; statusLine.textContent = "Asked: forget everything."; }
      });
      box.appendChild(all);
      return box;
    }

    return { open: open, close: close, changed: changed, isOpen: function () { return dialog.open; } };
  }

  return { create: create };
})();
