"""The action server, reachable only by Rasa (README, "Threat model").

rasa-sdk 3.6's ``rasa run actions`` binds 0.0.0.0 and checks nobody. This entry point
builds the same rasa-sdk app and:

- binds ``ATOUTS_ACTIONS_HOST`` (default 127.0.0.1, loopback only);
- refuses (401) every request without ``Authorization: Bearer $ATOUTS_ACTIONS_SECRET``
  before any action runs (a request middleware; constant-time comparison); only
  ``GET /health`` answers without it (it says "ok" and nothing else);
- answers errors without ever echoing the request body (rasa-sdk's own 500 handler
  returns the whole tracker it was sent).

    ATOUTS_ACTIONS_SECRET=… python -m bot.action_server --actions actions --port 5055

Rasa sends the secret from ``endpoints.yml`` (``headers:``, ``${ATOUTS_ACTIONS_SECRET}``
expanded by Rasa); ``make run`` generates it into var/keys/ when it is not set.
"""
from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import List, Optional

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

log = logging.getLogger("bot.action_server")

OPEN_PATHS = frozenset({"/health"})
MIN_SECRET_LENGTH = 32


def bearer(header: Optional[str]) -> bytes:
    """The token of an ``Authorization: Bearer <token>`` header, else b""."""
    scheme, _, value = (header or "").partition(" ")
    return value.strip().encode("utf-8", "replace") if scheme.lower() == "bearer" else b""


def create_app(secret: str, actions: str = "actions") -> Sanic:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"ATOUTS_ACTIONS_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    from rasa_sdk.endpoint import create_app as sdk_app

    app = sdk_app(actions, cors_origins="")  # no CORS: browsers never call the action server
    expected = secret.encode("utf-8")

    @app.middleware("request")
    async def require_secret(request: Request):  # type: ignore[no-untyped-def]
        if request.path in OPEN_PATHS and request.method == "GET":
            return None
        if not hmac.compare_digest(bearer(request.headers.get("authorization")), expected):
            log.warning("action server: refused a request without the shared secret")
            return response.json({"error": "unauthorized"}, status=401)
        return None

    async def errors(request: Request, exception: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exception, SanicException):
            status = int(getattr(exception, "status_code", 500) or 500)
            return response.json({"error": "bad request" if status < 500 else "server error"}, status=status)
        log.error("action server: %s while running an action", type(exception).__name__, exc_info=exception)
        return response.json({"error": "server error"}, status=500)

    app.error_handler.add(Exception, errors)  # replaces rasa-sdk's, which echoes the body
    return app


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Atouts action server (rasa-sdk), loopback and shared secret.")
    parser.add_argument("--actions", default="actions", help="package of the actions (default: actions)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ATOUTS_ACTIONS_PORT", "5055")))
    parser.add_argument("--host", default=os.environ.get("ATOUTS_ACTIONS_HOST", "").strip() or "127.0.0.1",
                        help="interface (default: $ATOUTS_ACTIONS_HOST, else 127.0.0.1)")
    args = parser.parse_args(argv)
    secret = os.environ.get("ATOUTS_ACTIONS_SECRET", "").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        print("ATOUTS_ACTIONS_SECRET must be set (at least 32 characters): the action server "
              "refuses to run without it. `make run` generates one into var/keys/.", file=sys.stderr)
        return 2

    from rasa_sdk import utils
    from rasa_sdk.plugin import plugin_manager

    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(os.environ.get("LOG_LEVEL", "INFO"))
    utils.update_sanic_log_level()
    app = create_app(secret, args.actions)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    log.info("Action server on http://%s:%d (shared secret required)", args.host, args.port)
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
