"""``rasa run`` with its HTTP API locked (README, "Threat model").

    ATOUTS_RASA_TOKEN=… python -m bot.rasa_server --enable-api --model … --port 5005

The same arguments as ``rasa run``; with ``--enable-api`` the token comes from
``$ATOUTS_RASA_TOKEN`` and is handed to Rasa as ``--auth-token`` inside this process,
so it never shows on a command line (``ps``, /proc/<pid>/cmdline). Every API route
(``/conversations/…``, ``/model…``, ``/status``, ``/domain``…) then answers 401/403
without ``?token=…``; the channel routes (Socket.IO, ``/webhooks/…``) are not API
routes and stay open. Refuses to start the API without a token: no silent open API.
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional

MIN_TOKEN_LENGTH = 32


def rasa_arguments(args: List[str], token: str) -> List[str]:
    """``rasa run`` arguments; ValueError when the API would be open or the token exposed."""
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        raise ValueError("give the API token in ATOUTS_RASA_TOKEN, not on the command line")
    if "--enable-api" not in args:
        return ["run", *args]
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"ATOUTS_RASA_TOKEN must be set (at least {MIN_TOKEN_LENGTH} characters) "
                         "to enable Rasa's HTTP API; `make run` generates one into var/keys/")
    return ["run", *args, "--auth-token", token]


def main(argv: Optional[List[str]] = None) -> int:
    try:
        arguments = rasa_arguments(list(sys.argv[1:] if argv is None else argv),
                                   os.environ.get("ATOUTS_RASA_TOKEN", "").strip())
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    sys.argv = ["rasa", *arguments]
    from rasa.__main__ import main as rasa_main

    rasa_main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
