// Aisle web chat: the DOM builders shared by the answer log (chat.js) and the product view (product.js).
//
// Every string from the server reaches the page through textContent or setAttribute on safe
// attributes, never innerHTML. Payloads are read defensively (docs/markup.md): any field may be missing.
// `open(productId, opener)` is how a card, a comparison column or a link asks for the product view.
"use strict";

window.AisleRender = (function () {
  const SVG = "http://www.w3.org/2000/svg";

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
  // "delivery in 1 day", "delivery in 3 days" (pipeline/store/sentences.py `delivery_phrase` says it the same way).
  function delivery(days) { return "delivery in " + days + (days === 1 ? " day" : " days"); }
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
  function button(className, text, label) {
    const node = el("button", className, text);
    node.type = "button";
    if (label) node.setAttribute("aria-label", label);
    return node;
  }
  // A control that opens a product's view; a button so that the keyboard reaches it.
  function opener(className, text, productId, open) {
    const node = button(className, text);
    node.setAttribute("aria-haspopup", "dialog");
    node.title = "Open " + productId;
    node.addEventListener("click", function () { open(productId, node); });
    return node;
  }

  // Price, deal, "simulated" label and stock: the lines a card and the product view share.
  function offerLines(box, c) {
    if (c.live === false || num(c.price_cents) === null) {
      box.appendChild(el("div", "muted", "price unavailable right now"));
    } else {
      const price = el("div", "price", money(c.price_cents, c.currency));
      const deal = obj(c.deal);
      if (num(deal.list_price_cents) !== null) {
        // A screen reader does not say strike-through: the words say what the second price is.
        price.appendChild(el("span", "sr-only", ", list price "));
        price.appendChild(el("s", "list-price", money(deal.list_price_cents, c.currency)));
      }
      box.appendChild(price);
      if (num(deal.discount_pct)) box.appendChild(el("div", "deal", "−" + deal.discount_pct + "% deal"));
    }
    if (c.simulated) box.appendChild(el("span", "badge", "simulated price"));
    const availability = { in_stock: "In stock", out_of_stock: "Out of stock" }[str(c.availability)];
    if (availability) box.appendChild(el("div", "muted stock", availability + (num(c.delivery_days) !== null ? " · " + delivery(c.delivery_days) : "")));
  }

  function ratingLine(rating) {
    rating = obj(rating);
    if (num(rating.average) === null || !num(rating.count)) return null;
    return el("div", "muted", "★ " + rating.average.toFixed(1) + " (" + rating.count + " ratings)" + (rating.simulated ? " · simulated" : ""));
  }

  function card(c, open) {
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
    const id = str(c.product_id);
    const title = str(c.title) || id;
    box.appendChild(id ? opener("title", title, id, open) : el("div", "title", title));
    const rating = ratingLine(c.rating);
    if (rating) box.appendChild(rating);
    offerLines(box, c);
    box.appendChild(el("div", "muted", id));
    return box;
  }

  function cardRow(cards, open) {
    const row = el("div", "cards");
    for (const c of cards) row.appendChild(card(obj(c), open));
    return row;
  }

  function compareTable(p, open) {
    const wrap = el("div", "compare-wrap");
    const table = el("table", "compare");
    const ids = arr(p.product_ids);
    const titles = arr(p.titles);
    const head = el("tr");
    const corner = el("th");
    corner.setAttribute("scope", "col");
    corner.appendChild(el("span", "sr-only", "Attribute"));
    head.appendChild(corner);
    ids.forEach(function (id, i) {
      const th = el("th");
      th.setAttribute("scope", "col");
      const text = str(titles[i]) || str(id);
      th.appendChild(str(id) ? opener("column", text, id, open) : document.createTextNode(text));
      head.appendChild(th);
    });
    table.appendChild(head);
    for (const r of arr(p.rows)) {
      const row = obj(r);
      const tr = el("tr");
      const th = el("th", "", str(row.attr));
      th.setAttribute("scope", "row");
      tr.appendChild(th);
      const values = arr(row.values);
      ids.forEach(function (_, i) { tr.appendChild(el("td", "", values[i] === null || values[i] === undefined ? "—" : String(values[i]))); });
      table.appendChild(tr);
    }
    wrap.appendChild(table);
    if (p.simulated) wrap.appendChild(el("span", "badge", "includes simulated prices"));
    return wrap;
  }

  function reviewSummary(p, heading) {
    const box = el("div", "reviews");
    box.appendChild(el(heading || "h3", "", "What customers say"));
    // The summary line and the counted aspects ("5 of 8 reviews praise the color.") come as text.
    if (str(p.summary)) box.appendChild(el("p", "summary", str(p.summary)));
    for (const [name, label] of [["pros", "Liked"], ["cons", "Disliked"]]) {
      const items = arr(p[name]);
      if (!items.length) continue;
      box.appendChild(el("div", "muted", label));
      const list = el("ul", name);
      list.setAttribute("aria-label", label);
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
        bar.setAttribute("aria-hidden", "true");
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

  function priceChart(p, heading) {
    const box = el("div", "chart");
    box.appendChild(el(heading || "h3", "", "Price history"));
    const points = arr(p.series).map(obj).filter(function (pt) { return num(pt.price_cents) !== null; });
    if (points.length < 2) { box.appendChild(el("div", "muted", "not enough history")); return box; }
    const W = 520, H = 160, PAD = 28;
    const prices = points.map(function (pt) { return pt.price_cents; });
    const lo = Math.min.apply(null, prices), hi = Math.max.apply(null, prices);
    const span = hi - lo || 1;
    const summary = "Price from " + money(lo, p.currency) + " to " + money(hi, p.currency) + " between " +
      str(points[0].day) + " and " + str(points[points.length - 1].day);
    const chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": summary });
    const title = svg("title");
    title.textContent = summary;
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

  return {
    el: el, svg: svg, str: str, num: num, delivery: delivery, arr: arr, obj: obj, money: money, button: button, opener: opener,
    offerLines: offerLines, ratingLine: ratingLine, card: card, cardRow: cardRow, compareTable: compareTable,
    reviewSummary: reviewSummary, priceChart: priceChart,
  };
})();
