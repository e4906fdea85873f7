// Aisle web chat: plain JS, no build step, no network beyond this gateway.
//
// Every string that comes from the server (model output, titles, reviews) reaches the page through
// textContent or setAttribute on safe attributes, never innerHTML: the gateway's CSP is the second line.
// Protocol: docs/gateway.md. Frame payloads: docs/markup.md (read defensively: any field may be missing).
"use strict";

(function () {
  const R = window.AisleRender;
  const el = R.el, str = R.str, num = R.num, arr = R.arr, obj = R.obj, money = R.money;
  const TOKEN_KEY = "aisle.session";
  const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
  const SENTENCE_END = /[.!?…:]\s*$/;
  const DEFAULT_TURN_TIMEOUT_S = 60; // until `welcome` says the gateway's AISLE_GATEWAY_TURN_TIMEOUT_S

  const log = document.getElementById("log");
  const statusEl = document.getElementById("status");
  const form = document.getElementById("ask");
  const question = document.getElementById("question");
  const pageProduct = document.getElementById("page-product");
  const announcer = document.getElementById("announcer");
  const sendButton = document.getElementById("send");

  let session = null; // {token, user_id, conversation_id, expires_at_s}
  let ws = null;
  let attempts = 0;
  let afterSeq = null; // {turn: last seq shown}; null until the first hello of this page
  let lastTurn = -1;
  const turns = new Map(); // turn -> {root, answer, done, spoken}
  const pendingAsks = []; // user bubbles waiting for their "accepted"
  let startersFor = ""; // the product page whose starter questions were last fetched
  let turnTimeoutMs = DEFAULT_TURN_TIMEOUT_S * 1000;
  let waiting = null; // while an ask is unanswered: {turn (null until accepted), timer}
  const accountLabels = new Map(); // panel action -> what the shopper clicked, for its bubble

  const productView = window.AisleProduct.create(document.getElementById("product-view"), enterPage);
  const openProduct = productView.open;
  window.AisleVoice.attach(document.getElementById("mic"), question, document.getElementById("heard"));
  const youButton = document.getElementById("you");
  const panel = window.AisleYou.create(document.getElementById("you-panel"), {
    token: function () { return session ? session.token : ""; },
    send: function (action, label) {
      accountLabels.set(action, label);
      return send({ type: "account", action: action });
    },
  });
  youButton.addEventListener("click", function () { panel.open(youButton); });

  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function setStatus(text, down) { statusEl.textContent = text; statusEl.classList.toggle("down", !!down); }

  // ---------- the live region ----------
  // A screen reader would read a streaming answer token by token (or not at all) if the log itself were
  // live, so the log is not; whole sentences go to a polite live region as they complete, and the rest
  // of the answer when the turn is done.
  function announce(text) {
    text = text.trim();
    if (!text || !announcer) return;
    announcer.appendChild(el("p", "", text));
    while (announcer.childNodes.length > 6) announcer.removeChild(announcer.firstChild);
  }
  function speak(view, text) {
    view.spoken += text;
    if (SENTENCE_END.test(view.spoken)) { announce(view.spoken); view.spoken = ""; }
  }

  // ---------- session ----------
  async function postSession(body) {
    const response = await fetch("/session", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const failure = new Error("session " + response.status);
      failure.status = response.status;
      try { failure.reason = str(obj(await response.json()).error); } catch (e) { failure.reason = ""; }
      throw failure;
    }
    return response.json();
  }
  async function ensureSession(fresh) {
    const saved = localStorage.getItem(TOKEN_KEY);
    try {
      session = await postSession(saved && !fresh ? { token: saved } : (saved ? { token: saved, new_conversation: true } : {}));
    } catch (e) {
      // An unreachable gateway is no reason to drop who the shopper is: the caller tries again later.
      if (e.status !== 401) throw e;
      // The gateway renews expired tokens for the same shopper; 401 means it cannot (another secret,
      // expired too long ago). Starting over is the only way on, but the shopper is told, not surprised.
      session = await postSession({});
      const notice = el("div", "error session-lost",
        "Your earlier session could not be restored" + (e.reason ? " (" + e.reason + ")" : "") +
        ", so this is a new one: the cart, orders and alerts of the earlier one are not shown here.");
      notice.setAttribute("role", "alert");
      log.appendChild(notice);
      scrollDown();
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
        if (event.code === 1008) { // token refused: renew (or start over, saying so)
          try { await ensureSession(false); } catch (e) { setStatus("gateway unreachable", true); }
        }
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
      case "welcome":
        attempts = 0;
        setStatus("connected");
        if (num(m.turn_timeout_s) !== null && m.turn_timeout_s > 0) turnTimeoutMs = m.turn_timeout_s * 1000;
        return;
      case "account_changed": panel.changed(); return;
      case "accepted": {
        const turn = num(m.turn);
        if (turn === null) return;
        lastTurn = Math.max(lastTurn, turn);
        if (m.account) { accountTurn(turn, m); return; }
        if (waiting && waiting.turn === null) { waiting.turn = turn; keepWaiting(); }
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
    if (waiting && waiting.turn === m.turn) keepWaiting();
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
    // The ask was refused before it became a turn (broker down, a rate limit, too many turns in flight).
    if (m.code === "unavailable" || m.code === "rate_limited" || m.code === "too_many_turns") {
      const bubble = pendingAsks.shift();
      if (bubble) bubble.querySelector(".meta").textContent = "not sent: try again";
      stopWaiting();
    }
    scrollDown();
  }

  function showOtherAlert(m) {
    const p = obj(m.payload);
    const box = el("div", "alert elsewhere", str(m.text) || str(p.message) || "Price alert");
    box.setAttribute("role", "status");
    box.appendChild(el("span", "meta", "set in another conversation"));
    log.appendChild(box);
    scrollDown();
  }

  function turnView(turn, bubble) {
    let view = turns.get(turn);
    if (!view) {
      const root = el("section", "turn pending");
      root.setAttribute("aria-label", "Answer " + (turn + 1));
      root.setAttribute("aria-busy", "true");
      view = { root: root, answer: null, done: false, spoken: "" };
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
      case "card": return appendBlock(view, R.cardRow([p], openProduct));
      case "carousel": return appendBlock(view, R.cardRow(arr(p.cards), openProduct));
      case "compare": return appendBlock(view, R.compareTable(p, openProduct));
      // h2: the page's h1 is "Aisle"; in the product view the same boxes sit under its h2 as h3.
      case "reviews": return appendBlock(view, R.reviewSummary(p, "h2"));
      case "price_history": return appendBlock(view, R.priceChart(p, "h2"));
      case "suggestions": return appendBlock(view, chips(arr(p.items), "Follow-up questions"));
      case "action": return actionBar(view).appendChild(actionButton(f.turn, p));
      case "alert": return appendBlock(view, notice(view, "alert", str(f.text) || str(p.message) || "Price alert"));
      case "error": return appendBlock(view, notice(view, "error", str(f.text) || str(p.reason) || "This answer could not be finished."));
      case "done": return finishTurn(view, f.turn);
      default:
        if (str(f.text)) { textBox(view).appendChild(document.createTextNode(f.text)); speak(view, f.text); }
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

  function notice(view, className, text) {
    announce(text);
    return el("div", className, text);
  }

  function renderText(view, f, p) {
    let text = str(f.text);
    // An action's confirmation (the actions stage) on a turn with nothing else is a panel change: the
    // whole turn. On an answer's turn it follows the answer, as a button's confirmation always has.
    if (str(p.action) && typeof p.ok === "boolean" && ![".answer", ".card", ".thumbs"].some(function (c) { return view.root.querySelector(c); })) {
      textBox(view).appendChild(document.createTextNode(text.replace(/^\n+/, "")));
      announce(text);
      view.account = true;
      finishTurn(view, f.turn);
      return;
    }
    if (str(p.product_id)) textBox(view).appendChild(R.opener("product-link", text, p.product_id, openProduct));
    else textBox(view).appendChild(document.createTextNode(text));
    speak(view, text);
  }

  function chips(items, label) {
    const row = el("div", "chips");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", label);
    for (const item of items) {
      const text = str(item);
      if (!text) continue;
      const chip = R.button("chip", text, "Ask: " + text);
      chip.addEventListener("click", function () { ask(text); });
      row.appendChild(chip);
    }
    return row;
  }

  function actionBar(view) {
    const last = view.root.lastElementChild;
    if (last && last.classList.contains("actions")) return last;
    const bar = el("div", "actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Actions");
    appendBlock(view, bar);
    return bar;
  }

  function actionButton(turn, p) {
    const type = str(p.type);
    const params = obj(p.params);
    let label = type.replace(/_/g, " ") || "action";
    if (type === "add_to_cart") label = "Add to cart";
    if (type === "price_alert") label = "Alert me below " + money(params.below_cents, "USD");
    const button = R.button("action", label, label + " (" + str(p.product_id) + ")");
    button.title = str(p.product_id);
    button.addEventListener("click", function () {
      const value = JSON.stringify({ type: type, product_id: str(p.product_id), params: params });
      if (send({ type: "feedback", turn: turn, kind: "action_clicked", value: value })) {
        button.disabled = true;
        button.textContent = type === "add_to_cart" ? "Added (requested)" : "Alert requested";
        button.setAttribute("aria-label", button.textContent + " (" + str(p.product_id) + ")");
        announce(button.textContent);
      }
    });
    return button;
  }

  function finishTurn(view, turn) {
    if (view.done) return;
    view.done = true;
    view.root.classList.remove("pending");
    view.root.removeAttribute("aria-busy");
    if (waiting && waiting.turn === turn) stopWaiting();
    panel.changed();
    announce(view.spoken);
    view.spoken = "";
    if (view.account) return; // a panel change: nothing to rate
    announce("Answer finished.");
    const row = el("div", "thumbs");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", "Rate this answer");
    for (const [kind, label] of [["thumbs_up", "👍"], ["thumbs_down", "👎"]]) {
      const words = kind === "thumbs_up" ? "Helpful" : "Not helpful";
      const button = R.button("", label, words);
      button.title = words;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", function () {
        if (send({ type: "feedback", turn: turn, kind: kind })) {
          row.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
          button.classList.add("chosen");
          button.setAttribute("aria-pressed", "true");
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
    const heading = "Ask about " + (str(body.title) || product) + ":";
    box.appendChild(el("div", "muted", heading));
    box.appendChild(chips(questions, heading));
    log.appendChild(box);
    scrollDown();
  }

  // "Ask about this product" in the product view: product-page mode for that product.
  function enterPage(productId) {
    pageProduct.value = productId;
    showStarters();
    announce("Now asking on the page of " + productId + ".");
    question.focus();
  }

  // ---------- a "You" panel change: its own turn, shown like the shopper's words ----------
  function accountTurn(turn, m) {
    const what = str(m.text) || accountLabels.get(str(m.action)) || str(m.action);
    const bubble = el("div", "user account");
    bubble.appendChild(el("span", "sr-only", "From your page: "));
    bubble.appendChild(document.createTextNode(what));
    bubble.appendChild(el("span", "meta", "from the You panel · turn " + turn));
    turnView(turn, bubble);
    scrollDown();
  }

  // ---------- the turn timeout: an answer that stops coming must not hold the chat forever ----------
  function setBusy(busy) {
    sendButton.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }
  function keepWaiting() {
    if (!waiting) return;
    clearTimeout(waiting.timer);
    waiting.timer = setTimeout(giveUp, turnTimeoutMs);
  }
  function stopWaiting() {
    if (waiting) clearTimeout(waiting.timer);
    waiting = null;
    setBusy(false);
  }
  function giveUp() {
    const turn = waiting ? waiting.turn : null;
    const seconds = Math.round(turnTimeoutMs / 1000);
    const text = "No answer for " + seconds + (seconds === 1 ? " second" : " seconds") +
      ": Aisle may be busy or down. You can ask again.";
    const box = el("div", "error timeout", text);
    box.setAttribute("role", "alert");
    if (turn !== null) {
      const view = turnView(turn);
      view.root.classList.remove("pending");
      view.root.removeAttribute("aria-busy");
      view.root.appendChild(box);
    } else {
      const bubble = pendingAsks.shift();
      if (bubble) bubble.querySelector(".meta").textContent = "no reply from the gateway";
      log.appendChild(box);
    }
    stopWaiting();
    scrollDown();
    question.focus();
  }

  // ---------- outgoing ----------
  function ask(text) {
    text = text.trim();
    if (!text) return;
    if (waiting) { setStatus("wait for the answer, or for the timeout, before asking again"); return; }
    const message = { type: "ask", text: text };
    const product = pageProduct.value.trim();
    if (product) message.page_product_id = product;
    if (!send(message)) { setStatus("not connected: try again in a moment", true); return; }
    const bubble = el("div", "user");
    bubble.appendChild(el("span", "sr-only", "You asked: "));
    bubble.appendChild(document.createTextNode(text));
    bubble.appendChild(el("span", "meta", product ? "on " + product : "sending…"));
    log.appendChild(bubble);
    pendingAsks.push(bubble);
    waiting = { turn: null, timer: null };
    setBusy(true);
    keepWaiting();
    scrollDown();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (waiting) { setStatus("wait for the answer, or for the timeout, before asking again"); return; }
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
    stopWaiting();
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
