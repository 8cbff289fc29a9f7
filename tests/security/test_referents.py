"""Issue 10, item 4: referents who are who they say.

Through the real web app (aiohttp server over HTTP), a real Store on SQLite and real
SMTP to the in-process mail catcher. On the code as found, every test here failed: the
young person could answer their own link in the browser where they chat and the
answers counted at once (a « confirmé » badge), the same person could answer two links
and count twice, and there was no address step at all. The whole journey with Rasa is
in tests/e2e/test_challenger.py (same browser → no badge; same address twice → once).
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.storage import Store
from tests.unit.test_referent_page import (  # noqa: F401 - fixtures
    SENDER,
    FakeRasa,
    Mailbox,
    answers,
    confirm_by_mail,
    invite,
    no_env_secret,
    open_form,
    post,
    run,
    store,
)


def test_a_link_opened_in_the_chat_browser_is_refused(store: Store, invite: tuple[str, int],
                                                      tmp_path: Path) -> None:
    token, _ = invite
    rasa = FakeRasa()

    async def scenario(client: TestClient) -> None:
        chat = await client.get("/")  # the young person's chat page
        assert chat.status == 200 and "atouts_chat" in chat.headers.get("Set-Cookie", "")
        resp = await client.get(f"/referent/{token}")
        assert resp.status == 403 and "Ce lien est pour ton référent" in await resp.text()
        resp = await client.post(f"/referent/{token}", data={**answers(), "csrf": "x"})
        assert resp.status == 403

    run(store, tmp_path, scenario, rasa=rasa)
    assert store.referent_answers(SENDER, "rigueur") == [] and rasa.calls == []
    assert store.invitation_by_token(token).invitation.state == "open"  # the real referent still can


def test_answers_count_only_after_the_address_is_confirmed(store: Store, invite: tuple[str, int],
                                                           tmp_path: Path) -> None:
    token, _ = invite
    rasa = FakeRasa()

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        resp, page = await post(client, token, answers(), csrf)
        assert resp.status == 200 and "confirme ton adresse" in page
        assert store.referent_answers(SENDER, "rigueur") == []
        # a wrong code, then the right one (mailed through real SMTP)
        page = await (await client.get(f"/referent/{token}")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        resp = await client.post(f"/referent/{token}/email", data={"csrf": csrf, "email": "pas une adresse"})
        assert resp.status == 400
        resp = await client.post(f"/referent/{token}/email", data={"csrf": csrf, "email": "karim@club.fr"})
        assert resp.status == 200
        sent = re.search(r"\b(\d{6})\b", Mailbox.outbox.mails[-1].body).group(1)  # type: ignore[union-attr]
        wrong = f"{(int(sent) + 1) % 1_000_000:06d}"
        resp = await client.post(f"/referent/{token}/code", data={"csrf": csrf, "code": wrong})
        assert resp.status == 400 and "pas le bon code" in await resp.text()
        assert store.referent_answers(SENDER, "rigueur") == [] and rasa.calls == []
        resp = await client.post(f"/referent/{token}/code", data={"csrf": csrf, "code": sent})
        assert resp.status == 200 and "Merci Karim" in await resp.text()

    run(store, tmp_path, scenario, rasa=rasa)
    assert len(store.referent_answers(SENDER, "rigueur")) == 1 and len(rasa.calls) == 1


def test_codes_cannot_be_guessed(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        await post(client, token, answers(), csrf)
        await client.post(f"/referent/{token}/email", data={"csrf": csrf, "email": "karim@club.fr"})
        sent = re.search(r"\b(\d{6})\b", Mailbox.outbox.mails[-1].body).group(1)  # type: ignore[union-attr]
        statuses = []
        for n in range(5):
            guess = f"{(int(sent) + n + 1) % 1_000_000:06d}"
            resp = await client.post(f"/referent/{token}/code", data={"csrf": csrf, "code": guess})
            statuses.append(resp.status)
        assert statuses[-1] == 429  # five tries, then the link is done
        resp = await client.post(f"/referent/{token}/code", data={"csrf": csrf, "code": sent})
        assert resp.status == 429

    run(store, tmp_path, scenario)
    assert store.referent_answers(SENDER, "rigueur") == []


def test_the_same_address_counts_once_per_person_and_skill(store: Store, tmp_path: Path) -> None:
    first, _ = store.create_invitation(SENDER, "Karim", "coach", ["rigueur"])
    second, _ = store.create_invitation(SENDER, "Karim bis", "autre", ["rigueur"])

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, first)
        await post(client, first, answers(), csrf)
        resp, _ = await confirm_by_mail(client, first, "karim@club.fr")
        assert resp.status == 200
        _, csrf = await open_form(client, second)
        await post(client, second, answers(), csrf)
        page = await (await client.get(f"/referent/{second}")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        resp = await client.post(f"/referent/{second}/email", data={"csrf": csrf, "email": " Karim@Club.FR"})
        assert resp.status == 409 and "déjà donné ton avis" in await resp.text()

    run(store, tmp_path, scenario)
    assert [a.referent_name for a in store.referent_answers(SENDER, "rigueur")] == ["Karim"]


def test_only_a_keyed_hash_of_the_address_is_kept(store: Store, invite: tuple[str, int],
                                                  tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        await post(client, token, answers(), csrf)
        resp, _ = await confirm_by_mail(client, token, "karim@club.fr")
        assert resp.status == 200

    run(store, tmp_path, scenario)
    database = Path(store.url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        [key] = db.execute("SELECT referent_key FROM referent_invitations").fetchone()
    raw = database.read_bytes()
    assert b"karim@club.fr" not in raw and b"club.fr" not in raw
    assert key and key != hashlib.sha256(b"karim@club.fr").hexdigest()  # keyed: not guessable offline
