"""`/mes-donnees/<token>`: the personal data export, behind a click.

The link (single use, 1 h) is sent in the chat, where Telegram, Messenger or a mail
client may fetch it to draw a preview. So a `GET` never spends it: it shows a page with
a « Télécharger mes données » button, a form that `POST`s back with a CSRF field bound to
the link (HMAC, as on the referent page) doubled by a `SameSite=Strict` cookie; only that
POST spends the token and returns the JSON attachment. A foreign `Origin` is refused.
"""
from __future__ import annotations

import hmac
import json
import time
from typing import Any, Optional

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.web.app import (
    EXPORT_FILENAME,
    SETTINGS_KEY,
    STORE_KEY,
    TOKEN_RE,
    _fetch_conversation,
    expired_link_page,
    html_response,
    message_page,
    render,
)
from bot.web.referent import CSRF_MAX_AGE, FORM_TYPES, CsrfSecret, _origin, csrf_age, make_csrf

EXPORT_CSRF_KEY = web.AppKey("export_csrf", CsrfSecret)
CSRF_FIELD = "csrf"
CSRF_COOKIE = "atouts_export_csrf"
MAX_BODY = 4 * 1024


def setup_export_routes(app: web.Application) -> None:
    app[EXPORT_CSRF_KEY] = CsrfSecret(app[SETTINGS_KEY].var_dir)
    # no HEAD: nothing to gain, and one more way to probe links
    app.router.add_get("/mes-donnees/{token:.*}", export_page, allow_head=False)
    app.router.add_post("/mes-donnees/{token:.*}", export_download)


def _open_token(request: web.Request) -> Optional[str]:
    """The link's token if it can still be used (not spent by this check), else None."""
    token = request.match_info.get("token", "")
    store = request.app.get(STORE_KEY)
    if store is None or not TOKEN_RE.fullmatch(token):
        return None
    check = getattr(store, "export_token_open", None)
    if check is not None and not check(token):
        return None
    return token


def forbidden_page(request: web.Request) -> web.Response:
    return message_page(403, "La page a expiré, recharge-la", [
        "Pour ta sécurité, le bouton de téléchargement ne marche que depuis sa page, peu de temps.",
    ], (request.path, "Recharger la page"))


async def export_page(request: web.Request) -> web.Response:
    """GET: the page with the download button (spends nothing: a link preview is harmless)."""
    token = _open_token(request)
    if token is None:
        return expired_link_page()
    csrf = make_csrf(request.app[EXPORT_CSRF_KEY].get(), token, int(time.time()))
    response = html_response(200, render("export.html", title="Tes données", csrf=csrf), "no-store")
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=CSRF_MAX_AGE, path="/mes-donnees/", httponly=True,
        samesite="Strict", secure=request.app[SETTINGS_KEY].public_url.startswith("https://"),
    )
    return response


def _origin_allowed(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin.strip() == "null":  # see bot/web/referent.py:_check_origin
        return True
    allowed = {_origin(request.app[SETTINGS_KEY].public_url), f"{request.scheme}://{request.host}".lower()}
    return origin.strip().lower() in allowed


async def _csrf_field(request: web.Request) -> Optional[str]:
    if request.content_type not in FORM_TYPES:
        return None
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    try:
        data = await request.clone(client_max_size=MAX_BODY).post()
    except (web.HTTPRequestEntityTooLarge, ValueError, RuntimeError, HttpProcessingError):
        return None
    value = data.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def export_download(request: web.Request) -> web.Response:
    """POST from the page: the CSRF field, its cookie and the Origin are checked, then the
    token is spent and the export is sent as an attachment."""
    token = _open_token(request)
    if token is None:
        return expired_link_page()
    if not _origin_allowed(request):
        return forbidden_page(request)
    value = await _csrf_field(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if (not value or not cookie or not hmac.compare_digest(value.encode("utf-8"), cookie.encode("utf-8"))
            or csrf_age(request.app[EXPORT_CSRF_KEY].get(), token, value, int(time.time())) is None):
        return forbidden_page(request)
    store = request.app[STORE_KEY]
    # The store is synchronous: two small SQLite queries, run inline (a thread
    # would not see an in-memory test database).
    sender_id = store.resolve_export_token(token)  # type: ignore[attr-defined]
    if not sender_id:
        return expired_link_page()
    payload: dict[str, Any] = {"app_data": store.export_person(sender_id)}  # type: ignore[attr-defined]
    events, problem = await _fetch_conversation(request.app, sender_id)
    payload["conversation"] = events
    if problem:
        payload["note"] = problem
    response = web.Response(
        status=200,
        body=json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"',
            "Cache-Control": "no-store",
        },
    )
    response.del_cookie(CSRF_COOKIE, path="/mes-donnees/")
    return response
