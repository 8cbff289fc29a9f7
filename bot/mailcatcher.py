"""A local mail catcher for development (`make run`) and the tests: an SMTP server that
delivers nothing and keeps the last mails in memory, and a web page listing them.

    python -m bot.mailcatcher --smtp-port 1025 --http-port 8025

http://localhost:8025 lists the mails (newest first), `/messages.json` gives them as
JSON. Both listen on 127.0.0.1 only, nothing is written to disk, and a restart forgets
everything. Plain asyncio (RFC 5321 subset: HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT): no extra package. Never for production: configure ATOUTS_SMTP_* instead.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import signal
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from typing import Deque, List, Optional

from aiohttp import web

log = logging.getLogger(__name__)

MAX_MAILS = 200
MAX_MAIL_BYTES = 1024 * 1024
MAX_LINE = 4096


@dataclass
class Mail:
    received_at: str
    mail_from: str
    rcpt_to: List[str]
    subject: str
    to: str
    body: str


@dataclass
class Outbox:
    mails: Deque[Mail] = field(default_factory=lambda: deque(maxlen=MAX_MAILS))

    def add(self, mail_from: str, rcpt_to: List[str], data: bytes) -> Mail:
        message = BytesParser(policy=policy.default).parsebytes(data)
        part = message.get_body(preferencelist=("plain", "html"))
        body = (part.get_content() if part is not None else "").replace("\r\n", "\n")
        mail = Mail(datetime.now(timezone.utc).isoformat(timespec="seconds"), mail_from, rcpt_to,
                    str(message.get("Subject", "")), str(message.get("To", "")), body)
        self.mails.append(mail)
        return mail


def _address(argument: str) -> str:
    """`FROM:<a@b>` / `TO:<a@b> SIZE=…` -> a@b."""
    value = argument.split(":", 1)[1] if ":" in argument else argument
    value = value.strip().split(" ")[0]
    return value.strip("<>")


class SmtpSession:
    def __init__(self, outbox: Outbox, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.outbox, self.reader, self.writer = outbox, reader, writer
        self.reset()

    def reset(self) -> None:
        self.mail_from: Optional[str] = None
        self.rcpt_to: List[str] = []

    async def reply(self, line: str) -> None:
        self.writer.write(line.encode("ascii") + b"\r\n")
        await self.writer.drain()

    async def read_data(self) -> Optional[bytes]:
        lines: List[bytes] = []
        size = 0
        while True:
            line = await self.reader.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            if line.startswith(b".."):
                line = line[1:]
            size += len(line)
            if size > MAX_MAIL_BYTES:
                return b""
            lines.append(line)

    async def run(self) -> None:
        await self.reply("220 localhost Atouts mail catcher")
        while True:
            raw = await self.reader.readline()
            if not raw:
                return
            line = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r\n")
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb in ("HELO", "EHLO"):
                self.reset()
                await self.reply("250 localhost" if verb == "HELO" else "250-localhost\r\n250 8BITMIME")
            elif verb == "MAIL":
                self.reset()
                self.mail_from = _address(argument)
                await self.reply("250 OK")
            elif verb == "RCPT":
                if self.mail_from is None:
                    await self.reply("503 MAIL first")
                    continue
                self.rcpt_to.append(_address(argument))
                await self.reply("250 OK")
            elif verb == "DATA":
                if not self.rcpt_to:
                    await self.reply("503 RCPT first")
                    continue
                await self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = await self.read_data()
                if data is None:
                    return
                if not data:
                    await self.reply("552 Too much mail data")
                else:
                    self.outbox.add(self.mail_from or "", list(self.rcpt_to), data)
                    await self.reply("250 OK: kept")
                self.reset()
            elif verb == "RSET":
                self.reset()
                await self.reply("250 OK")
            elif verb == "NOOP":
                await self.reply("250 OK")
            elif verb == "QUIT":
                await self.reply("221 Bye")
                return
            else:
                await self.reply("502 Command not implemented")


async def start_smtp(outbox: Outbox, host: str, port: int) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await SmtpSession(outbox, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError, UnicodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=MAX_LINE * 4)


PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10"><title>Boîte de test · Atouts</title>
<style>body{{font:16px/1.4 system-ui,sans-serif;max-width:46rem;margin:1rem auto;padding:0 1rem}}
article{{border:1px solid #ccc;border-radius:8px;padding:.5rem 1rem;margin:1rem 0}}
pre{{white-space:pre-wrap;word-break:break-word}}</style></head><body>
<h1>Boîte de test (mails envoyés par Atouts en local)</h1>
<p>Rien n'est vraiment envoyé : les mails arrivent ici. La page se recharge toute seule.</p>
{mails}</body></html>"""


def render(outbox: Outbox) -> str:
    items = []
    for mail in reversed(outbox.mails):
        items.append(
            f"<article><p><strong>{html.escape(mail.subject)}</strong><br>"
            f"À : {html.escape(', '.join(mail.rcpt_to))} · {html.escape(mail.received_at)}</p>"
            f"<pre>{html.escape(mail.body)}</pre></article>"
        )
    return PAGE.format(mails="\n".join(items) or "<p>Aucun mail pour l'instant.</p>")


def make_app(outbox: Outbox) -> web.Application:
    app = web.Application()

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=render(outbox), content_type="text/html",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    async def messages(request: web.Request) -> web.Response:
        return web.json_response([asdict(m) for m in outbox.mails], headers={"Cache-Control": "no-store"},
                                 dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/", index)
    app.router.add_get("/messages.json", messages)
    app.router.add_get("/health", health)
    return app


async def serve(smtp_port: int, http_port: int, host: str = "127.0.0.1") -> None:
    outbox = Outbox()
    smtp = await start_smtp(outbox, host, smtp_port)
    runner = web.AppRunner(make_app(outbox), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, http_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    smtp.close()
    await smtp.wait_closed()
    await runner.cleanup()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.smtp_port, args.http_port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
