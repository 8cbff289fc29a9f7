"""Invitation emails: sent through a real (local) SMTP server, the address never stored."""
from __future__ import annotations

import asyncore
import socket
import threading
import warnings
from email import message_from_bytes, policy
from pathlib import Path
from typing import Iterator, List

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import smtpd

from actions import challenge as ch
from bot import mailer, services
from tests.unit.test_actions import consent, run, slots_of
from tests.unit.test_challenge_actions import confirm, required, validate


class Catcher(smtpd.SMTPServer):
    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), None, decode_data=False)
        self.received: List[bytes] = []

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):  # noqa: ANN001
        self.received.append(data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Catcher]:
    port = free_port()
    server = Catcher(port)
    thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("ATOUTS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ATOUTS_SMTP_PORT", str(port))
    monkeypatch.setenv("ATOUTS_SMTP_STARTTLS", "0")
    monkeypatch.setenv("ATOUTS_SMTP_FROM", "Atouts <atouts@example.org>")
    yield server
    server.close()
    thread.join(timeout=2)


@pytest.mark.parametrize("text, email", [
    ("karim@club-judo.fr", "karim@club-judo.fr"), ("c'est karim.b@gmail.com !", "karim.b@gmail.com"),
    ("karim arobase gmail", None), ("", None), ("@", None), ("a@b", None), ("x" * 300 + "@a.fr", None),
])
def test_clean_email(text: str, email: str | None) -> None:
    assert mailer.clean_email(text) == email


def test_invitation_is_emailed_and_the_address_not_kept(app_db, make_tracker, domain, smtp: Catcher) -> None:
    consent()
    services.store().set_first_name("test-user", "Inès")
    confirm("rigueur")
    form = ch.ValidateInviteForm()
    slots = {"consent": "oui", "first_name": "Inès", "referent_name": "Karim", "referent_relation": "coach",
             "referent_skills": ["rigueur"]}
    assert required(form, make_tracker(slots=slots), domain)[-1] == "referent_email"
    msgs, _ = run(ch.ActionAskReferentEmail(), make_tracker(slots=slots), domain)
    assert "Karim" in msgs[0]["text"] and msgs[0]["buttons"][0]["payload"] == "/skip"
    assert validate(form, make_tracker(slots=slots), domain, "referent_email", "karim chez gmail") == \
        {"referent_email": None}
    slots.update(validate(form, make_tracker(slots=slots), domain, "referent_email", "c'est karim@club-judo.fr"))
    msgs, events = run(ch.ActionCreateInvitation(), make_tracker(slots=slots), domain)
    assert msgs[-1]["text"] == "Email envoyé à Karim ✉️"
    assert slots_of(events)["referent_email"] is None
    [raw] = smtp.received
    email = message_from_bytes(raw, policy=policy.default)
    assert email["To"] == "karim@club-judo.fr" and email["Subject"] == "Inès aimerait ton avis"
    link = msgs[1]["text"]
    assert link in email.get_content()
    db = Path(app_db[len("sqlite:///"):])
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert b"karim@club-judo.fr" not in stored and b"club-judo" not in stored


def test_skipping_the_email_or_a_dead_server_still_gives_the_link(app_db, make_tracker, domain,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    consent()
    confirm("rigueur")
    slots = {"consent": "oui", "first_name": "Inès", "referent_name": "Karim", "referent_relation": "coach",
             "referent_skills": ["rigueur"], "referent_email": "-"}
    msgs, _ = run(ch.ActionCreateInvitation(), make_tracker(slots=slots), domain)
    assert "/referent/" in msgs[1]["text"] and "Email" not in msgs[-1]["text"]
    monkeypatch.setenv("ATOUTS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ATOUTS_SMTP_PORT", str(free_port()))  # nobody listens
    slots["referent_email"] = "karim@club-judo.fr"
    msgs, _ = run(ch.ActionCreateInvitation(), make_tracker(slots=slots), domain)
    assert "/referent/" in msgs[1]["text"] and "pas réussi à envoyer" in msgs[-1]["text"]
    assert len(services.store().invitations_of("test-user")) == 2


def test_without_smtp_the_email_is_not_asked(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    slots = {"consent": "oui", "first_name": "Inès"}
    assert "referent_email" not in required(ch.ValidateInviteForm(), make_tracker(slots=slots), domain)


def test_invitation_emails_are_limited_per_day(app_db, make_tracker, domain, smtp: Catcher) -> None:
    """Issue 10 (low): nobody can use Atouts to send mails to any address in any number:
    after EMAILS_PER_DAY invitations in 24 h, the link is still given but not e-mailed."""
    consent()
    confirm("rigueur")
    slots = {"consent": "oui", "first_name": "Inès", "referent_name": "Karim", "referent_relation": "coach",
             "referent_skills": ["rigueur"]}
    said = []
    for i in range(ch.EMAILS_PER_DAY + 2):
        msgs, _ = run(ch.ActionCreateInvitation(), make_tracker(slots={**slots, "referent_email": f"k{i}@club.fr"}),
                      domain)
        assert "/referent/" in msgs[1]["text"]  # the link, always
        said.append(msgs[-1]["text"])
    assert said[:ch.EMAILS_PER_DAY] == ["Email envoyé à Karim ✉️"] * ch.EMAILS_PER_DAY
    assert all("Je n'envoie plus d'email avant demain" in text for text in said[ch.EMAILS_PER_DAY:])
    assert len(smtp.received) == ch.EMAILS_PER_DAY
