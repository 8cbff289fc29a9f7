"""Partner groups, for the operator.

    python -m bot.partners create "Mission locale de Lyon"
    python -m bot.partners list
    python -m bot.partners contact KX7P2M "Samia, conseillère" "06 12 34 56 78"

`create` prints the group code to give the young people (they type it in the chat)
and the partner page link `{ATOUTS_PUBLIC_URL}/partenaires/<token>`. The link is
printed once: only its hash is stored, it is never logged. Lost, it cannot be shown
again: create a new group. `list` shows names, codes and member counts only.
`contact` sets who the group's young people can reach when they ask for a human
(a name, and a phone number, an email or an https:// page), shown in the chat.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence, TextIO

from bot.config import Settings
from bot.storage.models import GROUP_NAME_MAX


def partner_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/partenaires/{token}"


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, store=None,
         settings: Optional[Settings] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.partners", description="Groupes partenaires d'Atouts.")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="créer un groupe (code + lien de la page partenaire)")
    create.add_argument("name", help=f"nom du partenaire ({GROUP_NAME_MAX} caractères au plus)")
    sub.add_parser("list", help="lister les groupes (noms, codes, nombre de membres)")
    contact = sub.add_parser("contact", help="personne à joindre pour les jeunes du groupe qui demandent un humain")
    contact.add_argument("code", help="code du groupe")
    contact.add_argument("name", help="nom affiché (ex. « Samia, conseillère »)")
    contact.add_argument("contact", help="téléphone, e-mail ou adresse https://")
    args = parser.parse_args(argv)

    settings = settings or Settings.from_env()
    own_store = store is None
    if store is None:
        from bot.storage import Store

        store = Store(settings.db_url)
        store.migrate()
    try:
        if args.command == "create":
            try:
                code, token = store.create_group(args.name)
            except ValueError as exc:
                parser.error(str(exc))
            print(f"Groupe créé : {' '.join(args.name.split())}", file=out)
            print(f"Code à donner aux jeunes (à taper dans la discussion) : {code}", file=out)
            print(f"Page partenaire (lien secret, affiché une seule fois) : "
                  f"{partner_url(settings.public_url, token)}", file=out)
            return 0
        if args.command == "contact":
            try:
                info = store.set_group_contact(args.code, args.name, args.contact)
            except ValueError as exc:
                parser.error(str(exc))
            if info is None:
                parser.error(f"aucun groupe avec le code {args.code}")
            print(f"Contact du groupe {info.name} : {info.contact_name} — {info.contact}", file=out)
            return 0
        groups = store.list_groups()
        if not groups:
            print("Aucun groupe.", file=out)
        for info, members in groups:
            print(f"{info.code}  {members:>5} membre{'s' if members > 1 else ''}  {info.name}", file=out)
        return 0
    finally:
        if own_store:
            store.close()


if __name__ == "__main__":
    sys.exit(main())
