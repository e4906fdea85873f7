// Aisle web chat: plain JS, no build step, no network beyond this gateway.
//
// Every string that comes from the server (model output, titles, reviews) reaches the page through
// textContent or setAttribute on safe attributes, never innerHTML: the gateway's CSP is the second line.
// Protocol: docs/gateway.md. Frame payloads: docs/markup.md (read defensively: any field may be missing).
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const TOKEN_KEY = "aisle.session";
  const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

  const log = document.getElementById("log");
  const statusEl = document.getElementById("status");
  const form = document.getElementById("ask");
  const question = document.getElementById("question");
  const pageProduct = document.getElementById("page-product");

  let session = null; // {token, user_id, conversation_id, expires_at_s}
  let ws = null;
  let attempts = 0;
  let afterSeq = null; // {turn: last seq shown}; null until the first hello of this page
  let lastTurn = -1;
  const turns = new Map(); // turn -> {root, answer, done}
  const pendingAsks = []; // user bubbles waiting for their "accepted"
  let startersFor = ""; // the product page whose starter questions were last fetched

  // ---------- small DOM helpers ----------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  function str(v) { return typeof v === "string" ? v : ""; }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function obj(v) { return v && typeof v === "object" && !Array.isArray(v) ? v : {}; }
  function money(cents, currency) {
    if (num(cents) === null) return "";
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: str(currency) || "USD" }).format(cents / 100);
    } catch (e) {
      return (cents / 100).toFixed(2) + " " + str(currency);
    }
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function setStatus(text, down) { statusEl.textContent = text; statusEl.classList.toggle("down", !!down); }

  // ---------- session ----------
  async function postSession(body) {
    const response = await fetch("/session", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error("session " + response.status);
    return response.json();
  }
  async function ensureSession(fresh) {
    const saved = localStorage.getItem(TOKEN_KEY);
    try {
      session = await postSession(saved && !fresh ? { token: saved } : (saved ? { token: saved, new_conversation: true } : {}));
    } catch (e) {
      session = await postSession({}); // expired or from another secret: start over
    }
    localStorage.setItem(TOKEN_KEY, session.token);
  }

  // ---------- socket ----------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(scheme + "://" + location.host + "/ws");
    ws.onopen = function () {
      // First connect of the page: {} replays whatever the gateway still holds of this conversation.
      const resume = {};
      for (const [turn, seq] of Object.entries(afterSeq || {})) resume[turn] = seq;
      ws.send(JSON.stringify({ type: "hello", token: session.token, after_seq: resume, last_turn: lastTurn }));
      if (afterSeq === null) afterSeq = {};
    };
    ws.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(obj(message));
    };
    ws.onclose = function (event) {
      ws = null;
      setStatus("reconnecting…", true);
      const delay = BACKOFF_MS[Math.min(attempts, BACKOFF_MS.length - 1)];
      attempts += 1;
      setTimeout(async function () {
        if (event.code === 1008) await ensureSession(false); // token refused: renew or start over
        connect();
      }, delay);
    };
  }
  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(message)); return true; }
    return false;
  }

  // ---------- incoming ----------
  function handle(m) {
    switch (m.type) {
      case "welcome": attempts = 0; setStatus("connected"); return;
      case "accepted": {
        const turn = num(m.turn);
        if (turn === null) return;
        lastTurn = Math.max(lastTurn, turn);
        const bubble = pendingAsks.shift();
        if (bubble) bubble.querySelector(".meta").textContent = "turn " + turn;
        turnView(turn, bubble);
        return;
      }
      case "pong": case "feedback_ok": return;
      case "error":
        if (num(m.seq) === null) { showError(m); return; }
        break;
    }
    // Frames are this conversation's; the one exception is a price alert the shopper set in another
    // conversation, which the gateway sends without a seq. It must not touch this page's turns or seqs.
    if (session && str(m.conversation_id) && m.conversation_id !== session.conversation_id) {
      if (m.type === "alert") showOtherAlert(m);
      return;
    }
    if (num(m.turn) === null || num(m.seq) === null) return;
    // At-least-once below us: a frame at or below the last seq of its turn is a duplicate.
    const key = String(m.turn);
    if (afterSeq && key in afterSeq && m.seq <= afterSeq[key]) return;
    if (afterSeq) afterSeq[key] = m.seq;
    lastTurn = Math.max(lastTurn, m.turn);
    renderFrame(turnView(m.turn), m);
    scrollDown();
  }

  function showError(m) {
    const turn = num(m.turn);
    const target = turn !== null ? turnView(turn).root : log;
    target.appendChild(el("div", "error", str(m.message) || str(m.code) || "error"));
    if (m.code === "unavailable") {
      const bubble = pendingAsks.shift();
      if (bubble) bubble.querySelector(".meta").textContent = "not sent: try again";
    }
    scrollDown();
  }

  function showOtherAlert(m) {
    const p = obj(m.payload);
    const box = el("div", "alert elsewhere", str(m.text) || str(p.message) || "Price alert");
    box.appendChild(el("span", "meta", "set in another conversation"));
    log.appendChild(box);
    scrollDown();
  }

  function turnView(turn, bubble) {
    let view = turns.get(turn);
    if (!view) {
      const root = el("section", "turn pending");
      view = { root: root, answer: null, done: false };
      turns.set(turn, view);
      // Keep turns in number order even when a resume replays an older turn after a newer one.
      const later = [...turns.keys()].filter(function (t) { return t > turn; }).sort(function (a, b) { return a - b; });
      const before = later.length ? turns.get(later[0]).root : null;
      if (bubble) log.insertBefore(bubble, before);
      log.insertBefore(root, before);
    } else if (bubble && !bubble.parentNode) {
      log.insertBefore(bubble, view.root);
    }
    return view;
  }

  function renderFrame(view, f) {
    const p = obj(f.payload);
    switch (f.type) {
      case "text": return renderText(view, f, p);
      case "card": return appendBlock(view, cardRow([p]));
      case "carousel": return appendBlock(view, cardRow(arr(p.cards)));
      case "compare": return appendBlock(view, compareTable(p));
      case "reviews": return appendBlock(view, reviewSummary(p));
      case "price_history": return appendBlock(view, priceChart(p));
      case "suggestions": return appendBlock(view, chips(arr(p.items)));
      case "action": return actionBar(view).appendChild(actionButton(f.turn, p));
      case "alert": return appendBlock(view, el("div", "alert", str(f.text) || str(p.message) || "Price alert"));
      case "error": return appendBlock(view, el("div", "error", str(f.text) || str(p.reason) || "This answer could not be finished."));
      case "done": return finishTurn(view, f.turn);
      default:
        if (str(f.text)) textBox(view).appendChild(document.createTextNode(f.text));
    }
  }

  // Blocks sit where they arrived in the stream; text after a block starts a new paragraph below it.
  function appendBlock(view, node) {
    view.root.appendChild(node);
    view.answer = null;
  }
  function textBox(view) {
    if (!view.answer) { view.answer = el("div", "answer"); view.root.appendChild(view.answer); }
    return view.answer;
  }

  function renderText(view, f, p) {
    const text = str(f.text);
    if (str(p.product_id)) {
      const link = el("span", "product-link", text);
      link.title = p.product_id;
      link.addEventListener("click", function () { pageProduct.value = p.product_id; showStarters(); question.focus(); });
      textBox(view).appendChild(link);
    } else {
      textBox(view).appendChild(document.createTextNode(text));
    }
  }

  function cardRow(cards) {
    const row = el("div", "cards");
    for (const c of cards) row.appendChild(card(obj(c)));
    return row;
  }

  function card(c) {
    const box = el("article", "card");
    const image = str(c.image);
    if (/^https?:\/\//i.test(image)) {
      const img = el("img");
      img.alt = "";
      img.loading = "lazy";
      img.referrerPolicy = "no-referrer";
      img.addEventListener("error", function () { img.replaceWith(el("div", "noimg", "no image offline")); });
      img.src = image;
      box.appendChild(img);
    } else {
      box.appendChild(el("div", "noimg", "no image"));
    }
    box.appendChild(el("div", "title", str(c.title) || str(c.product_id)));
    const rating = obj(c.rating);
    if (num(rating.average) !== null && num(rating.count)) {
      box.appendChild(el("div", "muted", "★ " + rating.average.toFixed(1) + " (" + rating.count + ")" + (rating.simulated ? " · simulated" : "")));
    }
    if (c.live === false || num(c.price_cents) === null) {
      box.appendChild(el("div", "muted", "price unavailable right now"));
    } else {
      const price = el("div", "price", money(c.price_cents, c.currency));
      const deal = obj(c.deal);
      if (num(deal.list_price_cents) !== null) price.appendChild(el("span", "list-price", money(deal.list_price_cents, c.currency)));
      box.appendChild(price);
      if (num(deal.discount_pct)) box.appendChild(el("div", "deal", "−" + deal.discount_pct + "% deal"));
    }
    if (c.simulated) box.appendChild(el("span", "badge", "simulated price"));
    const availability = { in_stock: "In stock", out_of_stock: "Out of stock" }[str(c.availability)];
    if (availability) box.appendChild(el("div", "muted", availability + (num(c.delivery_days) !== null ? " · delivery in " + c.delivery_days + " days" : "")));
    box.appendChild(el("div", "muted", str(c.product_id)));
    return box;
  }

  function compareTable(p) {
    const wrap = el("div", "compare-wrap");
    const table = el("table", "compare");
    const ids = arr(p.product_ids);
    const titles = arr(p.titles);
    const head = el("tr");
    head.appendChild(el("th", "", ""));
    ids.forEach(function (id, i) { head.appendChild(el("th", "", str(titles[i]) || str(id))); });
    table.appendChild(head);
    for (const r of arr(p.rows)) {
      const row = obj(r);
      const tr = el("tr");
      tr.appendChild(el("th", "", str(row.attr)));
      const values = arr(row.values);
      ids.forEach(function (_, i) { tr.appendChild(el("td", "", values[i] === null || values[i] === undefined ? "—" : String(values[i]))); });
      table.appendChild(tr);
    }
    wrap.appendChild(table);
    if (p.simulated) wrap.appendChild(el("span", "badge", "includes simulated prices"));
    return wrap;
  }

  function reviewSummary(p) {
    const box = el("div", "reviews");
    box.appendChild(el("h3", "", "What customers say"));
    // The summary line and the counted aspects ("5 of 8 reviews praise the color.") come as text.
    if (str(p.summary)) box.appendChild(el("p", "summary", str(p.summary)));
    for (const [name, label] of [["pros", "Liked"], ["cons", "Disliked"]]) {
      const items = arr(p[name]);
      if (!items.length) continue;
      box.appendChild(el("div", "muted", label));
      const list = el("ul", name);
      for (const item of items) list.appendChild(el("li", "", str(item)));
      box.appendChild(list);
    }
    const rating = obj(p.rating);
    const dist = arr(rating.distribution || p.distribution);
    const total = dist.reduce(function (a, b) { return a + (num(b) || 0); }, 0);
    if (dist.length === 5 && total > 0) {
      const grid = el("div", "dist");
      for (let stars = 5; stars >= 1; stars--) {
        const count = num(dist[stars - 1]) || 0;
        grid.appendChild(el("span", "", stars + " ★"));
        const bar = el("div", "bar");
        bar.style.width = Math.round((160 * count) / total) + "px";
        grid.appendChild(bar);
        grid.appendChild(el("span", "", Math.round((100 * count) / total) + "%"));
      }
      box.appendChild(grid);
      if (rating.simulated) box.appendChild(el("span", "badge", "simulated ratings"));
    }
    if (num(p.sentences) && !str(p.summary)) box.appendChild(el("div", "muted", "from " + p.sentences + " review sentences"));
    return box;
  }

  function priceChart(p) {
    const box = el("div", "chart");
    box.appendChild(el("h3", "", "Price history"));
    const points = arr(p.series).map(obj).filter(function (pt) { return num(pt.price_cents) !== null; });
    if (points.length < 2) { box.appendChild(el("div", "muted", "not enough history")); return box; }
    const W = 520, H = 160, PAD = 28;
    const prices = points.map(function (pt) { return pt.price_cents; });
    const lo = Math.min.apply(null, prices), hi = Math.max.apply(null, prices);
    const span = hi - lo || 1;
    const chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
    const title = svg("title");
    title.textContent = "Price from " + money(lo, p.currency) + " to " + money(hi, p.currency);
    chart.appendChild(title);
    const xy = points.map(function (pt, i) {
      const x = PAD + ((W - 2 * PAD) * i) / (points.length - 1);
      const y = H - PAD - ((H - 2 * PAD) * (pt.price_cents - lo)) / span;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    chart.appendChild(svg("polyline", { points: xy.join(" ") }));
    const labels = [
      [4, PAD, money(hi, p.currency)], [4, H - PAD, money(lo, p.currency)],
      [PAD, H - 6, str(points[0].day)], [W - PAD - 60, H - 6, str(points[points.length - 1].day)],
    ];
    for (const [x, y, text] of labels) {
      const t = svg("text", { x: x, y: y });
      t.textContent = text;
      chart.appendChild(t);
    }
    box.appendChild(chart);
    if (p.simulated) box.appendChild(el("span", "badge", "simulated prices"));
    return box;
  }

  function chips(items) {
    const row = el("div", "chips");
    for (const item of items) {
      const text = str(item);
      if (!text) continue;
      const chip = el("button", "chip", text);
      chip.type = "button";
      chip.addEventListener("click", function () { ask(text); });
      row.appendChild(chip);
    }
    return row;
  }

  function actionBar(view) {
    const last = view.root.lastElementChild;
    if (last && last.classList.contains("actions")) return last;
    const bar = el("div", "actions");
    appendBlock(view, bar);
    return bar;
  }

  function actionButton(turn, p) {
    const type = str(p.type);
    const params = obj(p.params);
    let label = type.replace(/_/g, " ") || "action";
    if (type === "add_to_cart") label = "Add to cart";
    if (type === "price_alert") label = "Alert me below " + money(params.below_cents, "USD");
    const button = el("button", "action", label);
    button.type = "button";
    button.title = str(p.product_id);
    button.addEventListener("click", function () {
      const value = JSON.stringify({ type: type, product_id: str(p.product_id), params: params });
      if (send({ type: "feedback", turn: turn, kind: "action_clicked", value: value })) {
        button.disabled = true;
        button.textContent = type === "add_to_cart" ? "Added (requested)" : "Alert requested";
      }
    });
    return button;
  }

  function finishTurn(view, turn) {
    if (view.done) return;
    view.done = true;
    view.root.classList.remove("pending");
    const row = el("div", "thumbs");
    for (const [kind, label] of [["thumbs_up", "👍"], ["thumbs_down", "👎"]]) {
      const button = el("button", "", label);
      button.type = "button";
      button.title = kind === "thumbs_up" ? "Helpful" : "Not helpful";
      button.addEventListener("click", function () {
        if (send({ type: "feedback", turn: turn, kind: kind })) {
          row.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
          button.classList.add("chosen");
        }
      });
      row.appendChild(button);
    }
    view.root.appendChild(row);
  }

  // ---------- product-page mode: starter questions (GET /products/{id}/starters) ----------
  // Shown once per product entered, as chips that ask in page mode; any failure shows nothing.
  async function showStarters() {
    const product = pageProduct.value.trim();
    if (!product || product === startersFor) return;
    startersFor = product;
    let body;
    try {
      const response = await fetch("/products/" + encodeURIComponent(product) + "/starters");
      if (!response.ok) return;
      body = obj(await response.json());
    } catch (e) {
      return;
    }
    if (pageProduct.value.trim() !== product) return; // the shopper moved on while it loaded
    const questions = arr(body.questions).map(str).filter(Boolean);
    if (!questions.length) return;
    const box = el("div", "starters");
    box.appendChild(el("div", "muted", "Ask about " + (str(body.title) || product) + ":"));
    box.appendChild(chips(questions));
    log.appendChild(box);
    scrollDown();
  }

  // ---------- outgoing ----------
  function ask(text) {
    text = text.trim();
    if (!text) return;
    const message = { type: "ask", text: text };
    const product = pageProduct.value.trim();
    if (product) message.page_product_id = product;
    if (!send(message)) { setStatus("not connected: try again in a moment", true); return; }
    const bubble = el("div", "user", text);
    bubble.appendChild(el("span", "meta", product ? "on " + product : "sending…"));
    log.appendChild(bubble);
    pendingAsks.push(bubble);
    scrollDown();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(question.value);
    question.value = "";
  });
  question.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("new-chat").addEventListener("click", async function () {
    await ensureSession(true);
    turns.clear();
    pendingAsks.length = 0;
    log.replaceChildren();
    afterSeq = null;
    lastTurn = -1;
    startersFor = "";
    showStarters();
    if (ws) ws.close(1000); else connect(); // onclose reconnects with the new token
  });

  pageProduct.addEventListener("change", showStarters);
  const fromUrl = new URLSearchParams(location.search).get("product");
  if (fromUrl) pageProduct.value = fromUrl.slice(0, 64);
  showStarters();

  ensureSession(false).then(connect, function () { setStatus("gateway unreachable", true); });
})();
