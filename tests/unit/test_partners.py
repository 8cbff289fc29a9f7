"""Partner groups in bot.storage (real SQLite files) and the `python -m bot.partners` CLI."""
from __future__ import annotations

import io
import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import pytest
from sqlalchemy import select

from bot.partners import main as partners_cli
from bot.storage import Store
from bot.storage.models import GroupMember, PartnerGroup
from bot.storage.partners import CODE_ALPHABET, MIN_GROUP_SIZE, GroupStats, normalize_code
from bot.storage.tokens import hash_token
from tests.unit.test_referent_page import make_settings

_INDEXES = iter(range(100, 10_000))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'atouts.db'}")
    s.migrate()
    yield s
    s.close()


def young(store: Store, sender: str, experiences: Sequence[Sequence[str]] = (), *, assessed: bool = False,
          referent: bool = False, badges: int = 0, revoked: int = 0) -> None:
    """A consenting person with some activity: one experience per skill list (each skill
    confirmed, plus a rejected claim that must not count)."""
    store.record_consent(sender, True, "v1", channel="web")
    store.set_first_name(sender, f"Prénom-{sender}")
    for skills in experiences:
        exp = store.add_experience(sender, f"Récit de {sender}")
        for skill in skills:
            store.add_skill_claim(sender, exp, skill, 0.9, "confirmed", f"preuve {sender}")
        store.add_skill_claim(sender, exp, "leadership", 0.3, "rejected")
    store.open_self_assessment(sender, "curiosite")  # started, never completed: not counted
    if assessed:
        store.open_self_assessment(sender, "organisation")
        store.complete_self_assessment(sender, "organisation")
    if referent:
        token, _ = store.create_invitation(sender, "Karim", "coach", ["organisation"])
        store.submit_referent(token, {"organisation": {"organisation_1": 3, "organisation_2": None}})
        store.create_invitation(sender, "Léa", "tuteur", ["organisation"])  # never answered
    for i in range(badges + revoked):
        key = store.save_badge(sender, f"urn:uuid:{uuid.uuid4()}", "organisation", "confirme",
                               "h.p.s", next(_INDEXES), datetime(2026, 3, 1, tzinfo=timezone.utc))
        if i >= badges:
            store.revoke_badge(key)


# --- codes and groups -------------------------------------------------------------------


def test_create_group_codes_are_unique_and_well_formed(store: Store) -> None:
    created = [store.create_group(f"Partenaire {i}") for i in range(40)]
    codes = [code for code, _ in created]
    assert len(set(codes)) == len(codes)
    for code, token in created:
        assert re.fullmatch(f"[{CODE_ALPHABET}]{{6}}", code)
        assert not set(code) & set("01ILO")
        assert len(token) >= 43
    # only the token's hash is stored
    with store._session() as s:
        rows = s.execute(select(PartnerGroup)).scalars().all()
    assert {row.token_hash for row in rows} == {hash_token(token) for _, token in created}
    stored = json.dumps([[row.name, row.code, row.token_hash] for row in rows])
    assert not any(token in stored for _, token in created)
    assert store.group_by_token(created[3][1]).name == "Partenaire 3"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_group_refuses_bad_names(store: Store, name: str) -> None:
    with pytest.raises(ValueError):
        store.create_group(name)


def test_create_group_retries_on_a_taken_code(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = store.create_group("A")
    codes = iter([first, first, "ZZZ222"])
    monkeypatch.setattr("bot.storage.partners.new_code", lambda: next(codes))
    assert store.create_group("B")[0] == "ZZZ222"


def test_normalize_code() -> None:
    assert normalize_code(" ab c-2 3d ") == "ABC23D"
    for bad in ["", "ABC23", "ABC23DE", "ABC10D", "ABCO2D", None, 123, "A" * 100]:
        assert normalize_code(bad) is None


def test_join_is_case_and_space_insensitive_and_idempotent(store: Store) -> None:
    code, _ = store.create_group("Mission locale de Lyon")
    young(store, "u1")
    typed = f" {code[:3].lower()} {code[3:]} "
    info = store.join_group("u1", typed)
    assert info is not None and info.name == "Mission locale de Lyon" and info.code == code
    assert store.join_group("u1", code) == info
    assert store.join_group("u1", code.lower()) == info
    assert store.groups_of("u1") == [info]
    assert store.list_groups() == [(info, 1)]


def test_join_needs_consent_and_a_known_code(store: Store) -> None:
    code, _ = store.create_group("Université")
    assert store.join_group("nobody", code) is None
    young(store, "u1")
    store.record_consent("u1", False, "v1")  # withdrawal erases the person
    assert store.join_group("u1", code) is None
    young(store, "u2")
    assert store.join_group("u2", "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY") is None
    assert store.join_group("u2", "not a code") is None
    assert store.join_group("u2", "") is None
    assert store.groups_of("u2") == []
    assert store.list_groups()[0][1] == 0


def test_groups_of_and_leave_groups(store: Store) -> None:
    a, _ = store.create_group("A")
    b, _ = store.create_group("B")
    young(store, "u1")
    young(store, "u2")
    store.join_group("u1", a)
    store.join_group("u1", b)
    store.join_group("u2", a)
    assert [g.name for g in store.groups_of("u1")] == ["A", "B"]
    assert store.leave_groups("u1") == 2
    assert store.groups_of("u1") == []
    assert [g.name for g in store.groups_of("u2")] == ["A"]
    assert store.leave_groups("u1") == 0
    assert store.leave_groups("nobody") == 0


def test_group_by_token_refuses_wrong_tokens(store: Store) -> None:
    _, token = store.create_group("A")
    for bad in ["", "x", token[:-1], token + "x", "é" * 43, "a" * 300, None]:
        assert store.group_by_token(bad) is None  # type: ignore[arg-type]
    assert store.group_by_token(token) is not None


# --- figures --------------------------------------------------------------------------------


def big_group(store: Store) -> tuple[str, str]:
    """Six members with known activity, and people outside the group with a lot more."""
    code, token = store.create_group("Mission locale")
    other, _ = store.create_group("Autre")
    young(store, "m1", [["organisation", "rigueur"], ["organisation"]], assessed=True, referent=True, badges=1)
    young(store, "m2", [["organisation"]], assessed=True)
    young(store, "m3", [["communication"]], referent=True)
    young(store, "m4", [["organisation"]], badges=1, revoked=1)
    young(store, "m5")
    young(store, "m6", [["rigueur", "communication"]], badges=1)
    for sender in ["m1", "m2", "m3", "m4", "m5", "m6"]:
        assert store.join_group(sender, code) is not None
    store.join_group("m1", code)  # twice: counted once
    # not members: never counted
    young(store, "x1", [["organisation"]] * 5, assessed=True, referent=True, badges=3)
    young(store, "b1", [["rigueur"]] * 4, assessed=True, referent=True, badges=2)
    store.join_group("b1", other)
    return code, token


def test_group_stats_count_members_only(store: Store) -> None:
    _, token = big_group(store)
    group = store.group_by_token(token)
    assert group is not None
    stats = store.group_stats(group.id)
    assert stats == GroupStats(
        group=group, breakdown_allowed=True, people=6, experiences=6, skills_identified=8,
        assessments_completed=2, referent_answers=2, badges=3,
        skills=(("organisation", 4), ("communication", 2), ("rigueur", 2)),
    )


def test_group_under_five_shows_nothing(store: Store) -> None:
    code, token = store.create_group("Petit groupe")
    for i in range(MIN_GROUP_SIZE - 1):
        young(store, f"p{i}", [["organisation"], ["rigueur"]], assessed=True, referent=True, badges=1)
        store.join_group(f"p{i}", code)
    group = store.group_by_token(token)
    stats = store.group_stats(group.id)  # type: ignore[union-attr]
    assert stats.breakdown_allowed is False and stats.skills == ()
    assert (stats.people, stats.experiences, stats.skills_identified, stats.assessments_completed,
            stats.referent_answers, stats.badges) == (None,) * 6
    # a fifth person: the figures appear
    young(store, "p5")
    store.join_group("p5", code)
    stats = store.group_stats(group.id)  # type: ignore[union-attr]
    assert stats.breakdown_allowed and stats.people == 5 and stats.experiences == 8
    # someone leaves (or erases their data): hidden again
    store.erase_person("p0")
    assert store.group_stats(group.id).breakdown_allowed is False  # type: ignore[union-attr]


def test_group_stats_unknown_group(store: Store) -> None:
    with pytest.raises(KeyError):
        store.group_stats(12345)


# --- export and erasure ---------------------------------------------------------------------


def test_export_and_erase_include_memberships(store: Store) -> None:
    code, _ = store.create_group("Mission locale de Lyon")
    young(store, "u1")
    young(store, "u2")
    store.join_group("u1", code)
    store.join_group("u2", code)
    [membership] = store.export_person("u1")["groups"]
    assert membership["name"] == "Mission locale de Lyon"
    assert membership["joined_at"].endswith("+00:00")
    assert code not in json.dumps(store.export_person("u1"))  # the code is the partner's, not personal
    assert store.export_person("nobody")["groups"] == []
    store.erase_person("u1")
    with store._session() as s:
        assert len(s.execute(select(GroupMember)).scalars().all()) == 1  # u2's
    assert store.list_groups()[0][1] == 1
    assert store.export_person("u1")["groups"] == []


# --- CLI --------------------------------------------------------------------------------------


def test_cli_create_and_list(store: Store, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_url="https://atouts.example.org")
    out = io.StringIO()
    assert partners_cli(["create", "Mission locale de Lyon"], out=out, store=store, settings=settings) == 0
    text = out.getvalue()
    code = re.search(r"jeunes.*: ([A-Z0-9]{6})$", text, re.M).group(1)  # type: ignore[union-attr]
    url = re.search(r"(https://atouts\.example\.org/partenaires/([A-Za-z0-9_-]{43}))$", text, re.M)
    assert url is not None
    assert store.group_by_token(url.group(2)).code == code  # type: ignore[union-attr]
    young(store, "u1")
    store.join_group("u1", code)
    out = io.StringIO()
    assert partners_cli(["list"], out=out, store=store, settings=settings) == 0
    listing = out.getvalue()
    assert code in listing and "Mission locale de Lyon" in listing and "1 membre" in listing
    assert url.group(2) not in listing and "u1" not in listing and "Prénom" not in listing
    with pytest.raises(SystemExit):
        partners_cli(["create", "x" * 101], out=io.StringIO(), store=store, settings=settings)


# --- a partner's contact for « je veux parler à un humain » --------------------------------

def test_a_partner_sets_a_contact_shown_to_its_members(tmp_path) -> None:
    import io

    from bot.partners import main
    from bot.storage import Store

    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    store.migrate()
    code, _ = store.create_group("Mission locale de Lyon")
    out = io.StringIO()
    assert main(["contact", code.lower(), "Samia, conseillère", "06 12 34 56 78"], out=out, store=store) == 0
    assert "Samia, conseillère" in out.getvalue()
    store.record_consent("young", True, "v1", "rest")
    assert store.join_group("young", code) is not None
    [group] = store.groups_of("young")
    assert (group.contact_name, group.contact) == ("Samia, conseillère", "06 12 34 56 78")
    with pytest.raises(SystemExit):
        main(["contact", code, "Samia", "pas un contact"], out=io.StringIO(), store=store)
    with pytest.raises(SystemExit):
        main(["contact", "ZZZZZZ", "Samia", "samia@ml-lyon.fr"], out=io.StringIO(), store=store)
    assert store.set_group_contact(code, "Accueil", "https://ml-lyon.fr/contact").contact == "https://ml-lyon.fr/contact"
    store.close()
