// What the partner page can see of the chat (tests/security/test_web_hardening.py): its own
// sessionStorage/localStorage and every message posted to it, after the chat has started and
// the close button was used; and the session the iframe keeps for itself.
//   node tests/browser/widget_privacy.mjs '{"chromium": "/usr/bin/chromium", "partnerUrl": ...}'
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.argv[2]);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = 30000;
const out = {};
const browser = await chromium.launch({ executablePath: cfg.chromium, args: ARGS });
try {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 }, locale: "fr-FR" });
  const page = await context.newPage();
  // a partner script listening to everything posted to its window
  await page.addInitScript(() => {
    window.__seen = [];
    window.addEventListener("message", (e) => window.__seen.push(JSON.stringify(e.data)));
  });
  await page.goto(cfg.partnerUrl);
  await page.getByRole("button", { name: /Discuter avec Atouts/ }).click();
  const frame = page.frameLocator('iframe[title="Discussion avec Atouts"]');
  await frame.getByText("Moi c'est Atouts", { exact: false }).first().waitFor({ timeout: TIMEOUT });
  await page.waitForTimeout(2500);  // the old iframe reported its session every second
  const child = page.frames().find((f) => f !== page.mainFrame());
  out.frameUrl = child ? child.url() : "";
  out.frameSession = child ? await child.evaluate(() => {
    try { return (JSON.parse(sessionStorage.getItem("chat_session") || "{}") || {}).session_id || ""; }
    catch (e) { return ""; }
  }) : "";
  await frame.getByRole("button", { name: "Fermer la discussion" }).click();
  await page.waitForTimeout(500);
  out.partnerSessionStorage = await page.evaluate(() => Object.fromEntries(Object.entries(sessionStorage)));
  out.partnerLocalStorage = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
  out.partnerMessages = await page.evaluate(() => window.__seen);
  await context.close();
} catch (err) {
  out.error = String(err && err.message ? err.message : err).slice(0, 2000);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
