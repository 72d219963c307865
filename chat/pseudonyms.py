"""Rotating keyed pseudonyms of visitors' addresses, and the block list that uses them.

An address is turned into HMAC-SHA256(key of the period, address) the moment a visitor connects and
is then forgotten. A new random key is made each rotation period and keys older than the previous
period are destroyed, so a pseudonym cannot be linked back to an address (not even by guessing every
IPv4 address) once its key is gone. A block is stored under the pseudonym and carried forward to the
new key's pseudonym when the blocked visitor comes back after a rotation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading

from flask import Request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chat.models import Block, PseudonymKey
from console.db import Database, utcnow
from console.domain import crypto


def client_address(request: Request, proxy_count: int) -> str:
    """The visitor's address, only ever passed to `Pseudonyms.of` and never kept.

    The spine's ProxyFix leaves REMOTE_ADDR alone (x_for=0) so that nothing downstream sees the
    address; behind `proxy_count` trusted proxies the chat reads X-Forwarded-For itself.
    """
    if proxy_count > 0:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxy_count:
            return forwarded[-proxy_count]
    return str(request.environ.get("REMOTE_ADDR", ""))


_LABEL = b"helpline visitor pseudonym key "


class Pseudonyms:
    def __init__(self, database: Database, rotation_seconds: float, secret_key: str) -> None:
        self.database = database
        self.rotation_seconds = rotation_seconds
        self._secret = secret_key
        self._keys: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def epoch(self, now: dt.datetime) -> int:
        return int(now.timestamp() // self.rotation_seconds)

    def _key(self, epoch: int) -> bytes:
        with self._lock:
            cached = self._keys.get(epoch)
        if cached is not None:
            return cached
        with self.database.transaction() as session:
            row = session.get(PseudonymKey, epoch)
            if row is None:
                row = PseudonymKey(epoch=epoch, secret=secrets.token_hex(32))
                session.add(row)
                try:
                    session.flush()
                except IntegrityError:
                    # Another process made this period's key first: use theirs.
                    session.rollback()
                    row = session.get(PseudonymKey, epoch)
                    assert row is not None
            key = self._peppered(row.secret)
        with self._lock:
            self._keys = {e: k for e, k in self._keys.items() if e >= epoch - 1}
            self._keys[epoch] = key
        return key

    def _known_key(self, session: Session, epoch: int) -> bytes | None:
        with self._lock:
            cached = self._keys.get(epoch)
        if cached is not None:
            return cached
        row = session.get(PseudonymKey, epoch)
        return self._peppered(row.secret) if row is not None else None

    def _peppered(self, stored: str) -> bytes:
        """The period's HMAC key: every IPv4 address can be tried within a period, so it needs
        the secret key too."""
        return crypto.keyed_with_secret(self._secret, _LABEL, stored)

    def of(self, address: str, now: dt.datetime | None = None) -> str:
        """The address's pseudonym under the current period's key."""
        now = now or utcnow()
        key = self._key(self.epoch(now))
        return hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()

    def previous(self, session: Session, address: str, now: dt.datetime) -> str | None:
        key = self._known_key(session, self.epoch(now) - 1)
        if key is None:
            return None
        return hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()

    def check(self, address: str, now: dt.datetime | None = None) -> tuple[str, dt.datetime | None]:
        """(current pseudonym, end of its block or None), carrying a block made under the previous
        key forward to the current one. Reads only, unless there is a block to carry."""
        now = now or utcnow()
        current = self.of(address, now)
        with self.database.transaction(write=False) as session:
            candidates = [current]
            earlier = self.previous(session, address, now)
            if earlier is not None:
                candidates.append(earlier)
            rows = list(
                session.execute(
                    select(Block.pseudonym, Block.until).where(
                        Block.pseudonym.in_(candidates), Block.until > now
                    )
                ).all()
            )
        if not rows:
            return current, None
        until = max(u for _, u in rows)
        if all(p != current for p, _ in rows):
            with self.database.transaction() as session:
                session.add(Block(pseudonym=current, until=until, created_at=now))
        return current, until

    def destroy_old_keys(self, session: Session, now: dt.datetime | None = None) -> int:
        """Keys older than the previous period go, and with them any link to an address."""
        now = now or utcnow()
        keep_from = self.epoch(now) - 1
        result = session.execute(delete(PseudonymKey).where(PseudonymKey.epoch < keep_from))
        with self._lock:
            self._keys = {e: k for e, k in self._keys.items() if e >= keep_from}
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def block(
    session: Session,
    pseudonym: str,
    minutes: int,
    operator_id: int | None,
    now: dt.datetime | None = None,
) -> Block:
    now = now or utcnow()
    row = Block(
        pseudonym=pseudonym,
        until=now + dt.timedelta(minutes=minutes),
        operator_id=operator_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def purge_expired_blocks(session: Session, now: dt.datetime | None = None) -> int:
    result = session.execute(delete(Block).where(Block.until <= (now or utcnow())))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
