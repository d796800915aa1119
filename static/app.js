// The pages' script. Every page works without it; it asks before deleting (in a dialog)
// and keeps lists, badges and counts current. No framework and no inline script: the
// server passes what the script needs in data attributes, and user text is only ever set
// as textContent.
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

  if (body.dataset.live !== "true" || !("WebSocket" in window)) return;

  const LABELS = {
    status: { pending: "대기중", in_progress: "진행중", completed: "완료" },
    category: { electrical: "전기", plumbing: "배관", hvac: "냉난방", structural: "구조", other: "기타" },
    priority: { high: "높음", medium: "보통", low: "낮음" },
  };
  let lastId = Number(body.dataset.lastEvent) || 0;
  let delay = 1000;

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
      apply(event);
    });
    socket.addEventListener("close", function () {
      // Reconnect with exponential backoff; `since` fills in whatever was missed.
      setTimeout(connect, delay + Math.random() * 500);
      delay = Math.min(delay * 2, 30000);
    });
  }

  function badge(container, kind, value) {
    let element = container.querySelector(".badge." + kind);
    if (!value) { if (element) element.remove(); return; }
    if (!element) {
      element = document.createElement("span");
      container.insertBefore(element, container.querySelector(".refining"));
    }
    element.className = "badge " + kind + (kind === "category" ? "" : " " + kind + "-" + value);
    element.dataset[kind] = value;
    element.textContent = LABELS[kind][value] || value;
  }

  function paintBadges(element, request) {
    const meta = element.querySelector(".meta") || element;
    badge(meta, "status", request.status);
    badge(meta, "category", request.category);
    badge(meta, "priority", request.priority);
    const refining = meta.querySelector(".refining");
    if (refining && request.classification_status !== "pending") refining.remove();
  }

  function count(name, change) {
    document.querySelectorAll('[data-count="' + name + '"]').forEach(function (element) {
      element.textContent = String(Math.max(0, (Number(element.textContent) || 0) + change));
    });
  }

  // The dashboard's SVG bar charts: change one count, then rescale every bar of that chart.
  function chart(kind, key, change) {
    const svg = document.getElementById("chart-" + kind);
    if (!svg || !key) return;
    const label = svg.querySelector('[data-count-for="' + key + '"]');
    if (!label) return;
    label.textContent = String(Math.max(0, (Number(label.textContent) || 0) + change));
    const labels = Array.prototype.slice.call(svg.querySelectorAll("[data-count-for]"));
    const max = Math.max(1, Math.max.apply(null, labels.map(function (l) { return Number(l.textContent) || 0; })));
    labels.forEach(function (l) {
      const bar = svg.querySelector('rect[data-key="' + l.dataset.countFor + '"]');
      const width = Math.round((Number(l.textContent) || 0) / max * 180);
      if (bar) bar.setAttribute("width", String(width));
      l.setAttribute("x", String(76 + width));
    });
  }

  function labelsOf(element) {
    const find = function (kind) {
      const badge = element.querySelector(".badge." + kind);
      return badge ? badge.dataset[kind] : null;
    };
    return { status: find("status"), category: find("category"), priority: find("priority") };
  }

  function newRow(request) {
    const list = document.getElementById("request-list");
    const table = document.querySelector("#request-table tbody");
    const meta = document.createElement(table ? "td" : "div");
    meta.className = "meta";
    const link = document.createElement("a");
    link.className = "description";
    link.href = (table ? "/admin/requests/" : "/requests/") + request.id;
    link.textContent = request.description.split("\n")[0].slice(0, 80);
    let row;
    if (table) {
      row = document.createElement("tr");
      const cells = ["#" + request.id, null, request.location || "", null, "방금"];
      cells.forEach(function (text, index) {
        if (index === 3) { row.appendChild(meta); return; }
        const cell = document.createElement("td");
        if (index === 1) cell.appendChild(link); else cell.textContent = text;
        row.appendChild(cell);
      });
      table.insertBefore(row, table.firstChild);
    } else if (list) {
      row = document.createElement("li");
      row.appendChild(link);
      row.appendChild(meta);
      list.insertBefore(row, list.firstChild);
    } else {
      return;
    }
    row.dataset.requestId = String(request.id);
    row.classList.add("fresh");
    paintBadges(row, request);
  }

  function apply(event) {
    const request = event.data || {};
    const rows = document.querySelectorAll('[data-request-id="' + request.id + '"]');
    if (event.type === "new_request") {
      if (rows.length === 0) {
        newRow(request);
        count("total", 1);
        count("status-" + request.status, 1);
        chart("category", request.category, 1);
        chart("priority", request.priority, 1);
      }
      return;
    }
    if (event.type === "request_updated" || event.type === "request_classified") {
      rows.forEach(function (row) {
        if (row.tagName !== "ARTICLE") {
          const before = labelsOf(row);
          if (before.status && before.status !== request.status) {
            count("status-" + before.status, -1);
            count("status-" + request.status, 1);
          }
          if (before.category !== request.category) {
            chart("category", before.category, -1);
            chart("category", request.category, 1);
          }
          if (before.priority !== request.priority) {
            chart("priority", before.priority, -1);
            chart("priority", request.priority, 1);
          }
        }
        paintBadges(row, request);
      });
      return;
    }
    if (event.type === "request_deleted") {
      rows.forEach(function (row) {
        if (row.tagName === "ARTICLE") return;
        const before = labelsOf(row);
        if (before.status) count("status-" + before.status, -1);
        chart("category", before.category, -1);
        chart("priority", before.priority, -1);
        count("total", -1);
        row.remove();
      });
    }
  }

  connect();
})();
