"""The project's web app: the chat page, static files, health, personal data export,
and the public side of the badges (verification pages, JWKS, issuer, status list).

Privacy rules: nothing personal is logged (no sender id, no token, no IP, no
exception message, which could quote either); the export is never cached.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import traceback
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from bot.badges.baking import bake_png, bake_svg, render_png, render_svg
from bot.badges.credential import LEVEL_LABELS, badge_name
from bot.badges.vc_jwt import decode_unverified
from bot.config import Settings
from bot.challenge import linkedin_url
from bot.referentiel import default_referentiel
from bot.scoring import default_rules

if TYPE_CHECKING:  # the real store; any object with these two methods will do
    from bot.badges.issuer import BadgeIssuer  # noqa: F401
    from bot.badges.vc_jwt import Verification  # noqa: F401
    from bot.storage import Store, StoredBadge  # noqa: F401

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
TEMPLATES_DIR = HERE / "templates"
WEBCHAT_BUNDLE = Path("rasa-webchat") / "index.js"

TAGLINE = "Découvre les compétences que tu as déjà, à partir de ce que tu as vécu."
EXPORT_FILENAME = "atouts-mes-donnees.json"
# Tokens are secrets.token_urlsafe(32) (43 characters); anything else is refused
# before the store is asked.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
RASA_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)

STATIC_CACHE = "public, max-age=86400"
VERSIONED_STATIC_CACHE = "public, max-age=31536000, immutable"

SETTINGS_KEY = web.AppKey("settings", Settings)
STORE_KEY = web.AppKey("store", object)
VENDOR_KEY = web.AppKey("vendor_dir", Path)
CSP_KEY = web.AppKey("csp", str)
HTTP_KEY = web.AppKey("http", aiohttp.ClientSession)
ISSUER_KEY = web.AppKey("issuer", object)
SESSIONS_KEY = web.AppKey("web_sessions", object)

WIDGET_CACHE = "public, max-age=3600"
WIDGET_CSP_KEY = web.AppKey("widget_csp", str)
BADGE_CACHE = "public, max-age=60"  # a revocation shows within a minute
KEYS_CACHE = "public, max-age=300"
BADGE_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
VC_JWT = "application/vc+jwt"


class ExportStore(Protocol):
    def resolve_export_token(self, token: str) -> str | None: ...

    def export_person(self, sender_id: str) -> dict[str, Any]: ...


class BadgeStore(Protocol):
    def badge(self, badge_id: str) -> "StoredBadge | None": ...


# --- rendering ---------------------------------------------------------------


def _escape(value: Any) -> Any:
    """Jinja's autoescape (markupsafe), keeping the apostrophe — French is full of them and
    every attribute of our templates is double-quoted, where `"` is escaped."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(str(escape(value)).replace("&#39;", "'"))
    return value


# Every page is a Jinja2 template extending templates/base.html, autoescaped: values are
# escaped by Jinja, never by hand.
JINJA = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, finalize=_escape,
                    trim_blocks=True, lstrip_blocks=False, undefined=StrictUndefined)


def render(template: str, /, **values: Any) -> str:
    return JINJA.get_template(template).render(**values)


def _file_version(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "0"


def html_response(status: int, body: str, cache_control: str) -> web.Response:
    return web.Response(
        status=status, text=body, content_type="text/html", charset="utf-8",
        headers={"Cache-Control": cache_control},
    )


HOME_LINK = ("/", "Retourner à la discussion")


def message_page(status: int, title: str, paragraphs: list[str],
                 link: tuple[str, str] | None = None) -> web.Response:
    """A short French page: plain-text paragraphs, and optionally one link (href, label)."""
    body = render("message.html", title=title, paragraphs=paragraphs, link=link)
    return html_response(status, body, "no-store")


def not_found_page() -> web.Response:
    return message_page(404, "Page introuvable", ["Cette page n'existe pas."], HOME_LINK)


def error_page() -> web.Response:
    return message_page(
        500,
        "Oups, un problème",
        [
            "Quelque chose s'est mal passé de notre côté. Ce n'est pas de ta faute.",
            "Réessaie dans un moment.",
        ],
        HOME_LINK,
    )


def expired_link_page() -> web.Response:
    return message_page(
        404,
        "Lien plus valable",
        [
            "Ce lien n'est plus valable. Demande un nouveau lien au bot en écrivant "
            "« mes données ». Il est valable 1 heure et une seule fois.",
        ],
        HOME_LINK,
    )


# --- settings-derived values --------------------------------------------------


def _rasa_endpoint(public_rasa_url: str) -> tuple[str, str, str]:
    """(socketUrl, socketPath, origin) for the widget from the public Rasa URL.

    A URL with a path (Rasa behind a reverse proxy under /rasa) keeps its path in
    socketPath: socket.io clients read a URL path as a namespace, not a prefix.
    """
    parts = urlsplit(public_rasa_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            "ATOUTS_PUBLIC_RASA_URL must be an absolute http(s) URL, e.g. http://localhost:5005"
        )
    origin = f"{parts.scheme}://{parts.netloc}"
    prefix = parts.path.rstrip("/")
    return origin, f"{prefix}/socket.io/", origin


def content_security_policy(public_rasa_url: str) -> str:
    _, _, origin = _rasa_endpoint(public_rasa_url)
    ws_origin = ("wss" if origin.startswith("https:") else "ws") + origin[origin.index(":"):]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # the widget injects its stylesheet at run time (style-loader)
            "style-src 'self' 'unsafe-inline'",
            # images sent by the bot can live anywhere on https
            f"img-src 'self' data: blob: https: {origin}",
            "font-src 'self' data:",
            f"connect-src 'self' {origin} {ws_origin}",
            "media-src 'self' https:",
            "frame-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def widget_config(settings: Settings) -> dict[str, Any]:
    """The props given to rasa-webchat (also read by tests)."""
    socket_url, socket_path, _ = _rasa_endpoint(settings.public_rasa_url)
    return {
        "socketUrl": socket_url,
        "socketPath": socket_path,
        "initPayload": "/greet",
        "customData": {"language": "fr"},
        "title": "Atouts",
        "subtitle": "Tes expériences, tes compétences",
        "inputTextFieldHint": "Écris ton message…",
        "connectingText": "Connexion au bot…",
        "embedded": True,
        "showCloseButton": False,
        "showFullScreenButton": False,
        "hideWhenNotConnected": False,
        # no "rules" channel here: without this the widget stays hidden until
        # the server sends them
        "withRules": False,
        "displayUnreadCount": False,
        # the conversation id is kept in sessionStorage: a reload keeps the
        # conversation (with session_persistence in credentials.yml), closing the
        # tab forgets it (shared phones)
        "params": {"storage": "session"},
    }


# --- middleware and headers ---------------------------------------------------


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return not_found_page()
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - last resort, logged below
        _log_unexpected(request, exc)
        return error_page()


def _log_unexpected(request: web.Request, exc: BaseException) -> None:
    """Log where it failed, never what: no path (tokens), no exception message."""
    route = request.match_info.route.resource
    where = route.canonical if route is not None else "?"
    frames = "".join(
        f"  {f.filename}:{f.lineno} in {f.name}\n"
        for f in traceback.extract_tb(exc.__traceback__, limit=20)
    )
    log.error("Unexpected %s on %s %s\n%s", type(exc).__name__, request.method, where, frames)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    if request.path == "/widget":  # framed by the allowed partner sites only
        headers["Content-Security-Policy"] = request.app[WIDGET_CSP_KEY]
    else:
        headers["Content-Security-Policy"] = request.app[CSP_KEY]
        headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.path.startswith("/static/") and response.status < 400:
        versioned = "v" in request.query
        headers["Cache-Control"] = VERSIONED_STATIC_CACHE if versioned else STATIC_CACHE
    elif "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"


# --- handlers -------------------------------------------------------------------


def _chat_values(request: web.Request, config: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, template values) shared by the chat page and the widget's iframe."""
    bundle = request.app[VENDOR_KEY] / WEBCHAT_BUNDLE
    values: dict[str, Any] = {"css_version": _file_version(STATIC_DIR / "chat.css"), "config": config,
                              "missing": not bundle.is_file()}
    if values["missing"]:
        log.warning("chat widget missing (%s): run `make setup`", bundle)
        return 503, values
    values.update(bundle_version=_file_version(bundle), js_version=_file_version(STATIC_DIR / "chat.js"))
    return 200, values


async def index(request: web.Request) -> web.Response:
    status, values = _chat_values(request, widget_config(request.app[SETTINGS_KEY]))
    return html_response(status, render("index.html", tagline=TAGLINE, **values), "no-cache")


_COLOR_RE = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")


async def widget_page(request: web.Request) -> web.Response:
    """GET /widget: the chat inside the partner sites' bubble (an iframe of ours,
    framed only by the allowed origins: see _security_headers). The conversation stays in
    this iframe; `origin` (the partner page's, sent by widget.js) is the exact target of
    the frame's postMessage calls, and only when it is one of ATOUTS_WIDGET_ORIGINS."""
    settings = request.app[SETTINGS_KEY]
    partner = " ".join(request.query.get("partner", "").split())[:60]
    color = request.query.get("color", "")
    color = color if _COLOR_RE.fullmatch(color) else "#3a2e8c"
    origin = request.query.get("origin", "").strip().rstrip("/").lower()
    config = widget_config(settings)
    config["customData"] = {**config["customData"], "partner": partner} if partner else config["customData"]
    status, values = _chat_values(request, config)
    sessions = _sessions(request.app)
    kept = request.cookies.get(WIDGET_COOKIE, "")
    body = render(
        "widget.html", color=color, partner=partner,
        subtitle=f"avec {partner}" if partner else "Tes expériences, tes compétences",
        parent_origin=origin if origin in settings.widget_origins else "",
        # a conversation to resume where the browser refused storage to this iframe
        session=kept if sessions.verify(kept) else "",
        frame_js=_file_version(STATIC_DIR / "widget-frame.js"), **values,
    )
    return html_response(status, body, "no-store")


WIDGET_COOKIE = "atouts_widget_session"


def _sessions(app: web.Application) -> Any:
    """The web sessions' signer (the key Rasa's Socket.IO channel checks, bot.sender_ids)."""
    sessions = app.get(SESSIONS_KEY)
    if sessions is None:
        from bot.sender_ids import WebSessions, load_session_secret

        sessions = app[SESSIONS_KEY] = WebSessions(load_session_secret(app[SETTINGS_KEY].var_dir))
    return sessions


async def widget_session(request: web.Request) -> web.Response:
    """POST /widget/session from our iframe: the session Rasa confirmed to the chat, kept in
    a partitioned cookie (CHIPS: for this partner site only; HttpOnly: no script reads it;
    no Max-Age: gone when the browser closes). Browsers that refuse storage to third-party
    iframes still keep it, so a partner page load resumes the conversation — and nothing of
    it is ever in the partner page. Only a session we signed, only from our own origin."""
    settings = request.app[SETTINGS_KEY]
    own = {urlsplit(settings.public_url)._replace(path="", query="", fragment="").geturl().lower(),
           f"{request.scheme}://{request.host}".lower()}
    if (request.headers.get("Origin") or "").strip().lower() not in own:
        return web.json_response({"error": "origin"}, status=403)
    if request.content_type != "application/json" or (request.content_length or 0) > 1024:
        return web.json_response({"error": "body"}, status=400)
    try:
        token = (await request.json()).get("session")
    except (ValueError, AttributeError):
        token = None
    if not _sessions(request.app).verify(token):
        return web.json_response({"error": "session"}, status=400)
    response = web.Response(status=204, headers={"Cache-Control": "no-store"})
    response.headers.add("Set-Cookie", f"{WIDGET_COOKIE}={token}; Path=/widget; HttpOnly; Secure; "
                                       "SameSite=None; Partitioned")
    return response


async def widget_script(request: web.Request) -> web.Response:
    """GET /widget.js: the loader partners paste (cached an hour, revalidated by ETag)."""
    path = STATIC_DIR / "widget.js"
    etag = f'"{_file_version(path)}"'
    headers = {"Cache-Control": WIDGET_CACHE, "ETag": etag, "Cross-Origin-Resource-Policy": "cross-origin"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=path.read_bytes(), content_type="application/javascript", charset="utf-8",
                        headers=headers)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def _fetch_conversation(app: web.Application, sender_id: str) -> tuple[Any, str | None]:
    """The tracker events kept by Rasa for this person, or (None, why not)."""
    settings = app[SETTINGS_KEY]
    url = f"{settings.rasa_url}/conversations/{quote(sender_id, safe=':')}/tracker"
    params = {"include_events": "ALL"}
    if settings.rasa_token:
        params["token"] = settings.rasa_token
    unavailable = (
        "La conversation n'a pas pu être récupérée : le serveur de discussion ne répond "
        "pas pour le moment. Les autres données sont bien là. Pour avoir aussi la "
        "conversation, demande un nouveau lien plus tard en écrivant « mes données »."
    )
    try:
        async with app[HTTP_KEY].get(url, params=params) as resp:
            if resp.status != 200:
                log.warning("export: Rasa tracker answered HTTP %s", resp.status)
                return None, unavailable
            tracker = await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        log.warning("export: Rasa tracker unreachable (%s)", type(exc).__name__)
        return None, unavailable
    if not isinstance(tracker, dict):
        return None, unavailable
    return tracker.get("events") or [], None


# --- badges (public: no personal data on the pages) ---------------------------

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")
# verdict -> (css class, explanation)
VERDICTS = {
    "valide": ("valide", "Il a bien été délivré par Atouts et n'a pas été modifié."),
    "révoqué": ("revoque", "Atouts l'a retiré : il ne prouve plus cette compétence."),
    "expiré": ("expire", "Sa date de validité est dépassée."),
    "invalide": ("invalide", "Sa signature ou son contenu ne correspondent pas : il ne prouve rien."),
    "inconnu": ("inconnu", "Son état n'a pas pu être vérifié pour le moment. Réessaie plus tard."),
}
CHECK_STEPS = ("signature", "dates", "format", "status")
FAILED_STEP = {
    "malformed": "signature", "unknown_key": "signature", "bad_signature": "signature",
    "expired": "dates", "not_yet_valid": "dates", "invalid": "format", "wrong_issuer": "format",
    "revoked": "status", "status_unavailable": "status",
}
STEP_OUTCOMES = {True: "réussi", False: "échec", None: "non vérifié"}


def french_date(value: datetime | None) -> str:
    if value is None:
        return "sans date de fin"
    return f"{'1er' if value.day == 1 else value.day} {MONTHS[value.month - 1]} {value.year}"


def badge_verdict(result: "Verification", row: "StoredBadge") -> tuple[str, str]:
    """(verdict, reason): the status list and our own record must both say « not revoked »."""
    reason = "revoked" if result.ok and row.revoked_at is not None else result.reason
    verdict = {"ok": "valide", "revoked": "révoqué", "expired": "expiré",
               "not_yet_valid": "inconnu", "status_unavailable": "inconnu"}.get(reason, "invalide")
    return verdict, reason


def badge_checks(issuer: "BadgeIssuer", row: "StoredBadge", result: "Verification",
                 reason: str) -> list[dict[str, Any]]:
    """What was checked, in order; the steps after a failure are « non vérifié »."""
    failed = FAILED_STEP.get(reason)
    kid = result.kid or "?"
    labels = {
        "signature": f"Signature EdDSA (Ed25519) avec la clé « {kid} » de l'émetteur, "
                     f"publiée sur {issuer.urls.jwks}",
        "dates": f"Dates : délivré le {french_date(row.issued_at)}, valable jusqu'au "
                 f"{french_date(row.valid_until)}",
        "format": f"Format Open Badges 3.0 et émetteur {issuer.urls.issuer}",
        "status": f"Non révoqué : liste de statut {issuer.urls.status_list(1)}, "
                  f"position {row.status_index}",
    }
    checks: list[dict[str, Any]] = []
    passed: bool | None = True
    for step in CHECK_STEPS:
        if step == failed:
            passed = False
        checks.append({"check": step, "passed": passed, "label": labels[step]})
        if passed is False:
            passed = None
    return checks


def _badge_context(request: web.Request, badge_id: str) -> tuple["BadgeIssuer", "StoredBadge"]:
    """The issuer and the stored badge `badge_id`, or 404 (also for any malformed id)."""
    issuer = request.app.get(ISSUER_KEY)
    store = request.app.get(STORE_KEY)
    if issuer is None or not hasattr(store, "badge") or not BADGE_ID_RE.fullmatch(badge_id):
        raise web.HTTPNotFound()
    row = store.badge(badge_id)  # type: ignore[union-attr]
    if row is None:
        raise web.HTTPNotFound()
    return issuer, row  # type: ignore[return-value]


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _skill_label(skill_id: str) -> str:
    skill = default_referentiel().get(skill_id)
    return skill.label if skill is not None else skill_id


async def badge_page(request: web.Request) -> web.Response:
    """GET /badges/{id} (HTML, or JSON with Accept: application/json) and /badges/{id}.json."""
    badge_id = request.match_info["id"]
    as_json = badge_id.endswith(".json") or _wants_json(request)
    issuer, row = _badge_context(request, badge_id.removesuffix(".json"))
    result = issuer.verify(row.jwt)
    verdict, reason = badge_verdict(result, row)
    checks = badge_checks(issuer, row, result, reason)
    page_url = issuer.urls.badge(row.id)
    headers = {"Cache-Control": BADGE_CACHE, "Vary": "Accept"}
    if as_json:
        body = {
            "id": f"urn:uuid:{row.id}",
            "url": page_url,
            "verification": {"ok": verdict == "valide", "verdict": verdict, "reason": reason,
                             "detail": result.detail, "kid": result.kid, "checks": checks},
            "credential": decode_unverified(row.jwt),
            "jwt": row.jwt,
        }
        return web.json_response(body, headers=headers,
                                 dumps=lambda v: json.dumps(v, ensure_ascii=False, indent=2))
    css, explanation = VERDICTS[verdict]
    shown = [{"css": "ok" if c["passed"] else "ko" if c["passed"] is False else "skip",
              "outcome": STEP_OUTCOMES[c["passed"]].capitalize(), "label": c["label"]} for c in checks]
    body_html = render(
        "badge.html",
        skill=_skill_label(row.skill_id),
        level=LEVEL_LABELS.get(row.level, row.level),
        issued=french_date(row.issued_at),
        issued_iso=row.issued_at.date().isoformat(),
        until=french_date(row.valid_until),
        issuer=issuer.name,
        issuer_url=issuer.urls.base,
        verdict=verdict,
        verdict_class=css,
        verdict_text=explanation,
        checks=shown,
        json_url=f"/badges/{row.id}.json",
        linkedin_url=f"/badges/{row.id}/linkedin" if verdict == "valide" else "",
        png_url=f"/badges/{row.id}/image.png",
        svg_url=f"/badges/{row.id}/image.svg",
    )
    response = html_response(200, body_html, BADGE_CACHE)
    response.headers["Vary"] = "Accept"
    return response


def _linkedin(issuer: "BadgeIssuer", row: "StoredBadge") -> str:
    skill = default_referentiel().get(row.skill_id)
    name = badge_name(skill, row.level) if skill is not None else row.skill_id
    page = issuer.urls.badge(row.id)
    return linkedin_url(name, row.issued_at, page, row.id)


async def badge_linkedin(request: web.Request) -> web.Response:
    """GET /badges/{id}/linkedin: LinkedIn's « Add to profile » form, prefilled (a short
    link for the chat); a revoked badge is not offered to LinkedIn."""
    issuer, row = _badge_context(request, request.match_info["id"])
    if row.revoked_at is not None:
        raise web.HTTPFound(issuer.urls.badge(row.id))
    raise web.HTTPFound(_linkedin(issuer, row), headers={"Cache-Control": "no-store"})


async def skill_page(request: web.Request) -> web.Response:
    """GET /referentiel/{skill}: what a skill means and how its levels are earned
    (the achievement and alignment URL of the badges)."""
    skill = default_referentiel().get(request.match_info["skill"])
    if skill is None:
        raise web.HTTPNotFound()
    rules = default_rules()
    confirme, expert = rules.level("confirme"), rules.level("expert")
    levels = [
        ("confirme", confirme.label,
         f"Auto-évaluation, puis au moins {confirme.min_referents} référent qui a vu la personne agir : "
         f"score final d'au moins {confirme.min_score}/100 et score des référents d'au moins "
         f"{confirme.min_referent_score}/100."),
        ("expert", expert.label,
         f"Auto-évaluation, puis au moins {expert.min_referents} référents : score final d'au moins "
         f"{expert.min_score}/100 et score des référents d'au moins {expert.min_referent_score}/100."),
    ]
    body = render(
        "skill.html",
        title=skill.label,
        emoji=skill.emoji,
        definition=skill.definition,
        why=skill.why_it_matters,
        france_travail=skill.france_travail_label,
        behaviours=list(skill.behaviours),
        levels=[{"id": level_id, "label": label, "text": text} for level_id, label, text in levels],
    )
    return html_response(200, body, "public, max-age=3600")


async def badge_image(request: web.Request) -> web.Response:
    """GET /badges/{id}/image.png|svg: the badge image, baked with its VC-JWT (OB 3.0 §5.3)."""
    _, row = _badge_context(request, request.match_info["id"])
    label, level = _skill_label(row.skill_id), LEVEL_LABELS.get(row.level, row.level)
    if request.match_info["ext"] == "png":
        body = await asyncio.to_thread(lambda: bake_png(render_png(label, level, row.level), row.jwt))
        content_type = "image/png"
    else:
        body = bake_svg(render_svg(label, level, row.level), row.jwt)
        content_type = "image/svg+xml"
    return web.Response(body=body, content_type=content_type,
                        headers={"Cache-Control": BADGE_CACHE})


def _issuer(request: web.Request) -> "BadgeIssuer":
    return request.app[ISSUER_KEY]  # type: ignore[return-value]


async def jwks(request: web.Request) -> web.Response:
    return web.json_response(_issuer(request).jwks(), headers={"Cache-Control": KEYS_CACHE})


async def issuer_profile(request: web.Request) -> web.Response:
    return web.json_response(_issuer(request).issuer_profile(), headers={"Cache-Control": KEYS_CACHE})


async def status_list(request: web.Request) -> web.Response:
    """The BitstringStatusListCredential, rebuilt (and re-signed) on each request: secured as
    a VC-JWT (``application/vc+jwt``, VC-JOSE-COSE) unless JSON is asked for (unsigned)."""
    issuer = _issuer(request)
    headers = {"Cache-Control": "no-store", "Vary": "Accept"}
    if _wants_json(request) and VC_JWT not in request.headers.get("Accept", ""):
        return web.json_response(issuer.status_list_credential(), headers=headers)
    return web.Response(text=issuer.status_list_jwt(), content_type=VC_JWT, headers=headers)


async def _not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def _http_client(app: web.Application):
    session = aiohttp.ClientSession(timeout=RASA_TIMEOUT)
    app[HTTP_KEY] = session
    yield
    await session.close()


# --- app ----------------------------------------------------------------------


def create_app(
    settings: Settings,
    store: "Store | ExportStore | None" = None,
    *,
    vendor_dir: Path | None = None,
    issuer: "BadgeIssuer | None" = None,
) -> web.Application:
    """The web app. `vendor_dir` (tests) replaces bot/web/static/vendor; without
    `issuer`, the badge routes are not served (404)."""
    app = web.Application(middlewares=[errors_middleware])
    app[SETTINGS_KEY] = settings
    if store is not None:
        app[STORE_KEY] = store
    else:
        log.warning("no store: personal data export links will all be refused")
    vendor = Path(vendor_dir) if vendor_dir is not None else VENDOR_DIR
    app[VENDOR_KEY] = vendor
    app[CSP_KEY] = content_security_policy(settings.public_rasa_url)
    ancestors = " ".join(("'self'",) + tuple(settings.widget_origins))
    app[WIDGET_CSP_KEY] = app[CSP_KEY].replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")
    app.cleanup_ctx.append(_http_client)
    app.on_response_prepare.append(_security_headers)

    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/widget", widget_page)
    app.router.add_get("/widget.js", widget_script)
    app.router.add_post("/widget/session", widget_session)
    from bot.web.export import setup_export_routes  # it imports this module

    setup_export_routes(app)
    if store is not None:
        from bot.web.partners import setup_partner_routes  # they import this module
        from bot.web.referent import setup_referent_routes

        from bot.web.scheduler import scheduler_ctx  # it imports this module

        setup_referent_routes(app)
        setup_partner_routes(app)
        if hasattr(store, "claim_due"):
            app.cleanup_ctx.append(scheduler_ctx)  # follow-ups due: sent once across replicas
    if issuer is not None:
        app[ISSUER_KEY] = issuer
        app.router.add_get("/badges/{id}", badge_page)
        app.router.add_get("/badges/{id}/image.{ext:png|svg}", badge_image)
        app.router.add_get("/badges/{id}/linkedin", badge_linkedin)
        app.router.add_get("/referentiel/{skill}", skill_page)
        app.router.add_get("/.well-known/jwks.json", jwks)
        app.router.add_get("/issuer", issuer_profile)
        app.router.add_get("/status/1", status_list)
    if vendor != VENDOR_DIR:  # otherwise served by /static below
        if vendor.is_dir():
            app.router.add_static("/static/vendor", vendor)
        else:
            app.router.add_get("/static/vendor/{tail:.*}", _not_found)
    app.router.add_static("/static", STATIC_DIR)
    return app
