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
import html
import io
import re
from datetime import datetime, timezone
from string import Template
from typing import TYPE_CHECKING, Optional

from aiohttp import web

from bot.web.app import STORE_KEY, _skill_label, french_date, html_response, message_page, not_found_page
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

PAGE = Template("""<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>$name · Atouts</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/chat.css">
<style>
.figures { list-style: none; margin: 0 0 16px; padding: 0; display: grid;
  grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 8px; }
.figures li { background: #fff; border: 1px solid #ddd6c4; border-radius: 10px; padding: 10px 12px; }
.figures strong { display: block; font-size: 1.6rem; line-height: 1.2; }
.skills { width: 100%; border-collapse: collapse; margin: 0 0 16px; background: #fff; }
.skills th, .skills td { text-align: left; padding: 8px; border-bottom: 1px solid #ddd6c4; }
.skills td.n, .skills th.n { text-align: right; }
.page h2 { font-size: 1.1rem; margin: 16px 0 8px; }
.page p { margin: 0 0 8px; }
.csv { display: inline-block; padding: 10px 14px; min-height: 44px; box-sizing: border-box; }
</style>
</head>
<body>
<div class="app">
  <header class="top">
    <h1>Atouts</h1>
    <p class="tagline">Les chiffres de votre groupe</p>
  </header>
  <main class="page">
    <h2>$name</h2>
    <p>Chiffres à jour le $date.</p>
    <ul class="figures">
$figures
    </ul>
    <h2>Compétences identifiées</h2>
$skills
    <p><a class="csv" href="$csv_href" download>Télécharger ces chiffres (CSV)</a></p>
    <h2>Ce que montrent ces chiffres</h2>
    <p>Ils comptent ce que font dans Atouts les jeunes qui ont rejoint votre groupe avec son code :
    les expériences qu'ils ont racontées, les compétences qu'ils ont reconnues dans ces expériences,
    les auto-évaluations terminées, les réponses de leurs référents et les badges obtenus.
    Une compétence reconnue dans plusieurs expériences compte plusieurs fois.</p>
    <p>Ils sont anonymes : aucun nom, aucun texte, aucun identifiant. Rien n'est affiché tant que le
    groupe compte moins de 5 personnes. Une personne qui quitte le groupe ou efface ses données
    n'est plus comptée.</p>
    <p>Ce lien est personnel : ne le partagez qu'avec les personnes de votre structure qui en ont besoin.</p>
  </main>
</div>
</body>
</html>
""")


def setup_partner_routes(app: web.Application) -> None:
    """GET /partenaires/{token} and /partenaires/{token}.csv. Tests may replace
    app[PARTNER_LIMITER_KEY] before the app starts."""
    app[PARTNER_LIMITER_KEY] = RateLimiter(get_limit=PARTNER_GET_LIMIT)
    # no HEAD: one more way to probe links, for nothing
    app.router.add_get("/partenaires/{token:.*}", partner_page, allow_head=False)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


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
    figures = "\n".join(
        f'      <li><strong>{getattr(stats, field)}</strong> {_esc(label)}</li>'
        for field, _, label in MEASURES
    )
    if stats.skills:
        rows = "\n".join(
            f'<tr><td>{_esc(_skill_label(skill_id))}</td><td class="n">{count}</td></tr>'
            for skill_id, count in stats.skills
        )
        skills = ('<table class="skills"><thead><tr><th scope="col">Compétence</th>'
                  '<th scope="col" class="n">Nombre de fois</th></tr></thead>\n'
                  f"<tbody>\n{rows}\n</tbody></table>")
    else:
        skills = "<p>Aucune compétence identifiée pour l'instant.</p>"
    return PAGE.substitute(
        name=_esc(stats.group.name), date=french_date(today or datetime.now(timezone.utc)),
        figures=figures, skills=skills, csv_href=_esc(csv_href),
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
    wait = request.app[PARTNER_LIMITER_KEY].hit("GET", request.remote or "?")
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
