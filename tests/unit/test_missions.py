"""Choosing missions: place parsing, the offline catalogue, the API via the fake."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from bot.progress.engagement import EngagementClient
from bot.progress.missions import (
    DEFAULT_CATALOGUE,
    NOTE_API_DOWN,
    NOTE_EMPTY,
    NOTE_OFFLINE,
    SKILL_SEARCH,
    MissionCatalogueError,
    MissionResult,
    Place,
    find_missions,
    grows_skill,
    load_catalogue,
    offline_missions,
    parse_place,
)
from bot.referentiel import default_referentiel
from tests.fakes.engagement import API_KEY, Failure, FakeEngagementApi, engagement_api, make_mission  # noqa: F401

SKILL_IDS = default_referentiel().ids


# --- places ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("75011", Place(postcode="75011", department="75")),
    ("j'habite au 69003", Place(postcode="69003", department="69")),
    ("20000", Place(postcode="20000", department="2A")),  # Ajaccio
    ("20167", Place(postcode="20167", department="2A")),
    ("20200", Place(postcode="20200", department="2B")),  # Bastia
    ("20600", Place(postcode="20600", department="2B")),
    ("97411", Place(postcode="97411", department="974")),  # La Réunion
    ("97200", Place(postcode="97200", department="972")),
    ("01000", Place(postcode="01000", department="01")),
    ("93", Place(department="93")),
    ("2B", Place(department="2B")),
    ("Lyon", Place(city="Lyon")),
    ("lyon", Place(city="Lyon")),
    ("à saint-étienne", Place(city="Saint-Étienne")),
    ("J'habite à aix-en-provence", Place(city="Aix-en-Provence")),
    ("Paris 11e", Place(city="Paris")),
])
def test_parse_place(text: str, expected: Place) -> None:
    assert parse_place(text) == expected


@pytest.mark.parametrize("text", ["", "   ", None, "😀", "99999", "00123", "123", "bof", "je sais pas",
                                  "oui", "a" * 90, "lyon 😀", "<script>"])
def test_parse_place_garbage(text: Optional[str]) -> None:
    assert parse_place(text) is None


def test_only_the_department_is_stored() -> None:
    assert parse_place("75011").stored() == "75"
    assert parse_place("Lyon").stored() is None  # a city alone is never kept


# --- offline catalogue --------------------------------------------------------------------------


def test_real_catalogue_is_valid_and_covers_every_skill() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.entries) >= 10
    for skill_id in SKILL_IDS:
        assert len(catalogue.for_skill(skill_id)) >= 3, skill_id
        assert skill_id in SKILL_SEARCH
    for entry in catalogue.entries:
        assert entry.url.startswith("https://") and len(entry.pitch) <= 140


def _write(tmp_path: Path, entries: Any) -> Path:
    path = tmp_path / "missions.yml"
    path.write_text(yaml.safe_dump({"missions": entries}, allow_unicode=True), encoding="utf-8")
    return path


def _entries() -> list:
    return yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))["missions"]


def test_broken_catalogue_lists_every_problem(tmp_path: Path) -> None:
    entries = _entries()
    entries[0]["skills"] = ["travail_en_equipe", "telepathie"]
    entries[1]["url"] = "http://www.uniscite.fr/"
    entries[2]["id"] = entries[3]["id"]
    entries[4]["pitch"] = "Une mission d'intérêt général près de chez vous pour les jeunes volontaires du service national."
    entries[5]["min_age"] = "dix-huit"
    entries[6]["colour"] = "blue"
    del entries[7]["remote"]
    with pytest.raises(MissionCatalogueError) as err:
        load_catalogue(_write(tmp_path, entries), SKILL_IDS)
    text = str(err.value)
    assert text.startswith("Catalogue de missions invalide")
    assert "compétence inconnue 'telepathie'" in text
    assert "'url' doit être une adresse https://" in text
    assert f"mission '{entries[3]['id']}' en double" in text
    assert "« tu »" in text
    assert "'min_age'" in text
    assert "clés inconnues ['colour']" in text
    assert "clés manquantes ['remote']" in text
    assert len(err.value.problems) >= 7


def test_catalogue_too_small_or_skill_not_covered(tmp_path: Path) -> None:
    entries = [e for e in _entries() if "curiosite" not in e["skills"]][:9]
    with pytest.raises(MissionCatalogueError) as err:
        load_catalogue(_write(tmp_path, entries), SKILL_IDS)
    assert any("au moins 10 missions" in p for p in err.value.problems)
    assert any("'curiosite' n'est développée que par 0" in p for p in err.value.problems)


def test_unreadable_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "missions.yml"
    path.write_text("missions: [unclosed", encoding="utf-8")
    with pytest.raises(MissionCatalogueError, match="illisible"):
        load_catalogue(path, SKILL_IDS)
    path.write_text("- just a list", encoding="utf-8")
    with pytest.raises(MissionCatalogueError, match="liste 'missions'"):
        load_catalogue(path, SKILL_IDS)


@pytest.mark.parametrize("skill_id", SKILL_IDS)
@pytest.mark.parametrize("is_minor", [True, False, None])
def test_offline_ranking(skill_id: str, is_minor: Optional[bool]) -> None:
    missions = offline_missions(skill_id, is_minor, 3)
    assert len(missions) == 3 and len({m.id for m in missions}) == 3
    assert all(m.source == "offline" and m.url.startswith("https://") and m.pitch for m in missions)
    assert skill_id in missions[0].soft_skills and skill_id in missions[1].soft_skills
    if is_minor:
        assert all(m.open_to_minors for m in missions)
    if is_minor is False:
        assert all(m.id != "offline:snu_mig" for m in missions)  # 15–17 only


def test_offline_prefers_diverse_kinds() -> None:
    kinds = [m.kind for m in offline_missions("gestion_du_stress", True, 3)]
    assert kinds[0] == "secours" and len(set(kinds[:2])) == 2


# --- find_missions ----------------------------------------------------------------------------


def _find(api: Optional[FakeEngagementApi], skill_id: str, place: Optional[Place], is_minor: Optional[bool],
          **kwargs: Any) -> MissionResult:
    async def run() -> MissionResult:
        client = None
        if api is not None:
            client = EngagementClient(api.url, API_KEY, retries=1, backoff=(0,), timeout_s=1, page_size=50)
        try:
            return await find_missions(skill_id, place, is_minor, client=client, **kwargs)
        finally:
            if client is not None:
                await client.close()

    return asyncio.run(run())


def _paris_missions() -> list:
    return [
        make_mission(1, title="Distribution alimentaire en équipe", softSkills=["Travail en équipe", "Ponctualité"],
                     openToMinors="no"),
        make_mission(2, title="Collecte solidaire", softSkills=["Esprit d'équipe"], openToMinors="yes",
                     postalCode="75018", city="Paris"),
        make_mission(3, title="Accueil du public", softSkills=["Écoute active"], openToMinors="yes"),
        make_mission(4, title="Tri de vêtements", softSkills=["Sens de l'organisation"], openToMinors="yes"),
        make_mission(5, title="Animation sportive équipe", softSkills=["Travail en équipe"], openToMinors="yes",
                     remote="no", postalCode="75011"),
        make_mission(6, title="Soutien en ligne", softSkills=["Travail en équipe"], openToMinors="yes",
                     remote="full", city=None, postalCode=None, departmentCode=None, departmentName=None),
        make_mission(7, title="Jardin partagé à Lyon", softSkills=["Travail en équipe"], openToMinors="yes",
                     city="Lyon", postalCode="69003", departmentCode="69", departmentName="Rhône"),
    ]


def test_find_missions_skill_match_first_and_minors_filtered(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = _paris_missions()
    result = _find(engagement_api, "travail_en_equipe", parse_place("75011"), True)
    assert result.source == "api" and result.note is None
    ids = [m.id[-1] for m in result.missions]
    assert ids == ["5", "2"] + ids[2:] and len(ids) == 3  # same postcode first, then same department
    assert all(m.open_to_minors for m in result.missions)  # mission 1 is not open to minors
    assert [grows_skill(m, "travail_en_equipe") for m in result.missions] == [True, True, False]
    first = engagement_api.requests[0]
    assert first.get("departmentName") == "Paris" and first.get("openToMinors") == "yes"
    assert first.get("keywords") == SKILL_SEARCH["travail_en_equipe"].keyword
    assert all(m.city != "Lyon" for m in result.missions)


def test_find_missions_adult_gets_missions_not_open_to_minors(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = _paris_missions()
    result = _find(engagement_api, "travail_en_equipe", parse_place("75011"), False)
    assert len(result.missions) == 3 and "64a1b2c3d4e5f6789abc0001" in {m.id for m in result.missions}
    assert engagement_api.requests[0].get("openToMinors") is None


def test_find_missions_without_place_asks_for_remote(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = _paris_missions()
    result = _find(engagement_api, "travail_en_equipe", None, None)
    assert engagement_api.requests[0].getall("remote") == ["possible", "full"]
    assert result.missions[0].id.endswith("0006") and result.missions[0].remote


def test_find_missions_by_city(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = _paris_missions()
    result = _find(engagement_api, "travail_en_equipe", parse_place("Lyon"), True)
    assert engagement_api.requests[0].get("city") == "Lyon"
    assert result.missions[0].city == "Lyon"
    assert result.note and "je complète" in result.note  # only one mission in Lyon: topped up offline
    assert [m.source for m in result.missions] == ["api", "offline", "offline"]


def test_find_missions_api_down_falls_back_offline(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = _paris_missions()
    engagement_api.fail(*[Failure("status", 503)] * 4)
    result = _find(engagement_api, "communication", parse_place("75011"), True)
    assert result.source == "offline" and result.note == NOTE_API_DOWN
    assert len(result.missions) == 3 and all(m.open_to_minors for m in result.missions)


def test_find_missions_empty_falls_back_offline(engagement_api: FakeEngagementApi) -> None:
    result = _find(engagement_api, "rigueur", parse_place("Brest"), False)
    assert result.source == "offline" and result.note == NOTE_EMPTY and len(result.missions) == 3
    assert engagement_api.calls == 2  # with the skill keyword, then without


def test_find_missions_without_client_is_offline_and_says_so() -> None:
    result = _find(None, "gestion_du_stress", parse_place("13001"), True)
    assert result.source == "offline" and result.note == NOTE_OFFLINE
    assert len(result.missions) == 3
    assert all(m.source == "offline" and m.url.startswith("https://") for m in result.missions)
