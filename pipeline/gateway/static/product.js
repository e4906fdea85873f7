// Aisle web chat: the product view, a modal dialog over the chat (docs/clients.md, "The product view").
//
// Everything in it comes from GET /products/{id} (the store and the catalog, never the model), read
// again on every opening because the price and stock are live. Escape, the close button or a click on
// the backdrop closes it, and focus goes back to the control that opened it. "Ask about this product"
// hands the id to the chat (`onAsk`), which switches to product-page mode.
"use strict";

window.AisleProduct = (function () {
  const R = window.AisleRender;

  function create(dialog, onAsk) {
    const body = dialog.querySelector(".pv-body");
    const title = dialog.querySelector("#pv-title");
    const askButton = dialog.querySelector(".pv-ask");
    let shown = ""; // the product id the dialog is showing or loading
    let returnTo = null;

    function close() {
      if (dialog.open && typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
    }
    dialog.addEventListener("close", function () {
      shown = "";
      if (returnTo && typeof returnTo.focus === "function") returnTo.focus();
      returnTo = null;
    });
    // Native <dialog> closes itself on Escape; this covers a browser that shows it without showModal.
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    dialog.addEventListener("click", function (event) { if (event.target === dialog) close(); });
    dialog.querySelector(".pv-close").addEventListener("click", close);
    askButton.addEventListener("click", function () {
      const id = shown;
      returnTo = null; // the focus goes to the question box, not back to the opener
      close();
      if (id) onAsk(id, title.textContent);
    });

    async function open(productId, opener) {
      productId = R.str(productId);
      if (!productId) return;
      shown = productId;
      returnTo = opener || null;
      title.textContent = productId;
      askButton.disabled = true;
      body.replaceChildren(R.el("p", "muted", "Loading…"));
      dialog.setAttribute("aria-busy", "true");
      if (!dialog.open) {
        if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
      }
      dialog.querySelector(".pv-close").focus();
      let view = null, failure = "This product could not be loaded; try again in a moment.";
      try {
        const response = await fetch("/products/" + encodeURIComponent(productId), { cache: "no-store" });
        if (response.ok) view = R.obj(await response.json());
        else if (response.status === 404) failure = "The store does not know this product.";
      } catch (e) {
        view = null;
      }
      if (shown !== productId) return; // closed, or another product opened while this one loaded
      dialog.removeAttribute("aria-busy");
      if (!view) { body.replaceChildren(R.el("p", "error", failure)); return; }
      title.textContent = R.str(view.title) || productId;
      askButton.disabled = false;
      body.replaceChildren(...render(view, productId));
    }
    return { open: open, close: close };
  }

  function section(heading, id) {
    const box = R.el("section", "pv-section");
    const h = R.el("h3", "", heading);
    h.id = id;
    box.setAttribute("aria-labelledby", id);
    box.appendChild(h);
    return box;
  }

  function render(view, productId) {
    const parts = [];
    const offer = R.el("div", "pv-offer");
    const card = R.obj(view.card);
    R.offerLines(offer, card);
    const rating = R.ratingLine(card.rating);
    if (rating) offer.appendChild(rating);
    offer.appendChild(R.el("div", "muted", productId));
    parts.push(offer);
    const history = R.obj(view.price_history);
    if (R.arr(history.series).length) parts.push(R.priceChart(history));
    const attributes = R.arr(view.attributes).map(R.obj).filter(function (a) { return R.str(a.value); });
    if (attributes.length) {
      const box = section("Details", "pv-details");
      const table = R.el("table", "attrs");
      for (const a of attributes) {
        const tr = R.el("tr");
        const th = R.el("th", "", R.str(a.label) || R.str(a.name));
        th.setAttribute("scope", "row");
        tr.appendChild(th);
        tr.appendChild(R.el("td", "", R.str(a.value)));
        table.appendChild(tr);
      }
      box.appendChild(table);
      parts.push(box);
    }
    const reviews = R.obj(view.reviews);
    if (Object.keys(reviews).length) parts.push(R.reviewSummary(reviews));
    const qa = R.arr(view.qa).map(R.obj).filter(function (pair) { return R.str(pair.question); });
    if (qa.length) {
      const box = section("Questions from customers", "pv-qa");
      const list = R.el("dl", "qa");
      for (const pair of qa) {
        list.appendChild(R.el("dt", "", "Q: " + R.str(pair.question)));
        list.appendChild(R.el("dd", "", "A: " + R.str(pair.answer)));
      }
      box.appendChild(list);
      parts.push(box);
    }
    return parts;
  }

  return { create: create };
})();
