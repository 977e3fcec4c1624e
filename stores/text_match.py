"""Case-insensitive prefix matching that an ordinary index serves, on any MongoDB-wire server.

Text is stored with a normalised copy (`core.text.fold`), and a prefix is queried as a plain `$gte`/`$lt`
string range (`prefix_range`): nothing the client sends is ever read as a pattern.
"""

from __future__ import annotations


def prefix_range(prefix: str) -> dict[str, str]:
    """A `$gte`/`$lt` range holding exactly the strings that start with `prefix`.

    The upper bound is the prefix with its last character stepped up (skipping surrogates, which
    BSON strings cannot hold), exact for any character, where a `prefix + "\\uffff"` bound would
    miss characters above U+FFFF; a prefix of only U+10FFFF characters has no upper bound.
    """
    stem = prefix
    while stem:
        code = ord(stem[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return {"$gte": prefix, "$lt": stem[:-1] + chr(code)}
        stem = stem[:-1]
    return {"$gte": prefix}
