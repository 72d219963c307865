"""Key rotation: re-encrypt every stored token under the newest key, while the line keeps running.

Put the new key first in HELPLINE_IDENTITY_KEYS (keeping the old ones after it), restart the
servers and workers so they can read both, then run `helpline keys rotate`. It works through each
encrypted column in small batches, each its own short transaction, and updates a row only if its
token is still the one it read, so a value written meanwhile (already under the new key) is never
overwritten. When it reports nothing left, the old keys can be removed.

Channels with encrypted columns of their own (chat transcripts) add them with `register`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from console.db import Database
from console.domain import audit, crypto
from console.domain.drafts import WrapUpDraft
from console.domain.identity import IdentityValue
from console.domain.notes import ContactNote


@dataclass(frozen=True)
class EncryptedColumn:
    name: str
    model: Any
    key: str
    column: str


COLUMNS: list[EncryptedColumn] = [
    EncryptedColumn("identity_values", IdentityValue, "id", "ciphertext"),
    EncryptedColumn("contact_notes", ContactNote, "contact_id", "ciphertext"),
    EncryptedColumn("wrapup_drafts", WrapUpDraft, "contact_id", "payload"),
]


def register(column: EncryptedColumn) -> None:
    if all(c.name != column.name for c in COLUMNS):
        COLUMNS.append(column)


def rotate_all(database: Database, *, batch: int = 500) -> dict[str, int]:
    """Re-encrypt what is not yet under the newest key. Returns rows re-encrypted per column."""
    ring = crypto.ring()
    done: dict[str, int] = {}
    for spec in COLUMNS:
        table = spec.model.__table__
        key, column = table.c[spec.key], table.c[spec.column]
        # Conditional on the token read: a value rewritten meanwhile is left as it now is.
        statement = (
            table.update()
            .where(key == bindparam("pk"), column == bindparam("old"))
            .values({spec.column: bindparam("new")})
        )
        after: Any = None
        rotated = 0
        while True:
            with database.transaction() as session:
                query = select(key, column).order_by(key).limit(batch)
                if after is not None:
                    query = query.where(key > after)
                rows = session.execute(query).all()
                if not rows:
                    break
                after = rows[-1][0]
                changes = [
                    {"pk": pk, "old": token, "new": ring.rotate(token)}
                    for pk, token in rows
                    if not ring.is_current(token)
                ]
                if changes:
                    session.execute(statement, changes)
                    rotated += len(changes)
        done[spec.name] = rotated
    with database.transaction() as session:
        audit.record(
            session,
            audit.Action.KEYS_ROTATED,
            actor_id=None,
            details={"rows": sum(done.values()), "keys": len(ring.keys)},
        )
    return done


def pending(database: Database) -> int:
    """How many stored tokens the newest key cannot read yet."""
    ring = crypto.ring()
    left = 0
    with database.transaction(write=False) as session:
        for spec in COLUMNS:
            for token in session.scalars(select(getattr(spec.model, spec.column))):
                if not ring.is_current(token):
                    left += 1
    return left
