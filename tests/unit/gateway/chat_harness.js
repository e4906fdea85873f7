// Runs the web chat's scripts (render.js, product.js, voice.js, chat.js, in the page's order) in node
// against a tiny fake DOM and a fake WebSocket, drives them through a session, and prints a JSON report
// for test_gateway_chat_js.py to check.
"use strict";
const fs = require("fs");
const vm = require("vm");

class Node {
  constructor(tag) {
    this.tagName = tag; this.children = []; this.parentNode = null; this.attrs = {}; this.listeners = {};
    this.style = {}; this._text = ""; this.className = ""; this.value = ""; this.disabled = false;
    this.id = ""; this.hidden = false; this.open = false;
    const self = this;
    this.classList = {
      add(c) { if (!self.classList.contains(c)) self.className = (self.className + " " + c).trim(); },
      remove(c) { self.className = self.className.split(/\s+/).filter((x) => x !== c).join(" "); },
      toggle(c, on) { on ? self.classList.add(c) : self.classList.remove(c); },
      contains(c) { return self.className.split(/\s+/).includes(c); },
    };
  }
  set textContent(v) { this.children.forEach((c) => (c.parentNode = null)); this.children = []; this._text = String(v); }
  get textContent() { return this.tagName === "#text" ? this._text : this._text + this.children.map((c) => c.textContent).join(""); }
  appendChild(n) { return this.insertBefore(n, null); }
  insertBefore(n, ref) {
    if (n.parentNode) n.parentNode.children.splice(n.parentNode.children.indexOf(n), 1);
    const i = ref ? this.children.indexOf(ref) : -1;
    if (i < 0) this.children.push(n); else this.children.splice(i, 0, n);
    n.parentNode = this; return n;
  }
  replaceWith(n) { const p = this.parentNode; p.insertBefore(n, this); p.children.splice(p.children.indexOf(this), 1); this.parentNode = null; }
  replaceChildren(...nodes) { this.children.forEach((c) => (c.parentNode = null)); this.children = []; nodes.forEach((n) => this.appendChild(n)); }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  removeAttribute(k) { delete this.attrs[k]; }
  get childNodes() { return this.children; }
  get firstChild() { return this.children[0] || null; }
  removeChild(n) { this.children.splice(this.children.indexOf(n), 1); n.parentNode = null; return n; }
  showModal() { this.open = true; }
  close() { this.open = false; this.fire("close"); }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  fire(type, event) { (this.listeners[type] || []).forEach((fn) => fn(Object.assign({ preventDefault() {} }, event || {}))); }
  get lastElementChild() { const els = this.children.filter((c) => c.tagName !== "#text"); return els[els.length - 1] || null; }
  all() { return this.children.flatMap((c) => [c, ...c.all()]); }
  querySelectorAll(sel) {
    return this.all().filter((n) => (sel.startsWith(".") ? n.classList.contains(sel.slice(1))
      : sel.startsWith("#") ? n.id === sel.slice(1) : n.tagName === sel));
  }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
  set innerHTML(v) { throw new Error("innerHTML used"); }
  requestSubmit() { this.fire("submit"); }
  focus() { focused = this; }
}
let focused = null;
function followUps0(log, starters) { return log.querySelectorAll(".chip").filter((c) => !starters.all().includes(c))[0]; }

const ids = {};
for (const id of ["log", "status", "ask", "question", "page-product", "new-chat", "announcer", "mic", "heard", "product-view",
  "send", "you", "you-panel"]) ids[id] = new Node("div");
for (const [tag, cls, id] of [["h2", "", "pv-title"], ["button", "pv-close", ""], ["div", "pv-body", ""], ["button", "pv-ask", ""]]) {
  const part = new Node(tag); part.className = cls; part.id = id; ids["product-view"].appendChild(part);
}
for (const [tag, cls] of [["button", "pv-close"], ["div", "you-body"], ["p", "you-status"]]) {
  const part = new Node(tag); part.className = cls; ids["you-panel"].appendChild(part);
}
// Short waits (reconnect backoff) run at once; long ones (the turn timeout) wait for runTimers().
const timers = new Map();
let nextTimer = 1;
function runTimers() { const due = [...timers.values()]; timers.clear(); due.forEach((fn) => fn()); }
const document = {
  documentElement: { lang: "en" },
  getElementById: (id) => ids[id],
  createElement: (tag) => new Node(tag),
  createElementNS: (ns, tag) => new Node(tag),
  createTextNode: (t) => { const n = new Node("#text"); n._text = String(t); return n; },
};
const sockets = [];
class FakeSocket {
  constructor(url) { this.url = url; this.sent = []; this.readyState = 1; sockets.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() {}
  receive(m) { this.onmessage({ data: JSON.stringify(m) }); }
}
FakeSocket.OPEN = 1;
const storage = {};
const sessions = [];
const EVIL = '<img src=x onerror="alert(1)">';
const starterFetches = [];
const meFetches = [];
const ME = {
  user_id: "u", orders: [{ order_id: "o-1", status: "shipped", total_cents: 500, currency: "USD", lines: [] }],
  cart: { lines: [{ product_id: "B01", title: EVIL, quantity: 2, unit_price_cents: 1000, in_stock: true }], total_cents: 2000, currency: "USD" },
  alerts: [{ alert_id: "al-9", product_id: "B01", title: "Kettle", kind: "auto_buy", threshold_cents: 900, max_price_cents: 950,
             quantity: 1, currency: "USD", expires_at_ms: 1893456000000, fired_count: 0, spends_money: true }],
  memory: [{ key: "budget_cents", label: "budget", value: "3000", shown: "$30.00" }],
};
const viewFetches = [];
const VIEW = {
  product_id: "B01", title: "Kettle " + EVIL,
  card: { product_id: "B01", title: EVIL, price_cents: 2999, currency: "USD", availability: "in_stock", delivery_days: 3, simulated: true, live: true },
  attributes: [{ name: "item_weight", label: "Item weight", value: EVIL }, { name: "x", label: "X", value: "" }],
  qa: [{ question: "Is it loud? " + EVIL, answer: "No." }],
  reviews: { product_id: "B01", summary: "Well reviewed.", pros: ["quiet"], cons: [] },
  price_history: { currency: "USD", series: [{ day: "2026-01-01", price_cents: 3200 }, { day: "2026-01-02", price_cents: 2999 }] },
};
const sandbox = {
  document, WebSocket: FakeSocket, URLSearchParams, Intl, JSON, Math, Object, String, Array, Map, Error, console,
  location: { protocol: "http:", host: "gw:8080", search: "?product=B0PAGE" },
  localStorage: { getItem: (k) => storage[k] || null, setItem: (k, v) => (storage[k] = v) },
  fetch: async (url, init) => {
    if (/^\/products\/[^/]+$/.test(String(url))) {
      viewFetches.push(url);
      return url === "/products/B01" ? { ok: true, status: 200, json: async () => VIEW } : { ok: false, status: 404, json: async () => ({}) };
    }
    if (String(url).startsWith("/products/")) {
      starterFetches.push(url);
      if (!url.startsWith("/products/B0PAGE/")) return { ok: false, status: 404, json: async () => ({ error: "unknown product" }) };
      return { ok: true, json: async () => ({ product_id: "B0PAGE", title: EVIL, questions: ["What is its weight?", EVIL, 7] }) };
    }
    if (url === "/me") { meFetches.push(init.headers.Authorization); return { ok: true, json: async () => ME }; }
    sessions.push(JSON.parse(init.body));
    // A token from another secret, or expired too long ago: the gateway refuses to renew it.
    if (JSON.parse(init.body).token === "tok-refused") return { ok: false, status: 401, json: async () => ({ error: "bad signature" }) };
    return { ok: true, json: async () => ({ token: "tok-" + sessions.length, user_id: "u", conversation_id: "c", expires_at_s: 0 }) };
  },
  setTimeout: (fn, ms) => { if (!(ms >= 10000)) { fn(); return 0; } timers.set(nextTimer, fn); return nextTimer++; },
  clearTimeout: (id) => { timers.delete(id); },
};
sandbox.window = sandbox;
vm.createContext(sandbox);
for (const file of process.argv.slice(2)) vm.runInContext(fs.readFileSync(file, "utf8"), sandbox, { filename: file });

setImmediate(async () => {
  const report = {};
  const ws = sockets[0];
  ws.onopen();
  report.hello = ws.sent[0];
  ws.receive({ type: "welcome", conversation_id: "c", user_id: "u" });
  ids.question.value = "which kettle?";
  ids.ask.fire("submit");
  report.ask = ws.sent[1];
  ws.receive({ type: "accepted", turn: 0 });
  const frames = [
    { type: "text", text: "Try " + EVIL, payload: {} },
    { type: "card", text: "", payload: { product_id: "B01", title: EVIL, image: "javascript:alert(1)", price_cents: 3999, currency: "USD", simulated: true, live: true, deal: { list_price_cents: 4999, discount_pct: 20 }, rating: { average: 4.5, count: 10, distribution: [1, 1, 1, 2, 5], simulated: true } } },
    { type: "text", text: " and more", payload: { product_id: "B01" } },
    { type: "compare", text: "", payload: { product_ids: ["B01", "B02"], titles: [EVIL, null], attrs: ["weight"], rows: [{ attr: "weight", values: ["1 kg", null] }], simulated: false } },
    { type: "reviews", text: "", payload: { product_id: "B01", summary: "This kettle is well reviewed: 3 of 4 reviews are positive.", pros: ["3 of 4 reviews praise the lid.", EVIL], cons: ["loud"], sentences: 12, reviews: 4, rating: { distribution: [0, 0, 1, 1, 2] } } },
    { type: "price_history", text: "", payload: { currency: "USD", series: [{ day: "2026-01-01", price_cents: 4000 }, { day: "2026-01-02", price_cents: 3500 }], simulated: true } },
    { type: "suggestions", text: "", payload: { items: ["Is it quiet?", EVIL] } },
    { type: "action", text: "", payload: { type: "add_to_cart", product_id: "B01", params: { quantity: 1 } } },
    { type: "action", text: "", payload: { type: "price_alert", product_id: "B01", params: { below_cents: 3000 } } },
    { type: "unknown_future_type", text: "", payload: "not an object" },
    { type: "done", text: "", payload: {} },
  ];
  frames.forEach((f, seq) => ws.receive(Object.assign({ conversation_id: "c", turn: 0, seq: seq }, f)));
  ws.receive(Object.assign({ conversation_id: "c", turn: 0, seq: 0 }, frames[0])); // a duplicate
  // A price alert set in another conversation of this shopper (no seq), and a stray frame of another
  // conversation: the first is shown apart from this conversation's turns, the second not at all.
  ws.receive({ type: "alert", conversation_id: "c-other", turn: 0, text: "Price alert: " + EVIL, payload: { alert_id: "al-1", firing: 0 } });
  ws.receive({ type: "text", conversation_id: "c-other", turn: 0, seq: 99, text: "NOT MINE", payload: {} });
  const log = ids.log;
  report.text = log.textContent;
  report.imgs = log.querySelectorAll("img").length;
  report.badges = log.querySelectorAll(".badge").map((b) => b.textContent);
  report.cards = log.querySelectorAll(".card").length;
  report.table_cells = log.querySelectorAll("td").map((c) => c.textContent);
  report.polyline = log.querySelectorAll("polyline").map((p) => p.attrs.points);
  report.occurrences = report.text.split(EVIL).length - 1;
  const reviews = log.querySelector(".reviews");
  report.reviews = { summary: reviews.querySelector(".summary").textContent, pros: reviews.querySelector(".pros").children.map((li) => li.textContent) };
  report.elsewhere = log.querySelectorAll(".elsewhere").map((n) => ({ text: n.textContent, in_turn: n.parentNode !== log }));
  const starters = log.querySelector(".starters");
  report.starters = { first_in_log: log.children[0] === starters, chips: starters.querySelectorAll(".chip").map((c) => c.textContent) };
  starters.querySelectorAll(".chip")[0].fire("click");
  report.starter_ask = ws.sent[ws.sent.length - 1];
  // No frame comes for the starter's turn: the chat gives up after the timeout and takes asks again.
  ws.receive({ type: "accepted", turn: 1 });
  const sentBefore = ws.sent.length;
  followUps0(log, starters).fire("click");
  report.timeout = { send_disabled: ids.send.disabled, refused_while_waiting: ws.sent.length === sentBefore };
  runTimers();
  report.timeout.after = { send_disabled: ids.send.disabled, error: log.querySelectorAll(".timeout").map((n) => n.textContent) };
  followUps0(log, starters).fire("click");
  report.chip_ask = ws.sent[ws.sent.length - 1];
  log.querySelectorAll(".action")[1].fire("click");
  report.action_feedback = ws.sent[ws.sent.length - 1];
  log.querySelector(".thumbs").children[0].fire("click");
  report.thumbs = ws.sent[ws.sent.length - 1];
  ws.onclose({ code: 1013 });
  await new Promise((r) => setImmediate(r));
  const again = sockets[1];
  again.onopen();
  report.resume_hello = again.sent[0];
  report.sessions = sessions;
  // Product-page mode entered again: the same product is not fetched twice; another one is, with its
  // id encoded; an unknown one (404) shows nothing.
  ids["page-product"].value = "B0PAGE";
  ids["page-product"].fire("change");
  ids["page-product"].value = "../session?x=1";
  ids["page-product"].fire("change");
  await new Promise((r) => setImmediate(r));
  report.starter_fetches = starterFetches.slice();
  // The product view: the card's title, the link and the comparison column each open it; it shows what
  // GET /products/B01 says, as text; "Ask about this product" switches to that product's page.
  const view = ids["product-view"];
  report.mic_hidden = ids.mic.hidden;
  const openers = log.querySelectorAll("button").filter((b) => b.attrs["aria-haspopup"] === "dialog");
  report.openers = openers.map((b) => b.className);
  report.view_titles = [];
  for (const opener of openers.slice().reverse()) {
    opener.fire("click");
    await new Promise((r) => setImmediate(r));
    report.view_titles.push(view.querySelector("#pv-title").textContent + " | " + view.querySelector(".pv-body").textContent.slice(0, 40));
  }
  report.view_fetches = viewFetches.slice();
  report.view_open = view.open;
  report.view_text = view.textContent;
  report.view_occurrences = view.textContent.split(EVIL).length - 1;
  report.view_rows = view.querySelectorAll("th").map((th) => th.textContent);
  report.view_polyline = view.querySelectorAll("polyline").length;
  view.querySelector(".pv-ask").fire("click");
  await new Promise((r) => setImmediate(r));
  report.view_after_ask = { open: view.open, page: ids["page-product"].value, focused_question: focused === ids.question };
  openers[0].fire("click");
  await new Promise((r) => setImmediate(r));
  view.fire("keydown", { key: "Escape" });
  report.view_after_escape = { open: view.open, focus_back: focused === openers[0] };
  report.announced = ids.announcer.children.map((c) => c.textContent);
  report.starter_boxes = log.querySelectorAll(".starters").length;
  // The You panel: read with the token, a click sends an account message, the accepted change gets a
  // bubble, its confirmation is the whole turn, and account_changed reads the panel again.
  const panel = ids["you-panel"];
  ids.you.fire("click");
  await new Promise((r) => setImmediate(r));
  report.me = { fetches: meFetches.slice(), text: panel.textContent, occurrences: panel.textContent.split(EVIL).length - 1 };
  const remove = panel.querySelectorAll("button").find((b) => b.textContent === "Remove");
  remove.fire("click");
  report.me.remove = again.sent[again.sent.length - 1];
  again.receive({ type: "accepted", turn: 5, account: true, action: again.sent[again.sent.length - 1].action });
  again.receive({ type: "text", conversation_id: "c", turn: 5, seq: 1700000000000, text: "\nRemoved it.", payload: { action: "remove_from_cart", ok: true } });
  const accountTurn = log.querySelectorAll("section").find((n) => n.attrs["aria-label"] === "Answer 6");
  report.me.turn = { text: accountTurn.textContent, pending: accountTurn.classList.contains("pending"), thumbs: accountTurn.querySelectorAll(".thumbs").length };
  report.me.bubble = log.querySelectorAll(".account").map((n) => n.textContent);
  const before = meFetches.length;
  again.receive({ type: "account_changed", conversation_id: "c-other", turn: 3 });
  await new Promise((r) => setImmediate(r));
  report.me.refetched = meFetches.length > before;
  // The token is refused (1008) and cannot be renewed: the chat starts over and says so.
  storage["aisle.session"] = "tok-refused";
  const sessionsBefore = sessions.length;
  again.onclose({ code: 1008 });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  report.refused = { asked: sessions.slice(sessionsBefore), lost: log.querySelectorAll(".session-lost").map((n) => n.textContent),
                     stored: storage["aisle.session"], sockets: sockets.length };
  console.log(JSON.stringify(report));
});
