// Drives Debian's Chromium (playwright-core) through the partner widget; prints one JSON
// object of observations for tests/e2e/test_widget.py, which makes the assertions.
//   node tests/browser/widget.mjs '{"chromium": "/usr/bin/chromium", "partnerUrl": ..., "blockedUrl": ...}'
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.argv[2]);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = 30000;
const out = { steps: [] };
const step = (name) => out.steps.push(name);

const browser = await chromium.launch({ executablePath: cfg.chromium, args: ARGS });
try {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 }, locale: "fr-FR" });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  await page.goto(cfg.partnerUrl);
  const bubble = page.getByRole("button", { name: /Discuter avec Atouts/ });
  await bubble.waitFor({ timeout: TIMEOUT });
  out.expandedBefore = await bubble.getAttribute("aria-expanded");
  // keyboard only: Tab to the bubble, Enter opens it
  await page.keyboard.press("Tab");
  out.bubbleFocusedByTab = await bubble.evaluate((el) => document.activeElement === el);
  await page.keyboard.press("Enter");
  out.expandedAfter = await bubble.getAttribute("aria-expanded");
  step("opened");
  const frame = page.frameLocator('iframe[title="Discussion avec Atouts"]');
  await frame.getByText("Moi c'est Atouts", { exact: false }).first().waitFor({ timeout: TIMEOUT });
  out.partnerInHeader = await frame.locator("header").innerText();
  step("welcome");
  // answer buttons are real buttons: keyboard focus, Enter
  const yes = frame.getByRole("button", { name: "Oui, ça me va" }).first();
  await yes.focus({ timeout: TIMEOUT });
  await yes.press("Enter");
  await frame.getByText("Comment tu veux que je t'appelle", { exact: false }).first().waitFor({ timeout: TIMEOUT });
  step("button");
  const input = frame.locator(".rw-new-message").first();
  await input.fill("Inès");
  await input.press("Enter");
  await frame.getByText("Trop bien, Inès", { exact: false }).first().waitFor({ timeout: TIMEOUT });
  step("typed");

  // the network drops, comes back: the widget reconnects and the conversation goes on
  await context.setOffline(true);
  await page.waitForTimeout(4000);
  await context.setOffline(false);
  await page.waitForTimeout(4000);
  await input.fill("c'est quoi la rigueur ?");
  await input.press("Enter");
  await frame.getByText("Rigueur", { exact: false }).nth(0).waitFor({ timeout: TIMEOUT });
  out.afterReconnect = await frame.locator(".rw-message").last().innerText();
  step("reconnected");

  // another page load of the partner site: the same conversation goes on — with its
  // history where the browser lets our iframe keep storage, else from our partitioned
  // cookie — never kept by the partner page
  const frameSession = async () => {
    const f = page.frames().find((x) => x !== page.mainFrame());
    return f ? f.evaluate(() => (JSON.parse(sessionStorage.getItem("chat_session") || "{}") || {}).session_id || "") : "";
  };
  await page.waitForTimeout(1500);  // the iframe hands its session to our server every second
  out.sessionBefore = await frameSession();
  out.partnerStorage = await page.evaluate(() => sessionStorage.length + localStorage.length);
  await page.reload();
  await page.getByRole("button", { name: /Discuter avec Atouts/ }).click();
  const history = frame.getByText("Trop bien, Inès", { exact: false }).first();
  const resumed = frame.locator("#atouts-resume");
  await history.or(resumed).waitFor({ timeout: TIMEOUT });
  out.historyShown = await history.isVisible();
  out.resumeNotice = await resumed.isVisible();
  const input2 = frame.locator(".rw-new-message").first();
  await input2.fill("tu sais faire quoi ?");
  await input2.press("Enter");
  await frame.getByText("Je t'aide à repérer", { exact: false }).first().waitFor({ timeout: TIMEOUT });
  out.sessionAfter = await frameSession();
  out.partnerStorageAfter = await page.evaluate(() => sessionStorage.length + localStorage.length);
  step("persisted");
  // the close button inside the chat gives the focus back to the bubble
  await frame.getByRole("button", { name: "Fermer la discussion" }).click();
  await page.waitForTimeout(300);
  out.expandedAfterClose = await page.getByRole("button", { name: /Discuter avec Atouts/ }).getAttribute("aria-expanded");
  out.consoleErrors = consoleErrors;

  // a site that is not in the allow-list: the browser refuses to show the chat
  const other = await context.newPage();
  await other.goto(cfg.blockedUrl);
  await other.getByRole("button", { name: /Discuter avec Atouts/ }).click();
  await other.waitForTimeout(3000);
  const child = other.frames().find((f) => f !== other.mainFrame());
  out.blockedFrameUrl = child ? child.url() : null;
  out.blockedShowsChat = child ? await child.locator("#webchat").count().catch(() => 0) : 0;
  step("blocked");
  await context.close();
} catch (err) {
  out.error = String(err && err.message ? err.message : err).slice(0, 2000);
  if (cfg.screenshot) {  // for the person reading a failure
    for (const page of browser.contexts().flatMap((c) => c.pages())) {
      await page.screenshot({ path: cfg.screenshot }).catch(() => {});
      const f = page.frames().find((x) => x !== page.mainFrame());
      if (f) out.frameHtml = (await f.content().catch(() => "")).slice(-3000);
      break;
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
