"""The partner page: `/partenaires/<token>` (HTML) and `/partenaires/<token>.csv`.

A partner (mission locale, university, association) created with
`python -m bot.partners create` sees aggregate, anonymous figures about the young
people who joined its group: counts only, never a name, a text or an id, and nothing
at all for a group of fewer than 5 people (`bot.storage.partners.MIN_GROUP_SIZE`).

The link is a secret (only its sha256 is stored): it is never logged, the page is never
cached, any wrong or malformed link gets the French 404 page, and requests are rate
limited per client address.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Optional

from aiohttp import web

from bot.web.app import STORE_KEY, _skill_label, french_date, html_response, message_page, not_found_page, render
from bot.web.clients import request_client
from bot.web.referent import RateLimiter, too_many_page

if TYPE_CHECKING:
    from bot.storage.partners import GroupInfo, GroupStats  # noqa: F401

# the page token is token_urlsafe(32) (43 characters); anything else is refused
# before the store is asked
PARTNER_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,256}")
CSV_SUFFIX = ".csv"
PARTNER_GET_LIMIT = 30  # per client address and 10 minutes
MIN_PEOPLE = 5  # bot.storage.partners.MIN_GROUP_SIZE (the store withholds the figures)

PARTNER_LIMITER_KEY = web.AppKey("partner_limiter", RateLimiter)

MEASURES = (  # (GroupStats field, CSV id, French label)
    ("people", "personnes", "Jeunes dans le groupe"),
    ("experiences", "experiences_racontees", "Expériences racontées"),
    ("skills_identified", "competences_identifiees", "Compétences identifiées"),
    ("assessments_completed", "autoevaluations_terminees", "Auto-évaluations terminées"),
    ("referent_answers", "reponses_referents", "Réponses de référents reçues"),
    ("badges", "badges_valides", "Badges obtenus (non révoqués)"),
)

def setup_partner_routes(app: web.Application) -> None:
    """GET /partenaires/{token} and /partenaires/{token}.csv. Tests may replace
    app[PARTNER_LIMITER_KEY] before the app starts."""
    app[PARTNER_LIMITER_KEY] = RateLimiter(get_limit=PARTNER_GET_LIMIT)
    # no HEAD: one more way to probe links, for nothing
    app.router.add_get("/partenaires/{token:.*}", partner_page, allow_head=False)


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not take for a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def shown(stats: "GroupStats") -> bool:
    """Figures are shown only for a group of at least 5 people (checked twice)."""
    return stats.breakdown_allowed and stats.people is not None and stats.people >= MIN_PEOPLE


def too_small_page() -> web.Response:
    return message_page(200, "Moins de 5 personnes dans ce groupe", [
        "Pour protéger l'anonymat des jeunes, aucun chiffre n'est affiché tant que le groupe "
        "compte moins de 5 personnes.",
        "Revenez quand plus de jeunes auront rejoint le groupe avec son code.",
    ])


def render_page(stats: "GroupStats", csv_href: str, today: Optional[datetime] = None) -> str:
    return render(
        "partner.html",
        name=stats.group.name, date=french_date(today or datetime.now(timezone.utc)),
        figures=[(getattr(stats, field), label) for field, _, label in MEASURES],
        skills=[(_skill_label(skill_id), count) for skill_id, count in stats.skills],
        csv_href=csv_href,
    )


def render_csv(stats: "GroupStats") -> str:
    """One row per measure, then one per skill; for a small group only a note."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["type", "identifiant", "libelle", "valeur"])
    writer.writerow(["groupe", "", _cell(stats.group.name), ""])
    if not shown(stats):
        writer.writerow(["note", "", "Moins de 5 personnes dans le groupe : aucun chiffre n'est affiché.", ""])
        return "\ufeff" + out.getvalue()
    for field, key, label in MEASURES:
        writer.writerow(["mesure", key, label, getattr(stats, field)])
    for skill_id, count in stats.skills:
        writer.writerow(["competence", _cell(skill_id), _cell(_skill_label(skill_id)), count])
    return "\ufeff" + out.getvalue()  # the BOM: spreadsheets then read UTF-8


async def partner_page(request: web.Request) -> web.Response:
    wait = request.app[PARTNER_LIMITER_KEY].hit("GET", request_client(request))
    if wait is not None:
        return too_many_page(wait)
    token = request.match_info.get("token", "")
    as_csv = token.endswith(CSV_SUFFIX)
    if as_csv:
        token = token[: -len(CSV_SUFFIX)]
    if not PARTNER_TOKEN_RE.fullmatch(token):
        return not_found_page()
    store = request.app.get(STORE_KEY)
    if not hasattr(store, "group_by_token"):
        return not_found_page()
    group = store.group_by_token(token)  # type: ignore[union-attr]
    if group is None:
        return not_found_page()
    stats = store.group_stats(group.id)  # type: ignore[union-attr]
    if as_csv:
        return web.Response(
            body=render_csv(stats).encode("utf-8"), content_type="text/csv", charset="utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="atouts-groupe-{group.code}.csv"',
                "X-Robots-Tag": "noindex",
            },
        )
    if not shown(stats):
        return too_small_page()
    # relative link: the page's own path is the secret, never written in full elsewhere
    response = html_response(200, render_page(stats, f"{token}{CSV_SUFFIX}"), "no-store")
    response.headers["X-Robots-Tag"] = "noindex"
    return response
