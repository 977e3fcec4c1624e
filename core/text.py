"""How text is normalised before it is stored for matching or compared with a query.

Stored copies (`username_lc`, `name_words`, `title_lc`, `name_lc`) and queries go through the same
functions, so a case-insensitive match is a plain comparison an ordinary index serves.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """The normalised form text is searched and sorted by (case-insensitive, locale-free)."""
    return text.casefold()


def composed(text: str) -> str:
    """One spelling per character: "e" + combining diaeresis and "ë" must match each other."""
    return unicodedata.normalize("NFC", text)


def normalise_query(q: str) -> str:
    """What a user search `q` is compared as: trimmed, lowercased like `username_lc` and
    `name_words`, composed."""
    return composed(q.strip().lower())
