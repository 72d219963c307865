"""What the line may keep of a caller: a country, a hash for the day, a block hash; never the
number.

`classify` turns Twilio's `From` into a `Caller` that holds the number only in memory (it is not in
its repr). The repeat-call hash uses a random key per day, stored in the database and deleted once
the day is over, so yesterday's hashes can no longer be tied to any number. The block hash uses a
key derived from the secret key, and a block row lives only as long as the block.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import phonenumbers
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from console.db import Database
from console.domain import crypto
from telephony.models import Block, CallLeg, HashKey, LegState

# Withheld caller ID as Twilio delivers it: the keypad spellings of ANONYMOUS, RESTRICTED,
# UNAVAILABLE and BLOCKED (+266 is Lesotho, +7 Russia, +86 China: none of them is a real caller),
# and since 2022 also plain words.
WITHHELD_NUMBERS = frozenset({"+266696687", "+7378742833", "+86282452253", "+2562533"})
WITHHELD_WORDS = frozenset(
    {"", "anonymous", "restricted", "unknown", "unavailable", "private", "blocked", "withheld"}
)
_NUMBER = re.compile(r"^\+?[0-9]{2,20}\Z")
_BLOCK_LABEL = b"helpline/telephony/block-key/v1"


class MalformedCaller(ValueError):
    """`From` is neither a number nor a withheld marker; the request did not come from Twilio."""


@dataclass(frozen=True)
class Caller:
    withheld: bool
    country: str | None = None
    # The normalised number, for hashing in this request only; never stored, logged or shown.
    number: str | None = field(default=None, repr=False)


def classify(raw: str | None) -> Caller:
    value = (raw or "").strip()
    lowered = value.lower()
    if lowered in WITHHELD_WORDS:
        return Caller(withheld=True)
    if lowered.startswith(("client:", "sip:")):
        # A browser client or SIP address is not a phone number; nothing of it is kept.
        return Caller(withheld=True)
    if not _NUMBER.match(value):
        raise MalformedCaller("From: expected a phone number or a withheld-number marker")
    number = value if value.startswith("+") else "+" + value
    if number in WITHHELD_NUMBERS:
        return Caller(withheld=True)
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return Caller(withheld=False, number=number)
    # region_code_for_number answers a one-country code's region even for nonsense: check validity.
    country = (
        phonenumbers.region_code_for_number(parsed)
        if phonenumbers.is_valid_number(parsed)
        else None
    )
    normalised = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Caller(withheld=False, country=country, number=normalised)


def _mac(key: bytes, number: str) -> str:
    return hmac.new(key, number.encode("ascii"), hashlib.sha256).hexdigest()


_DAY_LABEL = b"helpline repeat-call key of the day "


def day_key(secret_key: str, stored: str) -> bytes:
    """The day's HMAC key: all of a country's numbers could be hashed under a key found beside the
    hashes, so it needs the secret key too."""
    return crypto.keyed_with_secret(secret_key, _DAY_LABEL, stored)


class DayKeys:
    """The day's random key, created on first use, cached per process for that day only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[str, bytes] | None = None

    def key(self, database: Database, day: str, secret_key: str) -> bytes:
        """The day's key; made on the day's first call, in its own tiny transaction, so the
        callers' own write transactions never wait on it."""
        with self._lock:
            if self._cached is not None and self._cached[0] == day:
                return self._cached[1]
        with database.engine.connect() as conn:
            secret = conn.scalar(select(HashKey.secret).where(HashKey.day == day))
        if secret is None:
            insert = postgresql.insert if database.url.startswith("postgresql") else sqlite.insert
            with database.transaction() as session:
                session.execute(
                    insert(HashKey)
                    .values(day=day, secret=secrets.token_hex(32))
                    .on_conflict_do_nothing(index_elements=["day"])
                )
                secret = session.scalar(select(HashKey.secret).where(HashKey.day == day))
        assert secret is not None
        key = day_key(secret_key, secret)
        with self._lock:
            self._cached = (day, key)
        return key

    def forget(self) -> None:
        with self._lock:
            self._cached = None


day_keys = DayKeys()


def local_day(now: dt.datetime, tz: dt.tzinfo) -> str:
    return now.astimezone(tz).date().isoformat()


def caller_hash(database: Database, caller: Caller, day: str, secret_key: str) -> str | None:
    if caller.number is None:
        return None
    return _mac(day_keys.key(database, day, secret_key), caller.number)


def block_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), _BLOCK_LABEL, hashlib.sha256).digest()


def block_hash(secret_key: str, caller: Caller) -> str | None:
    if caller.number is None:
        return None
    return _mac(block_key(secret_key), caller.number)


class BlockList:
    """The active block hashes, read at most every `ttl` seconds per process.

    The first webhook of every call checks it; the table is tiny and changes rarely, so the
    check costs no database round trip. A block made in this process applies at once; one made
    in another process within `ttl` seconds.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._until: dict[str, dt.datetime] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")

    def _current(self, database: Database, now: dt.datetime) -> dict[str, dt.datetime]:
        with self._lock:
            if time.monotonic() - self._loaded_at < self.ttl:
                return self._until
        with database.engine.connect() as conn:
            rows = conn.execute(
                select(Block.caller_hash, Block.expires_at).where(Block.expires_at > now)
            ).all()
        until: dict[str, dt.datetime] = {}
        for digest, expires_at in rows:
            until[digest] = max(expires_at, until.get(digest, expires_at))
        with self._lock:
            self._until = until
            self._loaded_at = time.monotonic()
        return until

    def contains(self, database: Database, digest: str | None, now: dt.datetime) -> bool:
        if digest is None:
            return False
        expires_at = self._current(database, now).get(digest)
        return expires_at is not None and expires_at > now


block_list = BlockList()


def is_blocked(database: Database, secret_key: str, caller: Caller, now: dt.datetime) -> bool:
    return block_list.contains(database, block_hash(secret_key, caller), now)


def add_block(
    session: Session,
    secret_key: str,
    caller: Caller,
    *,
    hours: int,
    operator_id: int | None,
    call_id: int | None,
    now: dt.datetime,
) -> Block | None:
    digest = block_hash(secret_key, caller)
    if digest is None:
        return None  # a withheld caller cannot be told apart from any other
    block = Block(
        caller_hash=digest,
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours),
        operator_id=operator_id,
        call_id=call_id,
    )
    session.add(block)
    session.flush()
    block_list.invalidate()
    return block


def calls_today(session: Session, leg: CallLeg) -> int:
    """How many calls today came from the same number as `leg` (itself included)."""
    if leg.caller_hash is None:
        return 1
    return int(
        session.scalar(
            select(func.count()).where(
                CallLeg.caller_hash == leg.caller_hash, CallLeg.hash_day == leg.hash_day
            )
        )
        or 1
    )


def forget_old(session: Session, today: str, now: dt.datetime) -> tuple[int, int, int]:
    """Drop past days' keys and hashes, and lapsed blocks. Returns the three counts."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))
    keys = session.execute(delete(HashKey).where(HashKey.day < today)).rowcount  # type: ignore[attr-defined]
    hashes = session.execute(
        update(CallLeg)
        .where(CallLeg.hash_day.is_not(None), CallLeg.hash_day < today)
        .values(caller_hash=None, hash_day=None)
    ).rowcount  # type: ignore[attr-defined]
    blocks = session.execute(delete(Block).where(Block.expires_at <= now)).rowcount  # type: ignore[attr-defined]
    day_keys.forget()
    block_list.invalidate()
    return int(keys or 0), int(hashes or 0), int(blocks or 0)


# A CallSid names Twilio's record of the call, which holds the caller's number: once the line no
# longer needs the link (retention, or a case's erasure), it is replaced by this and the leg's id.
ERASED_SID = "ER"


def scrub_legs(session: Session, where: ColumnElement[bool]) -> int:
    """Cut ended legs loose from Twilio's records: their CallSids go, and the day's hash."""
    ids = session.scalars(
        select(CallLeg.id).where(
            where, CallLeg.state == LegState.ENDED, ~CallLeg.call_sid.startswith(ERASED_SID)
        )
    ).all()
    if ids:
        session.execute(
            update(CallLeg),
            [
                {
                    "id": leg_id,
                    "call_sid": f"{ERASED_SID}{leg_id:032d}",
                    "operator_call_sid": None,
                    "colleague_call_sid": None,
                    "caller_hash": None,
                    "hash_day": None,
                }
                for leg_id in ids
            ],
        )
    return len(ids)


def erase_for_contacts(session: Session, contact_ids: list[int]) -> int:
    """A case's erasure (console.domain.retention.erase_case)."""
    return scrub_legs(session, CallLeg.contact_id.in_(contact_ids))


def purge_call_metadata(session: Session, cutoff: dt.datetime, protected: frozenset[int]) -> int:
    """The retention sweep's call metadata: legs older than `cutoff`, unless a consent keeps
    their contact."""
    outside = or_(CallLeg.contact_id.is_(None), CallLeg.contact_id.not_in(protected))
    return scrub_legs(session, and_(CallLeg.created_at < cutoff, outside if protected else true()))
