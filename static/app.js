// The pages' script. Every page works without it: deleting then asks on a page of its own,
// and lists show what they showed when loaded. With it, deleting asks in a dialog, and the
// parts of a page that follow changes stay current.
//
// No framework, no inline script, and no text of its own: what it shows comes from the
// server. A live page marks its changing parts with `data-live-part="<name>"`; when an event
// on /ws concerns the page, the script fetches the page again and puts each part of the
// fresh copy in place of the old one. Lists (`rows`) keep their unchanged rows and mark new
// or changed ones, so filters, order, badges, counts and buttons are exactly the server's.
"use strict";
(function () {
  const body = document.body;

  // Deleting asks first. A link `<a href=".../delete" data-confirm="question">` leads to a
  // confirmation page posting to its own address; here the dialog asks the same question
  // and posts the same form there.
  document.addEventListener("click", function (event) {
    const link = event.target instanceof Element ? event.target.closest("a[data-confirm]") : null;
    const dialog = document.getElementById("confirm-dialog");
    if (!link || !dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    dialog.querySelector("form").setAttribute("action", link.getAttribute("href"));
    document.getElementById("confirm-message").textContent = link.dataset.confirm;
    dialog.showModal();
  });

  const parts = document.querySelectorAll("[data-live-part]");
  if (body.dataset.live !== "true" || parts.length === 0 || !("WebSocket" in window)) return;

  // A request's own page follows that request only; lists follow every event the socket
  // brings (residents get only their own requests' events).
  const shown = document.querySelector("[data-live-request]");
  const request = shown ? Number(shown.dataset.liveRequest) : null;

  let lastId = Number(body.dataset.lastEvent) || 0;
  let delay = 1000;
  // One fetch at a time; events arriving meanwhile ask for one more after it.
  let fetching = false;
  let again = false;
  let timer = null;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/ws?since=" + lastId);
    socket.addEventListener("open", function () { delay = 1000; });
    socket.addEventListener("message", function (message) {
      if (message.data === "pong") return;
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      if (event.type === "resync") { location.reload(); return; }
      if (typeof event.id === "number") lastId = Math.max(lastId, event.id);
      const data = event.data || {};
      if (request === null || data.id === request) soon();
    });
    socket.addEventListener("close", function () {
      // Reconnect with exponential backoff; `since` fills in whatever was missed.
      setTimeout(connect, delay + Math.random() * 500);
      delay = Math.min(delay * 2, 30000);
    });
  }

  // A burst of events is one fetch.
  function soon() {
    if (fetching) { again = true; return; }
    if (timer === null) timer = setTimeout(refresh, 100);
  }

  function refresh() {
    timer = null;
    fetching = true;
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 404 && request !== null) { deleted(); return; }
        // Logged out meanwhile (sent to log in), or something failed: show what the server says.
        if (response.redirected || !response.ok) { location.reload(); return; }
        return response.text().then(function (html) {
          update(new DOMParser().parseFromString(html, "text/html"));
        });
      })
      .catch(function () { again = true; })
      .then(function () {
        fetching = false;
        if (again) { again = false; soon(); }
      });
  }

  function update(fresh) {
    document.querySelectorAll("[data-live-part]").forEach(function (part) {
      const name = part.dataset.livePart;
      const replacement = fresh.querySelector('[data-live-part="' + name + '"]');
      if (!replacement) return;
      if (name === "rows") rows(part, replacement);
      else if (part.outerHTML !== replacement.outerHTML) part.replaceWith(document.importNode(replacement, true));
    });
  }

  // The server's markup of each row as last put in place, to tell changed rows from unchanged.
  const markup = new WeakMap();

  function rows(list, fresh) {
    const before = new Map();
    Array.prototype.forEach.call(list.children, function (row) {
      if (row.dataset.requestId) before.set(row.dataset.requestId, row);
    });
    const next = Array.prototype.map.call(fresh.children, function (row) {
      const old = before.get(row.dataset.requestId);
      const html = row.outerHTML;
      if (old && (markup.get(old) || withoutMark(old)) === html) return old;
      const node = document.importNode(row, true);
      markup.set(node, html);
      node.classList.add("fresh");
      return node;
    });
    list.replaceChildren.apply(list, next);
  }

  // A row's markup as the server sent it (before the script marked it).
  function withoutMark(row) {
    const copy = row.cloneNode(true);
    copy.classList.remove("fresh");
    if (copy.getAttribute("class") === "") copy.removeAttribute("class");
    return copy.outerHTML;
  }

  // The request shown was deleted: say so, and offer nothing more to do with it.
  function deleted() {
    document.querySelectorAll("[data-when-deleted]").forEach(function (notice) { notice.hidden = false; });
    document.querySelectorAll('[data-live-part="actions"], main form').forEach(function (element) {
      element.remove();
    });
  }

  connect();
})();
