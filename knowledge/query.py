"""Turns what an operator types into a safe full-text query for FTS5 or PostgreSQL.

Nothing the operator types reaches the engine's query syntax: the text is folded and cut into words
here, and only those words (letters and digits) are quoted into the engine's syntax. Supported:
plain words (each matched as a prefix, as the operator types), "quoted phrases" and -exclusions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.text import words

MAX_INPUT = 1000
MAX_TERMS = 12
MAX_WORD = 64
_PART = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()
    highlight: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.terms and not self.phrases


def parse(raw: str) -> ParsedQuery:
    text = (raw or "")[:MAX_INPUT]
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    for match in _PART.finditer(text):
        negate = bool(match.group(1) or match.group(3))
        quoted = match.group(2)
        found = [w[:MAX_WORD] for w in words(quoted if quoted is not None else match.group(4))]
        if not found:
            continue
        if negate:
            excluded.extend(found)
        elif quoted is not None and len(found) > 1:
            phrases.append(tuple(found))
        else:
            # A one-letter word would prefix-match nearly everything; it only counts inside phrases.
            terms.extend(w for w in found if len(w) > 1)
    terms = list(dict.fromkeys(terms))[:MAX_TERMS]
    phrases = phrases[:MAX_TERMS]
    excluded = list(dict.fromkeys(excluded))[:MAX_TERMS]
    highlight = tuple(dict.fromkeys([*terms, *(w for p in phrases for w in p)]))
    return ParsedQuery(tuple(terms), tuple(phrases), tuple(excluded), highlight)


def fts5(query: ParsedQuery, *, any_term: bool = False) -> str:
    """FTS5 MATCH syntax; `any_term` ORs the words instead of requiring all of them."""
    positives = [f'"{t}"*' for t in query.terms] + [f'"{" ".join(p)}"' for p in query.phrases]
    expression = (" OR " if any_term else " AND ").join(positives)
    if len(positives) > 1:
        expression = f"({expression})"
    for word in query.excluded:
        expression += f' NOT "{word}"'
    return expression


def tsquery(query: ParsedQuery, *, any_term: bool = False) -> tuple[str, str]:
    """(to_tsquery text for the prefix words, websearch_to_tsquery text for phrases/exclusions)."""
    prefix = (" | " if any_term else " & ").join(f"{t}:*" for t in query.terms)
    web = " ".join(
        [*(f'"{" ".join(p)}"' for p in query.phrases), *(f"-{w}" for w in query.excluded)]
    )
    if any_term and query.phrases:
        # websearch_to_tsquery ANDs all it is given; an OR search keeps phrases in to_tsquery.
        parts = [prefix] if prefix else []
        parts += ["(" + " <-> ".join(p) + ")" for p in query.phrases]
        prefix = " | ".join(parts)
        web = " ".join(f"-{w}" for w in query.excluded)
    return prefix, web
