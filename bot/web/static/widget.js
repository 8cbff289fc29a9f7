/* Atouts chat bubble for partner sites. One snippet:
     <script src="https://ATOUTS/widget.js" data-partner="Mission locale de Lyon"
             data-color="#0b7a75" defer></script>
   Adds a button (bottom right, or data-position="left") that opens the chat in an
   iframe served by Atouts: the partner page's CSS and scripts cannot touch it, and
   Atouts only lets the allowed partner origins frame it (CSP frame-ancestors).
   No cookie, nothing sent anywhere before the person opens the chat. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__atoutsWidget) return;
  window.__atoutsWidget = true;
  var base = new URL(script.src, document.baseURI).origin;
  var partner = (script.getAttribute("data-partner") || "").slice(0, 60);
  var color = script.getAttribute("data-color") || "";
  if (!/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(color)) color = "#3a2e8c";
  var left = script.getAttribute("data-position") === "left";

  var button = document.createElement("button");
  button.type = "button";
  button.id = "atouts-widget-button";
  button.setAttribute("aria-label", "Discuter avec Atouts : découvre tes compétences");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "atouts-widget-panel");
  button.innerHTML = '<svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  var b = button.style;
  b.position = "fixed"; b.bottom = "20px"; b[left ? "left" : "right"] = "20px"; b.zIndex = "2147483000";
  b.width = "60px"; b.height = "60px"; b.borderRadius = "50%"; b.border = "2px solid #fff";
  b.background = color; b.color = "#fff"; b.cursor = "pointer"; b.padding = "0";
  b.boxShadow = "0 4px 14px rgba(0,0,0,.3)"; b.display = "flex"; b.alignItems = "center";
  b.justifyContent = "center";

  var panel = null;
  // The conversation stays inside the iframe (its own origin): nothing of it is kept here.
  function small() { return window.matchMedia("(max-width: 480px)").matches; }
  function place() {
    if (!panel) return;
    var p = panel.style;
    if (small()) {  // a phone: the chat takes the screen
      p.top = "0"; p.bottom = "0"; p.left = "0"; p.right = "0"; p.width = "100%"; p.height = "100%";
      p.borderRadius = "0";
    } else {
      p.top = "auto"; p.bottom = "92px"; p[left ? "left" : "right"] = "20px";
      p.width = "380px"; p.height = "min(600px, calc(100vh - 120px))"; p.borderRadius = "14px";
    }
  }
  function open() {
    if (!panel) {
      panel = document.createElement("div");
      panel.id = "atouts-widget-panel";
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-label", "Discussion avec Atouts");
      var p = panel.style;
      p.position = "fixed"; p.zIndex = "2147483001"; p.overflow = "hidden";
      p.boxShadow = "0 8px 30px rgba(0,0,0,.35)"; p.background = "#fff";
      var frame = document.createElement("iframe");
      frame.title = "Discussion avec Atouts";
      // our origin: the exact target of the iframe's messages (checked by the server)
      frame.src = base + "/widget?" + new URLSearchParams({ partner: partner, color: color,
        origin: window.location.origin }).toString();
      frame.setAttribute("allow", "clipboard-write");
      frame.style.border = "0"; frame.style.width = "100%"; frame.style.height = "100%";
      panel.appendChild(frame);
      document.body.appendChild(panel);
      window.addEventListener("resize", place);
    }
    place();
    panel.style.display = "block";
    button.setAttribute("aria-expanded", "true");
    if (small()) button.style.display = "none";
    var frameEl = panel.querySelector("iframe");
    if (frameEl) frameEl.focus();
  }
  function close() {
    if (!panel) return;
    panel.style.display = "none";
    button.style.display = "flex";
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", function () {
    if (panel && panel.style.display !== "none") close(); else open();
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && panel && panel.style.display !== "none") close();
  });
  // the close button inside the chat (our iframe's messages only)
  window.addEventListener("message", function (e) {
    if (e.origin !== base || !e.data || !panel || e.source !== panel.querySelector("iframe").contentWindow) return;
    if (e.data.type === "atouts:close") close();
  });
  function mount() { document.body.appendChild(button); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
