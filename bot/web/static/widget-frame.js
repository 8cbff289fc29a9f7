/* Inside the widget's iframe (/widget), loaded before the chat:
   1. Storage. Browsers that block third-party storage (private browsing, strict
      settings) refuse sessionStorage/localStorage to our iframe, and the chat would
      not start. Then an in-memory storage stands in, and the conversation id, only
      the id, is kept by the partner page (first-party storage there, through the
      loader) and handed back in the URL fragment (#session=…, never sent to a
      server): the conversation goes on after a page load, without its history.
   2. The close button and Escape ask the partner page to close the panel. */
(function () {
  "use strict";
  var SESSION_KEY = "chat_session";  // rasa-webchat's
  var ID = /^[0-9a-f]{32}$/;
  var WEBCHAT_VERSION = "1.0.1";  // scripts/fetch_webchat.sh

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
  var blocked = false;
  ["sessionStorage", "localStorage"].forEach(function (name) {
    if (!usable(name)) {
      Object.defineProperty(window, name, { value: memoryStorage(), configurable: true });
      blocked = true;
    }
  });
  var seeded = new URLSearchParams(location.hash.slice(1)).get("session") || "";
  if (blocked && ID.test(seeded)) {
    // what rasa-webchat itself stores after its first start ("version": it drops a
    // session written by another version; "initialized": or it shows nothing)
    window.sessionStorage.setItem(SESSION_KEY, JSON.stringify({
      session_id: seeded,
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

  function toParent(message) {
    // only the allowed partner sites can frame this page (CSP frame-ancestors)
    if (window.parent !== window) window.parent.postMessage(message, "*");
  }
  var reported = "";
  setInterval(function () {
    try {
      var id = (JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "{}") || {}).session_id || "";
      if (ID.test(id) && id !== reported) {
        reported = id;
        toParent({ type: "atouts:session", session: id });
      }
    } catch (e) { /* nothing to report */ }
  }, 1000);

  function closePanel() { toParent({ type: "atouts:close" }); }
  var button = document.getElementById("atouts-close");
  if (button) button.addEventListener("click", closePanel);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closePanel(); });
})();
