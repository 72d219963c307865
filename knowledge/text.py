"""Text folding and tokenising shared by indexing and querying, so both engines see the same words.

Folding is done here, in Python, on both sides (documents and queries): SQLite's `unicode61
remove_diacritics 2` and PostgreSQL's `unaccent` disagree on ligatures such as "œ" and "ß", and
pre-folded, space-separated words leave each engine's tokenizer nothing to disagree about.
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose but that readers treat as plain Latin letters.
_LIGATURES = str.maketrans(
    {
        "œ": "oe",
        "Œ": "oe",
        "æ": "ae",
        "Æ": "ae",
        "ß": "ss",
        "ø": "o",
        "Ø": "o",
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "þ": "th",
        "Þ": "th",
        "ı": "i",
    }
)
_WORD = re.compile(r"[^\W_]+")


def fold(value: str) -> str:
    """Lower case without accents: "Fémicide" and "femicide" fold alike."""
    if value.isascii():
        return value.lower()
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def words(value: str) -> list[str]:
    """The folded words of a text, as both full-text engines will index them."""
    return _WORD.findall(fold(value))


def index_text(*parts: str | None) -> str:
    return " ".join(word for part in parts if part for word in words(part))


def snippet(text: str, prefixes: list[str], *, width: int = 160) -> str:
    """A window of `text` around the first word that starts with one of the folded `prefixes`.

    Built in Python rather than by FTS5's snippet() or ts_headline() so both engines give the same.
    """
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    start = 0
    for match in _WORD.finditer(flat):
        folded = fold(match.group())
        if any(folded.startswith(prefix) for prefix in prefixes):
            start = max(0, match.start() - width // 4)
            break
    if start:
        # Begin on a word boundary so the snippet does not open mid-word.
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(flat) else ""
    return f"{prefix}{flat[start:end]}{suffix}"
