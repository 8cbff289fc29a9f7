"""Text from other people, made safe to show: no invisible characters, no Markdown."""
from __future__ import annotations

import unicodedata

_KEEP = {"\n"}


def clean_text(text: str) -> str:
    """Without bidi controls (U+202A–202E, U+2066–2069, U+200E/F), zero-width characters
    (U+200B–200D, U+2060, U+FEFF), soft hyphens and other format or control characters
    (Unicode categories Cf, Cc — newlines kept): they can reverse or hide what a text says."""
    return "".join(
        c for c in text
        if c in _KEEP or unicodedata.category(c) not in ("Cf", "Cc")
    )


def markdown_inert(text: str) -> str:
    """`text` for a Markdown renderer (rasa-webchat's) that must show it as it is: every
    ASCII punctuation character becomes a numeric character reference (``[`` → ``&#91;``),
    which Markdown shows as the character itself but never reads as syntax — no link, no
    image, no emphasis, and no bare-URL autolink (``https&#58;//`` is not ``https://``)."""
    return "".join(f"&#{ord(c)};" if c.isascii() and not c.isalnum() and not c.isspace() else c
                   for c in text)
