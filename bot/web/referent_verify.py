"""Referents who are who they say: after the questionnaire, the referent confirms an
e-mail address they control with a one-time code sent to it; only then do their
answers count (and the young person is told).

- Only a keyed hash (HMAC, `bot.privacy.keyed_hash`) of the address is kept, to count
  each referent once: the same address cannot answer twice for the same person and
  skill (refused at the address step, and again when the code is typed).
- The code: 6 digits, hashed the same way, 30 minutes, 5 tries, 3 sends per link.
- A referent page opened in a browser where our chat page was used (cookie
  `atouts_chat`, set by `/` and `/widget`, no identifier in it) is refused: the link
  is for someone else than the young person.

Pages reuse the referent page's defences (rate limit, Origin, CSRF cookie + field).
"""
from __future__ import annotations

import asyncio
import logging
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Optional

from aiohttp import web

from bot import mailer
from bot.privacy.keyed_hash import Keyed, code_hash, new_code, referent_key
from bot.web.app import SETTINGS_KEY, STORE_KEY, html_response, message_page, render
from bot.web.referent import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_MAX_AGE,
    _check_csrf,
    _check_origin,
    _csrf_for,
    _limit,
    _read_form,
    _sentence,
    _Stop,
    _stoppable,
    _token,
    _who,
    notify_later,
    state_page,
    thanks_page,
    unknown_link_page,
)

if TYPE_CHECKING:
    from bot.storage.challenge import InvitationView

log = logging.getLogger(__name__)

CHAT_COOKIE = "atouts_chat"
CHAT_COOKIE_MAX_AGE = 365 * 24 * 3600
CHAT_PAGES = ("/", "/widget")
CODE_TTL = 30 * 60
EMAIL_FIELD = "email"
CODE_FIELD = "code"
KEYED_KEY = web.AppKey("referent_keyed", Keyed)


def setup_verification(app: web.Application) -> None:
    app[KEYED_KEY] = Keyed(app[SETTINGS_KEY].var_dir)
    if not app[SETTINGS_KEY].email_enabled:
        log.warning("no SMTP server (ATOUTS_SMTP_HOST): referents cannot confirm their address, "
                    "their answers will not count")
    app.on_response_prepare.append(_mark_chat_browser)
    app.router.add_post("/referent/{token}/email", email_post)
    app.router.add_post("/referent/{token}/code", code_post)


async def _mark_chat_browser(request: web.Request, response: web.StreamResponse) -> None:
    """Our chat pages mark the browser (a constant: nothing to track anyone with)."""
    if request.path in CHAT_PAGES and request.method == "GET" and response.status == 200:
        # a header, not set_cookie(): this hook runs after aiohttp wrote the cookies out
        cookie = SimpleCookie()
        cookie[CHAT_COOKIE] = "1"
        morsel = cookie[CHAT_COOKIE]
        morsel["max-age"], morsel["path"], morsel["httponly"], morsel["samesite"] = (
            str(CHAT_COOKIE_MAX_AGE), "/", True, "Lax")
        if request.app[SETTINGS_KEY].public_url.startswith("https://"):
            morsel["secure"] = True
        response.headers.add("Set-Cookie", morsel.OutputString())


def check_not_chat_browser(request: web.Request) -> None:
    if request.cookies.get(CHAT_COOKIE):
        raise _Stop(message_page(403, "Ce lien est pour ton référent", [
            "Ce navigateur a servi à discuter avec Atouts : ce lien doit être ouvert par la personne "
            "invitée, sur son téléphone ou son ordinateur.",
            "Si tu es cette personne, ouvre-le depuis ton propre appareil. Si tu as reçu ce lien "
            "pour toi-même, transfère-le à ton référent (SMS, WhatsApp, e-mail).",
        ]))


# --- pages -------------------------------------------------------------------------------


def _step(request: web.Request, view: "InvitationView", token: str, status: int, step: str,
          title: str, error: Optional[str], value: str) -> web.Response:
    """One page of the address check (templates/referent_verify.html, autoescaped)."""
    csrf = _csrf_for(request, token)
    page = render(
        "referent_verify.html", title=title, step=step, error=error, value=value, who=_who(view),
        token=token, csrf=csrf, csrf_field=CSRF_FIELD, email_field=EMAIL_FIELD, code_field=CODE_FIELD,
        email_max=mailer.EMAIL_MAX,
    )
    response = html_response(status, page, "no-store")
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=CSRF_MAX_AGE, path="/referent/", httponly=True,
        samesite="Strict", secure=request.app[SETTINGS_KEY].public_url.startswith("https://"),
    )
    return response


def email_step(request: web.Request, view: "InvitationView", token: str, status: int = 200,
               error: Optional[str] = None, value: str = "") -> web.Response:
    return _step(request, view, token, status, "email", "Dernière étape : confirme ton adresse", error, value)


def code_step(request: web.Request, view: "InvitationView", token: str, status: int = 200,
              error: Optional[str] = None, sent_to: str = "") -> web.Response:
    return _step(request, view, token, status, "code", "Entre ton code", error, sent_to)


def step_page(request: web.Request, view: "InvitationView", token: str) -> web.Response:
    """Answers given, address not confirmed yet: the step where the referent is."""
    if view.invitation.code_sent:
        return code_step(request, view, token)
    return email_step(request, view, token)


def duplicate_page(view: "InvitationView") -> web.Response:
    return message_page(409, "Tu as déjà donné ton avis", [
        f"Avec cette adresse, tu as déjà répondu pour {_who(view)} sur cette compétence : "
        "chaque référent compte une seule fois. Merci !",
    ])


def too_many_codes_page(view: "InvitationView") -> web.Response:
    return message_page(429, "Trop d'essais", [
        "Pour ta sécurité, ce lien ne permet plus d'envoyer ou de vérifier de code.",
        f"Demande un nouveau lien à {_who(view)}.",
    ])


def no_email_page() -> web.Response:
    return message_page(503, "Vérification indisponible", [
        "Nous ne pouvons pas envoyer d'e-mail pour le moment. Tes réponses sont gardées : "
        "réessaie un peu plus tard depuis le même lien.",
    ])


# --- handlers ------------------------------------------------------------------------------


def _pending(request: web.Request, token: str) -> "InvitationView":
    store = request.app.get(STORE_KEY)
    view = store.invitation_by_token(token) if hasattr(store, "invitation_by_token") else None  # type: ignore[union-attr]
    if view is None:
        raise _Stop(unknown_link_page())
    if view.invitation.state == "open":  # the questionnaire first
        raise web.HTTPSeeOther(f"/referent/{token}")
    if not view.invitation.awaiting_verification:
        raise _Stop(state_page(view.invitation.state, view))
    return view


async def _guarded(request: web.Request) -> tuple[str, "InvitationView", dict]:
    _limit(request)
    token = _token(request)
    check_not_chat_browser(request)
    _check_origin(request)
    view = _pending(request, token)
    data = await _read_form(request)
    _check_csrf(request, token, data.get(CSRF_FIELD))
    return token, view, data


def _outcome_page(outcome: str, view: "InvitationView") -> web.Response:
    if outcome == "duplicate":
        return duplicate_page(view)
    if outcome == "too_many":
        return too_many_codes_page(view)
    if outcome == "unknown":
        return unknown_link_page()
    return state_page("used" if outcome == "verified" else outcome, view)


@_stoppable
async def email_post(request: web.Request) -> web.Response:
    token, view, data = await _guarded(request)
    raw = data.get(EMAIL_FIELD)
    typed = raw.strip()[: mailer.EMAIL_MAX] if isinstance(raw, str) else ""
    address = mailer.clean_email(typed)
    if address is None or address != typed:
        return email_step(request, view, token, 400, "Cette adresse ne semble pas valable : vérifie-la.", typed)
    settings = request.app[SETTINGS_KEY]
    if not settings.email_enabled:
        return no_email_page()
    keyed = request.app[KEYED_KEY]
    code = new_code()
    outcome = request.app[STORE_KEY].start_verification(  # type: ignore[attr-defined]
        token, referent_key(keyed, address), code_hash(keyed, view.invitation.id, code), CODE_TTL)
    if outcome != "ok":
        return _outcome_page(outcome, view)
    message = mailer.verification_email(settings.smtp_from, address, code, _who(view), CODE_TTL // 60)
    if not await asyncio.to_thread(mailer.send, settings, message):
        return no_email_page()
    return code_step(request, view, token, sent_to=address)


@_stoppable
async def code_post(request: web.Request) -> web.Response:
    token, view, data = await _guarded(request)
    raw = data.get(CODE_FIELD)
    code = "".join(raw.split()) if isinstance(raw, str) else ""
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return code_step(request, view, token, 400, "Le code fait 6 chiffres : vérifie-le.")
    keyed = request.app[KEYED_KEY]
    outcome, submission = request.app[STORE_KEY].confirm_verification(  # type: ignore[attr-defined]
        token, code_hash(keyed, view.invitation.id, code))
    if outcome == "ok" and submission is not None:
        notify_later(request.app, submission)
        return thanks_page(view)
    if outcome == "wrong":
        return code_step(request, view, token, 400, "Ce n'est pas le bon code : réessaie.")
    if outcome in ("expired", "no_code"):
        return email_step(request, view, token, 400, "Ce code a expiré : demande-en un nouveau.")
    return _outcome_page(outcome, view)


__all__ = ["CHAT_COOKIE", "check_not_chat_browser", "setup_verification", "step_page", "_sentence"]
