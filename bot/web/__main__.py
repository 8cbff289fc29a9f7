"""`python -m bot.web`: serve the chat page on ATOUTS_WEB_HOST:ATOUTS_WEB_PORT."""
from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.config import Settings
from bot.web.app import create_app

log = logging.getLogger("bot.web")

_TOKEN_PATH = re.compile(r"^/mes-donnees/.*")
_REFERENT_PATH = re.compile(r"^/referent/.*")  # a referent's link is a secret too
_PARTNER_PATH = re.compile(r"^/partenaires/.*")  # a partner page link as well
_BADGE_PATH = re.compile(r"^/badges/[^/]+")  # a badge id leads to one person's badge


class AccessLogger(AbstractAccessLogger):
    """Method, path, status, duration: no client address, export, referent and partner tokens hidden."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = _TOKEN_PATH.sub("/mes-donnees/…", request.path)
        path = _REFERENT_PATH.sub("/referent/…", _BADGE_PATH.sub("/badges/…", path))
        path = _PARTNER_PATH.sub("/partenaires/…", path)
        self.logger.info("%s %s %s %.0fms", request.method, path, response.status, time * 1000)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    issuer = None
    try:  # keys and status list in ROOT/var (keys/, badges/status-1.json)
        from bot.badges import BadgeIssuer

        issuer = BadgeIssuer.from_settings(settings)
    except Exception as exc:  # noqa: BLE001 - the chat page works without it
        log.error("badge issuer unavailable (%s): badge pages disabled", type(exc).__name__)
    store = None
    try:
        from bot.storage import Store

        # erasing a person revokes their badges in the status list
        candidate = Store(settings.db_url, revoke_status=issuer.revoke if issuer else None)
        # before the scheduler's first poll (the action server may not have migrated yet)
        candidate.migrate()
        store = candidate
    except Exception as exc:  # noqa: BLE001 - the chat page works without it
        log.error("store unavailable (%s): data export disabled", type(exc).__name__)
    app = create_app(settings, store, issuer=issuer)
    if store is not None:
        async def _close_store(_app: web.Application) -> None:
            store.close()

        app.on_cleanup.append(_close_store)
    log.info(
        "Atouts web on http://%s:%s (Rasa for the browser: %s)",
        settings.web_host, settings.web_port, settings.public_rasa_url,
    )
    web.run_app(
        app,
        host=settings.web_host,
        port=settings.web_port,
        access_log_class=AccessLogger,
        print=None,
    )


if __name__ == "__main__":
    main()
