"""bot.mailcatcher over real sockets: smtplib sends, the page and the JSON list it;
the launcher uses it when no SMTP server is configured."""
from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from aiohttp.test_utils import TestClient, TestServer

from bot.launcher import Stack, StackConfig
from bot.mailcatcher import Outbox, make_app, start_smtp
from tests.unit.test_referent_page import free_port


def test_mails_sent_over_smtp_are_listed_escaped() -> None:
    async def scenario() -> None:
        outbox = Outbox()
        port = free_port()
        server = await start_smtp(outbox, "127.0.0.1", port)
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "Ton code <b>", "a@localhost", "karim@club.fr"
        message.set_content("Ton code : 123456\n.\n..point")

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                smtp.send_message(message)

        await asyncio.to_thread(send)
        server.close()
        [mail] = outbox.mails
        assert mail.rcpt_to == ["karim@club.fr"] and "123456" in mail.body and "\n.\n..point" in mail.body
        async with TestClient(TestServer(make_app(outbox))) as client:
            page = await (await client.get("/")).text()
            assert "Ton code &lt;b&gt;" in page and "<b>" not in page.split("<body>")[1]
            assert (await (await client.get("/messages.json")).json())[0]["subject"] == "Ton code <b>"

    asyncio.run(scenario())


def test_launcher_uses_the_catcher_and_turns_telemetry_off(monkeypatch) -> None:
    for name in ("ATOUTS_SMTP_HOST", "ATOUTS_TELEMETRY", "RASA_TELEMETRY_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    stack = Stack(StackConfig(mail_smtp_port=2525, mail_web_port=8026))
    env = stack.env()
    assert stack.mail_catcher and env["ATOUTS_SMTP_HOST"] == "127.0.0.1" and env["ATOUTS_SMTP_PORT"] == "2525"
    assert env["ATOUTS_SMTP_STARTTLS"] == "0" and env["RASA_TELEMETRY_ENABLED"] == "false"
    assert stack.urls()["mail"].endswith(":8026/health")
    monkeypatch.setenv("ATOUTS_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("ATOUTS_TELEMETRY", "1")
    stack = Stack(StackConfig())
    assert not stack.mail_catcher and stack.env()["ATOUTS_SMTP_HOST"] == "smtp.example.org"
    assert "mail" not in stack.urls() and "RASA_TELEMETRY_ENABLED" not in stack.env()


def test_the_stack_names_its_processes_by_module_not_start_order() -> None:
    """bench and fuzz measure each server's CPU and memory by these ids: the optional mail
    catcher starts first and the web app has its own interpreter."""
    from types import SimpleNamespace

    from bot.launcher import Stack, StackConfig

    stack = Stack(StackConfig())
    stack.processes = [SimpleNamespace(pid=pid, args=args) for pid, args in (
        (11, ["/x/.venv-web/bin/python", "-m", "bot.mailcatcher", "--smtp-port", "1"]),
        (12, ["/x/.venv/bin/python", "-m", "bot.action_server", "--actions", "actions"]),
        (13, ["/x/.venv/bin/python", "-m", "bot.rasa_server", "--enable-api"]),
        (14, ["/x/.venv-web/bin/python", "-m", "bot.web"]))]
    assert stack.pids() == {"mail": 11, "actions": 12, "rasa": 13, "web": 14}
