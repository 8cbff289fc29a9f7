/* Inside the widget's iframe (/widget), loaded before the chat:
   1. Storage. The conversation stays in this iframe: rasa-webchat keeps its server-issued
      session in our sessionStorage; nothing of it ever goes to the partner page. Browsers
      that block third-party storage (private browsing, strict settings) refuse
      sessionStorage/localStorage to our iframe (Chromium does by default) and the chat
      would not start: an in-memory storage then stands in, and the session is kept by our
      server in a partitioned HttpOnly cookie (below), so a page load resumes it.
   2. The close button and Escape ask the partner page to close the panel, with
      postMessage to that page's exact origin (data-parent-origin, rendered by the server
      only for an origin of ATOUTS_WIDGET_ORIGINS); nothing else is ever posted. */
(function () {
  "use strict";
  function usable(name) {
    try {
      var s = window[name];
      s.setItem("__atouts", "1");
      s.removeItem("__atouts");
      return true;
    } catch (e) {
      return false;
    }
  }
  function memoryStorage() {
    var data = {};
    return {
      getItem: function (k) { return Object.prototype.hasOwnProperty.call(data, k) ? data[k] : null; },
      setItem: function (k, v) { data[k] = String(v); },
      removeItem: function (k) { delete data[k]; },
      clear: function () { data = {}; },
      key: function (i) { return Object.keys(data)[i] || null; },
      get length() { return Object.keys(data).length; }
    };
  }
  ["sessionStorage", "localStorage"].forEach(function (name) {
    if (!usable(name)) Object.defineProperty(window, name, { value: memoryStorage(), configurable: true });
  });
  // The session the server handed back (signed by it, kept for this partner site in our
  // partitioned HttpOnly cookie, see POST /widget/session): where the browser refused us
  // storage, the chat goes on with it after a page load, without its history.
  var SESSION_KEY = "chat_session";  // rasa-webchat's
  var WEBCHAT_VERSION = "1.0.1";  // scripts/fetch_webchat.sh
  var issued = document.body ? document.body.getAttribute("data-session") || "" : "";
  if (/^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/.test(issued) && !window.sessionStorage.getItem(SESSION_KEY)) {
    // what rasa-webchat itself stores after its first start ("version": it drops a
    // session written by another version; "initialized": or it shows nothing)
    window.sessionStorage.setItem(SESSION_KEY, JSON.stringify({
      session_id: issued,
      version: WEBCHAT_VERSION,
      lastUpdate: Date.now(),
      conversation: [],
      params: { isChatOpen: true, isChatVisible: true, initialized: true, disabledInput: false,
                connected: false, unreadCount: 0, docViewer: false, messageDelayed: false,
                oldUrl: "", pageChangeCallbacks: {} }
    }));
    var notice = document.getElementById("atouts-resume");
    if (notice) notice.hidden = false;
  }
  // The session Rasa confirmed goes to our server (same origin), which keeps it in the
  // partitioned cookie above; never to the partner page.
  var kept = issued;
  setInterval(function () {
    try {
      var id = (JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "{}") || {}).session_id || "";
      if (id && id !== kept && /^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/.test(id)) {
        kept = id;
        fetch("/widget/session", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify({ session: id }) })
          .catch(function () { kept = ""; });
      }
    } catch (e) { /* nothing to keep */ }
  }, 1000);

  var parentOrigin = document.body ? document.body.getAttribute("data-parent-origin") : "";
  function closePanel() {
    if (window.parent !== window && parentOrigin) {
      window.parent.postMessage({ type: "atouts:close" }, parentOrigin);
    }
  }
  var button = document.getElementById("atouts-close");
  if (button) button.addEventListener("click", closePanel);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closePanel(); });
})();
