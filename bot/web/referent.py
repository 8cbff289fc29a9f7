"""The referent page: `/referent/<token>`, where a referent (coach, tutor…) invited by a
young person answers the observer questionnaire of one to four soft skills.

Plain HTML (no JavaScript), one small stylesheet. The link is a secret: it is never
logged, the page is never cached, and it is spent by the first accepted answers.
Defences: a CSRF field bound to the link (HMAC, 2 h) doubled by a SameSite cookie, an
`Origin` check, a per-address rate limit and a 64 KB body limit. After accepted answers
the young person is told through Rasa's `trigger_intent`, in the background.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable, Optional
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from bot.badges._files import locked, write_atomic
from bot.referentiel import Skill, default_referentiel
from bot.scoring import default_rules
from bot.storage.models import COMMENT_MAX
from bot.storage.tokens import hash_token
from bot.web.clients import request_client
from bot.web.app import (
    HTTP_KEY,
    SETTINGS_KEY,
    STATIC_DIR,
    STORE_KEY,
    _file_version,
    html_response,
    message_page,
    render,
)

if TYPE_CHECKING:
    from bot.storage.challenge import InvitationView, Submission  # noqa: F401

log = logging.getLogger(__name__)

# The link secret is token_urlsafe(32) (43 characters); anything else is refused
# before the store is asked.
REFERENT_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,256}")
MAX_BODY = 64 * 1024
CSRF_FIELD = "csrf"
CSRF_COOKIE = "atouts_csrf"
CSRF_MAX_AGE = 2 * 3600
CSRF_REUSE_AGE = 3600  # a second tab reuses a cookie younger than this
CSRF_ENV = "ATOUTS_CSRF_SECRET"
STATEMENT_FIELD = "statement"
NSP = "nsp"  # « Je ne sais pas »
NOTIFY_INTENT = "EXTERNAL_referent_answered"
NOTIFY_DELAYS: tuple[float, ...] = (0.5, 2.0)  # 3 attempts
SHUTDOWN_GRACE = 5.0

RELATION_LABELS = {
    "coach": "coach",
    "tuteur": "tuteur ou tutrice de stage",
    "responsable_benevole": "responsable bénévole",
    "enseignant": "enseignant·e",
    "employeur": "employeur",
    "collegue": "collègue",
    "autre": "proche",
}
UNNAMED = "la personne qui t'a invité·e"
UNNAMED_ME = "la personne qui m'a invité·e"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# --- rate limit ---------------------------------------------------------------------


class RateLimiter:
    """Sliding window per (method, client address), in memory and bounded: at most
    `max_addresses` windows are kept, the least recently seen are dropped first."""

    def __init__(self, get_limit: int = 30, post_limit: int = 10, window: float = 600.0,
                 max_addresses: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"GET": get_limit, "POST": post_limit}
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self._hits: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def hit(self, method: str, address: str) -> Optional[int]:
        """None if allowed (and counted), else the seconds to wait."""
        limit = self.limits.get(method, self.limits["POST"])
        now = self.clock()
        key = (method, address)
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        self._hits[key] = hits  # now the most recently seen
        while len(self._hits) > self.max_addresses:
            self._hits.popitem(last=False)
        if len(hits) >= limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        return None

    def __len__(self) -> int:
        return len(self._hits)


# --- CSRF ---------------------------------------------------------------------------


def load_csrf_secret(var_dir: Path) -> bytes:
    """$ATOUTS_CSRF_SECRET, else 32 random bytes kept in var/keys/csrf.secret (0600, in a
    0700 folder), created on first use."""
    from_env = os.environ.get(CSRF_ENV, "").strip()
    if from_env:
        return from_env.encode("utf-8")
    folder = var_dir / "keys"
    path = folder / "csrf.secret"
    with locked(folder / ".lock"):  # the badge key store's lock: same folder
        folder.chmod(0o700)
        if not path.exists():
            write_atomic(path, secrets.token_bytes(32), 0o600)
        secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError("csrf.secret is too short")
    return secret


class CsrfSecret:
    """The CSRF key, read (or created) on first use only."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self._value: Optional[bytes] = None

    def get(self) -> bytes:
        if self._value is None:
            self._value = load_csrf_secret(self.var_dir)
        return self._value


def make_csrf(secret: bytes, token: str, issued_at: int) -> str:
    """`<timestamp>.<hex HMAC-SHA256(token hash + timestamp)>`: only valid for this link."""
    mac = hmac.new(secret, f"{hash_token(token)}.{issued_at}".encode("ascii"), hashlib.sha256)
    return f"{issued_at}.{mac.hexdigest()}"


def csrf_age(secret: bytes, token: str, value: str, now: int) -> Optional[int]:
    """The age in seconds of a valid CSRF value for `token`, else None."""
    stamp, _, _ = value.partition(".")
    if not stamp.isdigit() or len(stamp) > 12:
        return None
    issued_at = int(stamp)
    if not hmac.compare_digest(value.encode("ascii", "replace"),
                               make_csrf(secret, token, issued_at).encode("ascii")):
        return None
    age = now - issued_at
    return age if -60 <= age <= CSRF_MAX_AGE else None


# --- app wiring -----------------------------------------------------------------------

LIMITER_KEY = web.AppKey("referent_limiter", RateLimiter)
TOKEN_LIMITER_KEY = web.AppKey("referent_token_limiter", RateLimiter)
CSRF_KEY = web.AppKey("referent_csrf", CsrfSecret)
NOTIFY_DELAYS_KEY = web.AppKey("referent_notify_delays", tuple)
TASKS_KEY = web.AppKey("referent_tasks", set)


def setup_referent_routes(app: web.Application) -> None:
    """GET/POST /referent/{token}. Tests may replace app[LIMITER_KEY] or
    app[NOTIFY_DELAYS_KEY] before the app starts."""
    settings = app[SETTINGS_KEY]
    app[LIMITER_KEY] = RateLimiter(get_limit=settings.referent_get_limit, post_limit=settings.referent_post_limit)
    # one link, whatever the address (GET and POST share the budget)
    app[TOKEN_LIMITER_KEY] = RateLimiter(get_limit=settings.referent_token_limit,
                                         post_limit=settings.referent_token_limit)
    app[CSRF_KEY] = CsrfSecret(app[SETTINGS_KEY].var_dir)
    app[NOTIFY_DELAYS_KEY] = NOTIFY_DELAYS
    app[TASKS_KEY] = set()
    # after the HTTP client's: its exit runs first, while the client is still open
    app.cleanup_ctx.append(_notifications)
    from bot.web.referent_verify import setup_verification  # it imports this module

    setup_verification(app)  # before the catch-all routes below
    # no HEAD: nothing to gain, and one more way to probe links
    app.router.add_get("/referent/{token:.*}", referent_get, allow_head=False)
    app.router.add_post("/referent/{token:.*}", referent_post)


async def _notifications(app: web.Application) -> AsyncIterator[None]:
    yield
    tasks = set(app[TASKS_KEY])
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


# --- pages -----------------------------------------------------------------------------


class _Stop(Exception):
    """Ends a request early with `response` (a French page)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__()
        self.response = response


def _stoppable(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except _Stop as stop:
            return stop.response

    return wrapper


def _who(view: "InvitationView") -> str:
    """The young person's first name, or a neutral phrase (text: the templates escape it)."""
    return view.person_first_name or UNNAMED


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def unknown_link_page() -> web.Response:
    return message_page(404, "Lien introuvable", [
        "Ce lien ne correspond à aucune invitation. Vérifie que tu l'as bien copié en entier.",
        f"Sinon, demande un nouveau lien à {UNNAMED}.",
    ])


def state_page(state: str, view: "InvitationView") -> web.Response:
    """The page for a link that cannot be used any more (used, expired, revoked)."""
    who = _who(view)
    if state == "used":
        return message_page(410, "Tu as déjà répondu, merci !", [
            f"Tes réponses ont bien été envoyées à {who}. Ce lien ne sert qu'une fois.",
        ])
    if state == "expired":
        return message_page(410, "Ce lien a expiré", [
            "Les liens d'invitation ne durent qu'un temps.",
            f"Si tu veux toujours donner ton avis, demande un nouveau lien à {who}.",
        ])
    if state == "revoked":
        return message_page(410, "Ce lien a été annulé", [
            f"{_sentence(who)} a annulé cette invitation : tu n'as rien à faire. Merci quand même !",
        ])
    return unknown_link_page()


def thanks_page(view: "InvitationView") -> web.Response:
    who = _who(view)
    return message_page(200, f"Merci {view.invitation.referent_name} !", [
        f"{_sentence(who)} va recevoir tes réponses.",
        "Ton regard compte : il aide à prendre confiance et à montrer ce qu'on sait faire.",
        "Tu peux fermer cette page.",
    ])


def forbidden_page(request: web.Request) -> web.Response:
    return message_page(403, "Le formulaire a expiré, recharge la page", [
        "Pour ta sécurité, un formulaire ne reste valable que 2 heures dans la même page.",
    ], (request.path, "Recharger le formulaire"))


def too_many_page(retry_after: int) -> web.Response:
    minutes = max(1, math.ceil(retry_after / 60))
    response = message_page(429, "Doucement !", [
        "Il y a eu beaucoup de demandes depuis ta connexion.",
        f"Réessaie dans {minutes} minute{'s' if minutes > 1 else ''}.",
    ])
    response.headers["Retry-After"] = str(retry_after)
    return response


def bad_request_page(status: int, why: str) -> web.Response:
    return message_page(status, "Envoi impossible", [
        why, "Recharge la page du formulaire et réessaie.",
    ])


# --- the form -----------------------------------------------------------------------------


def scale_options() -> list[tuple[str, str]]:
    """(form value, label) for the five answers: "0".."3" and "nsp"."""
    return [(NSP if v is None else str(v), label) for label, v in default_rules().scale.items()]


def _form_values() -> dict[str, Optional[int]]:
    return {NSP if v is None else str(v): v for v in default_rules().scale.values()}


def question_field(skill_id: str, item_id: str) -> str:
    return f"q__{skill_id}__{item_id}"


def comment_field(skill_id: str) -> str:
    return f"c__{skill_id}"


def invitation_skills(view: "InvitationView") -> list[Skill]:
    """The invitation's skills still in the référentiel, in the invitation's order."""
    referentiel = default_referentiel()
    found = (referentiel.get(skill_id) for skill_id in view.invitation.skill_ids)
    return [skill for skill in found if skill is not None]


@dataclass
class Form:
    """What the referent sent, checked. `checked` and `comments` keep what was given for a
    re-rendered form (bad input loses nothing); `errors` maps a field name to its message."""

    answers: dict[str, dict[str, Optional[int]]] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    checked: dict[str, str] = field(default_factory=dict)  # field -> given form value
    statement: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    unexpected: bool = False  # an answer to a question that is not on this form

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unexpected


MISSING = "Choisis une réponse."
INVALID = "Réponse non valable : choisis-en une."
NO_STATEMENT = "Coche cette case pour envoyer tes réponses."


def parse_form(skills: list[Skill], data: MultiDictProxy) -> Form:
    """Check the posted fields against the invitation's skills."""
    values = _form_values()
    form = Form()
    expected = {question_field(s.id, i.id): (s.id, i.id) for s in skills for i in s.items}
    for name in data.keys():
        if name.startswith("q__") and name not in expected:
            form.unexpected = True
    for name, (skill_id, item_id) in expected.items():
        given = [v for v in data.getall(name, []) if isinstance(v, str)]
        answers = form.answers.setdefault(skill_id, {})
        if not given:
            form.errors[name] = MISSING
        elif len(given) > 1 or given[0] not in values:
            form.errors[name] = INVALID
        else:
            answers[item_id] = values[given[0]]
            form.checked[name] = given[0]
    for skill in skills:
        name = comment_field(skill.id)
        raw = data.get(name)
        comment = raw.replace("\r\n", "\n").strip() if isinstance(raw, str) else ""
        form.comments[skill.id] = comment
        if len(comment) > COMMENT_MAX:
            form.errors[name] = (f"Ton message fait {len(comment)} caractères : "
                                 f"{COMMENT_MAX} au maximum.")
    form.statement = data.get(STATEMENT_FIELD) == "oui"
    if not form.statement:
        form.errors[STATEMENT_FIELD] = NO_STATEMENT
    return form


def question_refs(skills: list[Skill]) -> dict[str, str]:
    """Field name -> short element id ("q1", "q2"…): the page must stay light."""
    names = (question_field(s.id, i.id) for s in skills for i in s.items)
    return {name: f"q{n}" for n, name in enumerate(names, 1)}


def _sections(skills: list[Skill], refs: dict[str, str], who: str, form: Optional[Form]) -> list[dict]:
    errors = form.errors if form else {}
    sections = []
    for skill in skills:
        questions = []
        for number, item in enumerate(skill.items, 1):
            name = question_field(skill.id, item.id)
            questions.append({
                "name": name, "ref": refs[name], "number": number, "error_id": "e" + refs[name][1:],
                "text": _sentence(item.observer.replace("{prenom}", who)),
                "error": errors.get(name, ""), "given": form.checked.get(name) if form else None,
            })
        comment = comment_field(skill.id)
        sections.append({
            "id": skill.id, "emoji": skill.emoji, "label": skill.label, "definition": skill.definition,
            "questions": questions, "comment_name": comment, "comment_error": errors.get(comment, ""),
            "comment": form.comments.get(skill.id, "") if form else "",
        })
    return sections


def _summary(skills: list[Skill], refs: dict[str, str], form: Optional[Form]) -> list[tuple[str, str]]:
    """(href, text) lines of the error summary; an empty href is a line without a link."""
    if form is None or form.ok:
        return []
    lines: list[tuple[str, str]] = []
    for skill in skills:
        numbers = [n for n, item in enumerate(skill.items, 1)
                   if question_field(skill.id, item.id) in form.errors]
        if numbers:
            which = (f"à la question {numbers[0]}" if len(numbers) == 1 else
                     f"aux questions {', '.join(map(str, numbers[:-1]))} et {numbers[-1]}")
            first = question_field(skill.id, skill.items[numbers[0] - 1].id)
            lines.append((f"#{refs[first]}", f"{skill.label} : réponds {which}."))
        if comment_field(skill.id) in form.errors:
            lines.append((f"#{comment_field(skill.id)}", f"{skill.label} : ton message est trop long."))
    if STATEMENT_FIELD in form.errors:
        lines.append((f"#{STATEMENT_FIELD}", "Coche la case « Je connais vraiment… », tout en bas."))
    if form.unexpected:
        lines.append(("", "Une réponse ne correspond à aucune question de ce formulaire : "
                          "vérifie tes réponses et renvoie-les."))
    return lines


def render_form(view: "InvitationView", csrf: str, form: Optional[Form] = None) -> str:
    """The whole page; with `form`, what was sent and what is wrong with it."""
    skills = invitation_skills(view)
    refs = question_refs(skills)
    who, referent = _who(view), view.invitation.referent_name
    count = len(skills)
    return render(
        "referent.html",
        title=("Erreur : " if form and not form.ok else "") + f"L'avis de {referent}",
        css_version=_file_version(STATIC_DIR / "referent.css"),
        summary=_summary(skills, refs, form),
        referent=referent,
        who=who,
        who_cap=_sentence(who),
        who_me=view.person_first_name or UNNAMED_ME,
        relation=RELATION_LABELS.get(view.invitation.relation, "proche"),
        skills_count=f"{count} compétence{'s' if count > 1 else ''}",
        minutes=f"{2 * count} minutes",
        min_answered=default_rules().min_answered,
        csrf=csrf,
        options=scale_options(),
        comment_max=COMMENT_MAX,
        sections=_sections(skills, refs, who, form),
        statement_checked=bool(form and form.statement),
        statement_error=(form.errors.get(STATEMENT_FIELD, "") if form else ""),
    )


# --- request helpers ---------------------------------------------------------------------


def _limit(request: web.Request) -> None:
    """Per client address: the TCP peer, or behind a trusted proxy the address it saw."""
    wait = request.app[LIMITER_KEY].hit(request.method, request_client(request))
    if wait is not None:
        raise _Stop(too_many_page(wait))


def _limit_token(request: web.Request, token: str) -> None:
    """Per link, whatever the address: a link cannot be hammered from many addresses."""
    wait = request.app[TOKEN_LIMITER_KEY].hit("GET", hash_token(token))
    if wait is not None:
        raise _Stop(too_many_page(wait))


def _not_the_chat_browser(request: web.Request) -> None:
    from bot.web.referent_verify import check_not_chat_browser

    check_not_chat_browser(request)


def _token(request: web.Request) -> str:
    token = request.match_info.get("token", "")
    if not REFERENT_TOKEN_RE.fullmatch(token):
        raise _Stop(unknown_link_page())
    return token


def _open_invitation(request: web.Request, token: str) -> "InvitationView":
    store = request.app.get(STORE_KEY)
    if not hasattr(store, "invitation_by_token"):
        raise _Stop(unknown_link_page())
    view = store.invitation_by_token(token)  # type: ignore[union-attr]
    if view is None:
        raise _Stop(unknown_link_page())
    if view.invitation.awaiting_verification:  # answered: the referent confirms their address
        from bot.web.referent_verify import step_page

        raise _Stop(step_page(request, view, token))
    if view.invitation.state != "open":
        raise _Stop(state_page(view.invitation.state, view))
    return view


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _check_origin(request: web.Request) -> None:
    """A foreign `Origin` is refused. "null" says nothing: browsers send it for every form
    post from a page under `Referrer-Policy: no-referrer` (ours); the CSRF checks remain."""
    origin = request.headers.get("Origin")
    if origin is None or origin.strip() == "null":
        return
    allowed = {_origin(request.app[SETTINGS_KEY].public_url),
               f"{request.scheme}://{request.host}".lower()}
    if origin.strip().lower() not in allowed:
        raise _Stop(forbidden_page(request))


def _check_csrf(request: web.Request, token: str, value: object) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if (not isinstance(value, str) or not value or not cookie
            or not hmac.compare_digest(value.encode("utf-8"), cookie.encode("utf-8"))
            or csrf_age(request.app[CSRF_KEY].get(), token, value, int(time.time())) is None):
        raise _Stop(forbidden_page(request))


def _csrf_for(request: web.Request, token: str) -> str:
    """The cookie's value if still fresh for this link (a second tab keeps working), else new."""
    secret = request.app[CSRF_KEY].get()
    now = int(time.time())
    cookie = request.cookies.get(CSRF_COOKIE, "")
    age = csrf_age(secret, token, cookie, now) if cookie else None
    if age is not None and age <= CSRF_REUSE_AGE:
        return cookie
    return make_csrf(secret, token, now)


def _form_response(request: web.Request, view: "InvitationView", token: str, status: int,
                   form: Optional[Form] = None) -> web.Response:
    csrf = _csrf_for(request, token)
    response = html_response(status, render_form(view, csrf, form), "no-store")
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=CSRF_MAX_AGE, path="/referent/", httponly=True,
        samesite="Strict", secure=request.app[SETTINGS_KEY].public_url.startswith("https://"),
    )
    return response


async def _read_form(request: web.Request) -> MultiDictProxy:
    if request.content_type not in FORM_TYPES:
        raise _Stop(bad_request_page(415, "Ce formulaire s'envoie depuis sa page web."))
    too_large = bad_request_page(413, "Ce que tu as envoyé est trop long.")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _Stop(too_large)
    unreadable = bad_request_page(400, "Le formulaire reçu est illisible.")
    try:
        data = await request.clone(client_max_size=MAX_BODY).post()
    except web.HTTPRequestEntityTooLarge:
        raise _Stop(too_large) from None
    except (ValueError, RuntimeError, HttpProcessingError):  # undecodable or malformed body
        raise _Stop(unreadable) from None
    # percent-encoded bytes that are not UTF-8 come out as U+FFFD: refused, not stored
    if any(isinstance(value, str) and "\ufffd" in value for value in data.values()):
        raise _Stop(unreadable)
    return data


# --- handlers ----------------------------------------------------------------------------------


@_stoppable
async def referent_get(request: web.Request) -> web.Response:
    _limit(request)
    token = _token(request)
    _limit_token(request, token)
    _not_the_chat_browser(request)
    view = _open_invitation(request, token)
    return _form_response(request, view, token, 200)


@_stoppable
async def referent_post(request: web.Request) -> web.Response:
    _limit(request)
    token = _token(request)
    _limit_token(request, token)
    _not_the_chat_browser(request)
    _check_origin(request)
    view = _open_invitation(request, token)
    data = await _read_form(request)
    _check_csrf(request, token, data.get(CSRF_FIELD))
    skills = invitation_skills(view)
    form = parse_form(skills, data)
    if not form.ok:
        return _form_response(request, view, token, 400, form)
    answers = {skill_id: form.answers.get(skill_id, {}) for skill_id in view.invitation.skill_ids}
    comments = {skill_id: text for skill_id, text in form.comments.items() if text}
    outcome, submission = request.app[STORE_KEY].submit_referent(  # type: ignore[attr-defined]
        token, answers, comments
    )
    if outcome != "ok" or submission is None:
        return state_page(outcome, view)
    # the answers count (and the young person is told) once the referent confirms an
    # address they control: bot/web/referent_verify.py
    from bot.web.referent_verify import email_step

    return email_step(request, view, token)


# --- telling the young person -----------------------------------------------------------------


def notify_later(app: web.Application, submission: "Submission") -> None:
    """Tell Rasa in the background; the task is kept until done (no garbage collection)."""
    task = asyncio.create_task(notify(app, submission.sender_id, submission.invitation.id))
    tasks = app[TASKS_KEY]
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def trigger_intent(app: web.Application, sender_id: str, intent: str,
                         entities: dict) -> tuple[bool, bool, str]:
    """One POST of Rasa's ``trigger_intent`` (reply on the person's latest channel):
    (accepted, worth retrying, what went wrong). Never logs the person."""
    settings = app[SETTINGS_KEY]
    url = f"{settings.rasa_url}/conversations/{quote(sender_id, safe=':')}/trigger_intent"
    params = {"output_channel": "latest"}
    if settings.rasa_token:
        params["token"] = settings.rasa_token
    try:
        async with app[HTTP_KEY].post(url, params=params, json={"name": intent, "entities": entities}) as resp:
            if resp.status < 300:
                return True, False, ""
            return False, resp.status >= 500, f"status {resp.status}"
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return False, True, type(exc).__name__


async def notify(app: web.Application, sender_id: str, invitation_id: int) -> bool:
    """POST trigger_intent EXTERNAL_referent_answered to Rasa: 3 attempts on connection
    errors and 5xx. Logs never name the person, the link or the referent."""
    delays: tuple[float, ...] = app[NOTIFY_DELAYS_KEY]
    attempts = len(delays) + 1
    for attempt in range(1, attempts + 1):
        ok, retry, problem = await trigger_intent(app, sender_id, NOTIFY_INTENT, {"invitation": str(invitation_id)})
        if ok:
            return True
        log.warning("referent notification failed (attempt %d, %s)", attempt, problem)
        if not retry or attempt == attempts:
            break
        await asyncio.sleep(delays[attempt - 1])
    log.error("referent notification given up: the answers are saved, the person was not told")
    return False

