"""Operator commands for issued badges (run on the server, with its settings):

    python -m bot.badges.admin revoke <badge-id>     # e.g. a badge obtained by fraud
    python -m bot.badges.admin rotate-key            # new signing key; old badges still verify

Revocation sets the badge's bit in the status list (/status/1) and marks it in the
database: its page then says « révoqué » and any verifier sees it.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from bot.badges.issuer import BadgeIssuer
from bot.config import Settings
from bot.storage import Store


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.badges.admin", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    revoke = commands.add_parser("revoke", help="révoquer un badge")
    revoke.add_argument("badge_id", help="uuid du badge (ou urn:uuid:…)")
    commands.add_parser("rotate-key", help="nouvelle clé de signature")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    issuer = BadgeIssuer.from_settings(settings)
    if args.command == "rotate-key":
        print(f"nouvelle clé : {issuer.rotate_key()}")
        return 0
    store = Store(settings.db_url, revoke_status=issuer.revoke)
    try:
        store.migrate()
        row = store.revoke_badge(args.badge_id)
    finally:
        store.close()
    if row is None:
        print("badge inconnu", file=sys.stderr)
        return 1
    print(f"badge {row.id} révoqué")
    return 0


if __name__ == "__main__":
    sys.exit(main())
