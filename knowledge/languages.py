"""ISO 639 language codes: HSDS allows 639-1 ("nl") and 639-3 ("nld"); filters compare one form."""

from __future__ import annotations

from functools import lru_cache

import pycountry


@lru_cache(maxsize=1024)
def normalize(code: str | None) -> str | None:
    """The two-letter code when the language has one, else the three-letter code; None if unknown.

    Region subtags ("pt-BR") are dropped: a caller's language is matched on the language alone.
    """
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    language = None
    if len(primary) == 2:
        language = pycountry.languages.get(alpha_2=primary)
    elif len(primary) == 3:
        language = pycountry.languages.get(alpha_3=primary)
        if language is None:
            # ISO 639-2/B codes such as "dut" or "fre" are still common in directories.
            matches = [
                lang
                for lang in pycountry.languages
                if getattr(lang, "bibliographic", None) == primary
            ]
            language = matches[0] if matches else None
    if language is None:
        return None
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


def is_valid(code: str | None) -> bool:
    return normalize(code) is not None


def name(code: str) -> str:
    """English name of a language code, or the code itself."""
    normal = normalize(code)
    if normal is None:
        return code
    language = (
        pycountry.languages.get(alpha_2=normal)
        if len(normal) == 2
        else pycountry.languages.get(alpha_3=normal)
    )
    return str(language.name) if language is not None else code
