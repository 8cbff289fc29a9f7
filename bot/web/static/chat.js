/* Mounts the rasa-webchat widget in #webchat with the props rendered by the
   server in #atouts-config (JSON, so no inline script is needed: CSP
   script-src 'self'). */
(function () {
  "use strict";
  var mount = document.getElementById("webchat");
  var configNode = document.getElementById("atouts-config");
  if (!mount || !configNode) return;

  function notice(text) {
    var box = document.createElement("div");
    box.className = "notice";
    box.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    mount.appendChild(box);
  }

  if (!window.WebChat || typeof window.WebChat.default !== "function") {
    notice("La discussion n'a pas pu se charger. Vérifie ta connexion, puis recharge la page.");
    return;
  }
  var config = JSON.parse(configNode.textContent);
  window.WebChat.default(config, mount);

  // rasa-webchat draws the answer buttons (quick replies) as plain <div>s: no
  // keyboard, nothing for a screen reader. Make each one a real button.
  function fixReplies(root) {
    var replies = root.querySelectorAll ? root.querySelectorAll("div.rw-reply:not([role])") : [];
    Array.prototype.forEach.call(replies, function (reply) {
      reply.setAttribute("role", "button");
      reply.setAttribute("tabindex", "0");
      reply.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          reply.click();
        }
      });
    });
  }
  new MutationObserver(function () { fixReplies(mount); }).observe(mount, { childList: true, subtree: true });
})();
