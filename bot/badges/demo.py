"""Issue a sample badge through the real code path and write what a recipient would get.

    python -m bot.badges.demo --out /tmp/badge-demo [--base-url https://atouts.example.org]

Writes credential.jwt, credential.json (decoded payload), badge.png, badge.svg and
issuer-public.pem. The keys and the status list go to a throw-away folder unless
``--data-dir`` is given: a demo badge must never be signed with the production key.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import List, Optional

from bot.badges.credential import BadgeRequest
from bot.badges.issuer import BadgeIssuer
from bot.badges.vc_jwt import decode_unverified
from bot.referentiel import default_referentiel

FILES = ("credential.jwt", "credential.json", "badge.png", "badge.svg", "issuer-public.pem")


def sample_request() -> BadgeRequest:
    referentiel = default_referentiel()
    skill = referentiel.get("travail_en_equipe") or next(iter(referentiel.skills.values()))
    return BadgeRequest(skill=skill, level="confirme", referents=2, min_referents=1,
                        subject_ref="demo-sender-0001", email="camille.demo@example.org")


def write_demo(out: Path, data_dir: Path, base_url: str) -> List[Path]:
    issuer = BadgeIssuer(base_url, data_dir)
    badge = issuer.issue(sample_request())
    out.mkdir(parents=True, exist_ok=True)
    contents = {
        "credential.jwt": badge.token.encode("ascii"),
        "credential.json": json.dumps(decode_unverified(badge.token), ensure_ascii=False, indent=2).encode("utf-8"),
        "badge.png": badge.png,
        "badge.svg": badge.svg,
        "issuer-public.pem": issuer.keys.public_pem(badge.kid),
    }
    for name, data in contents.items():
        (out / name).write_bytes(data)
    return [out / name for name in FILES]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="dossier de sortie")
    parser.add_argument("--base-url", default="https://atouts.example.org")
    parser.add_argument("--data-dir", type=Path, help="clés et liste de statut (défaut : dossier temporaire)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="atouts-badges-") as tmp:
        written = write_demo(args.out, args.data_dir or Path(tmp), args.base_url)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
