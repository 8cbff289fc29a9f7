"""The partner widget in a real browser: Debian's Chromium driven by playwright-core
(tests/browser/widget.mjs) loads a partner page on another origin, opens the bubble
(keyboard), taps a button, types, survives a network drop and a page reload, and a
page from an origin outside the allow-list cannot show the chat."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Dict, Iterator

import pytest
from aiohttp import web

from bot.config import ROOT

pytestmark = pytest.mark.e2e

BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("ATOUTS_CHROMIUM", "/usr/bin/chromium")

PARTNER_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Mission locale de Test</title>
<style>body {{ font-family: serif; }} button {{ all: unset; }}</style></head>
<body><h1>Mission locale de Test</h1><p>Nos ateliers emploi.</p>
<script src="{web}/widget.js" data-partner="Mission locale de Test" data-color="#0b7a75" defer></script>
</body></html>"""


def _need_browser() -> None:
    missing = [what for what, ok in [
        (CHROMIUM, Path(CHROMIUM).exists()),
        ("node", shutil.which("node") is not None),
        ("tests/browser/node_modules (make setup)", (BROWSER_DIR / "node_modules" / "playwright-core").is_dir()),
    ] if not ok]
    if missing:
        message = f"browser test needs: {', '.join(missing)} (.ci/run installs Chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def partner_sites(client, partner_ports: Dict[str, int]) -> Iterator[Dict[str, str]]:
    """Two static partner sites on 127.0.0.1 (other origins than the web app)."""
    page = PARTNER_PAGE.format(web=client.stack.env()["ATOUTS_PUBLIC_URL"])

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    import asyncio

    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    for port in partner_ports.values():
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield {name: f"http://127.0.0.1:{port}/" for name, port in partner_ports.items()}
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_widget_script_and_frame_headers(client, partner_ports) -> None:
    status, body, headers = client.get(f"{client.web}/widget.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert headers["Cache-Control"] == "public, max-age=3600" and headers["ETag"]
    assert b"Discuter avec Atouts" in body
    status, body, headers = client.get(f"{client.web}/widget?partner=Mission%20locale&color=%23abc")
    assert status == 200 and "X-Frame-Options" not in headers
    assert f"frame-ancestors 'self' http://127.0.0.1:{partner_ports['allowed']}" in headers["Content-Security-Policy"]
    assert "Mission locale" in body.decode() and "--atouts-accent: #abc" in body.decode()
    status, body, headers = client.get(f"{client.web}/widget?partner=%3Cscript%3E&color=red;}}")
    assert status == 200 and "<script>" not in body.decode().split("</head>")[1].split("<script")[0]
    assert "--atouts-accent: #3a2e8c" in body.decode()
    status, _, headers = client.get(f"{client.web}/")
    assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_widget_in_a_real_browser(client, partner_sites: Dict[str, str]) -> None:
    _need_browser()
    config = {"chromium": CHROMIUM, "partnerUrl": partner_sites["allowed"], "blockedUrl": partner_sites["blocked"],
              "screenshot": str(client.stack.config.var_dir / "widget-failure.png")}
    done = subprocess.run(["node", str(BROWSER_DIR / "widget.mjs"), json.dumps(config)], cwd=BROWSER_DIR,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    assert "error" not in seen, seen
    assert seen["steps"] == ["opened", "welcome", "button", "typed", "reconnected", "persisted", "blocked"]
    assert seen["bubbleFocusedByTab"] and (seen["expandedBefore"], seen["expandedAfter"]) == ("false", "true")
    assert "Mission locale de Test" in seen["partnerInHeader"]
    assert seen["expandedAfterClose"] == "false"
    assert seen["blockedShowsChat"] == 0 and not (seen["blockedFrameUrl"] or "").startswith("http://localhost")
    # one conversation across the page load, on the real server, kept by our iframe and
    # our partitioned cookie only: nothing in the partner page's storage
    session = seen["sessionBefore"]
    assert session and seen["sessionAfter"] == session
    assert seen["historyShown"] or seen["resumeNotice"]
    assert seen["partnerStorage"] == 0 and seen["partnerStorageAfter"] == 0
    sender = "web:" + session.split(".", 1)[0]  # the server-issued token names web:<id>
    status, body, _ = client.get(f"{client.rasa}/conversations/{sender}/tracker")
    said = [e.get("text") for e in json.loads(body)["events"] if e.get("event") == "user"]
    assert "Inès" in said and "tu sais faire quoi ?" in said, said
