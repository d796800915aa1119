// Live updates for the pages. Everything works without this script; it only keeps the
// lists fresh. No framework, no inline script: server values come from data attributes.
"use strict";
(function () {
  if (document.body.dataset.live !== "true") return;
})();
