"""Check the safety data: ``python -m bot.safety check``.

Loads ``data/safety/cues.yml`` and ``data/safety/helplines.yml`` (a broken file
stops with the list of problems, in French) and lists the help lines not checked
for more than a year: exit code 1 when one is stale, so a partner or CI notices.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Optional, Sequence, TextIO

from bot.safety.detector import load_detector
from bot.safety.helplines import load_helplines

MAX_AGE_DAYS = 365


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, today: Optional[date] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.safety")
    parser.add_argument("command", choices=["check"])
    parser.parse_args(argv)
    today = today or date.today()
    try:
        detector = load_detector()
        helplines = load_helplines()
    except ValueError as exc:
        print(exc, file=out)
        return 2
    print(f"{sum(len(c) for c in detector.cues.values())} expressions, {len(detector.guards)} gardes", file=out)
    stale = 0
    for line in helplines.lines.values():
        age = (today - line.checked).days
        flag = "À REVÉRIFIER" if age > MAX_AGE_DAYS else "ok"
        stale += age > MAX_AGE_DAYS
        print(f"{line.display:>14}  {line.name} — vérifié le {line.checked.isoformat()} ({flag})", file=out)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
