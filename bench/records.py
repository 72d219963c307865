"""Records benchmarks: what consent, encryption and the full wrap-up cost.

    .venv/bin/python -m bench.records                       # SQLite (a temporary file)
    .venv/bin/python -m bench.records --database-url postgresql://postgres@127.0.0.1:5432/test

Three figures, each with a baseline measured in the same run on the same database:

- identity_read_p99_ms: `identity.read_identity` in its own transaction (consent and role checks,
  the audit insert, decryption). Baseline: selecting the same ciphertext row in a transaction.
- wrapup_p99_ms: the full wrap-up of a held contact (taxonomy check, encrypted note, draft removed,
  close). Baseline: the spine's minimal wrap-up (a non-data code) of a held contact.
- rotation_rows_per_s: `helpline keys rotate` over 3,000 stored values (batches of 500, conditional
  updates). Baseline: MultiFernet.rotate over the same tokens in memory, no database.

Progress goes to stderr; the figures end stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench import temporary_database
from console.db import Database, utcnow
from console.domain import consent, crypto, identity, operators, outcomes, queue, rotation
from console.domain.consent import Method, Scope
from console.domain.identity import IdentityValue
from console.domain.taxonomy import load_taxonomy
from console.migrate import upgrade
from console.settings import DEFAULT_CONFIG_DIR, QueueSettings

TAXONOMY = load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.toml")
DETAILS = {
    "caller_role": "victim",
    "victimisation": ["assault"],
    "needs": ["emotional_support"],
    "triage_track": "serious",
}


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)


def timed(work: Callable[[], Any], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@contextmanager
def database(url: str | None) -> Iterator[Database]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        temporary_database(url, Path(tmp), "records") as scratch,
    ):
        db = Database(scratch)
        try:
            upgrade(db)
            yield db
        finally:
            db.dispose()


def held(db: Database, cfg: QueueSettings, operator_id: int, n: int) -> list[int]:
    ids = []
    with db.transaction() as s:
        for _ in range(n):
            contact = queue.enqueue(s, channel="voice", language="nl", cfg=cfg)
            ids.append(contact.id)
    for contact_id in ids:
        with db.transaction() as s:
            queue.claim(s, contact_id, operator_id)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    old_key, new_key = crypto.generate_key(), crypto.generate_key()
    crypto.configure([old_key])
    cfg = QueueSettings()
    figures = []
    with database(args.database_url) as db:
        with db.transaction() as s:
            ana = operators.create_operator(s, username="ana", password="bench-password-1")
            operators.set_presence(s, ana, "available")
            ana_id = ana.id
            ana.max_chats = 10_000
        print("identity reads…", file=sys.stderr)
        (contact_id,) = held(db, cfg, ana_id, 1)
        with db.transaction() as s:
            consent_id = consent.grant(
                s,
                contact_id=contact_id,
                case_id=None,
                scope=Scope.CALLBACK,
                method=Method.VERBAL,
                operator_id=ana_id,
                expires_at=utcnow() + dt.timedelta(days=3),
            ).id
            identity.store_identity(s, consent_id, "phone", "+32 470 00 00 00", actor_id=ana_id)

        def read() -> None:
            with db.transaction() as s:
                identity.read_identity(
                    s, consent_id, "phone", actor_id=ana_id, reason="callback", scope=Scope.CALLBACK
                )

        def bare_read() -> None:
            with db.transaction() as s:
                s.scalar(
                    select(IdentityValue.ciphertext).where(IdentityValue.consent_id == consent_id)
                )

        base, value = p99(timed(bare_read, args.rounds)), p99(timed(read, args.rounds))
        figures.append(("identity_read_p99_ms", value, "ms", base, 20))
        with db.transaction() as s:
            outcomes.wrap_up(s, contact_id, ana_id, code="silent", taxonomy=TAXONOMY)

        print("wrap-ups…", file=sys.stderr)

        # One call at a time per operator: wrap up each contact right after taking it.
        def cycle(full: bool) -> Callable[[], None]:
            def one() -> None:
                (cid,) = held(db, cfg, ana_id, 1)
                started = time.perf_counter()
                with db.transaction() as s:
                    if full:
                        outcomes.wrap_up(
                            s,
                            cid,
                            ana_id,
                            code="information_given",
                            taxonomy=TAXONOMY,
                            details=DETAILS,
                            form_version=TAXONOMY.version,
                            note="felt heard",
                        )
                    else:
                        outcomes.wrap_up(s, cid, ana_id, code="silent", taxonomy=TAXONOMY)
                one.samples.append((time.perf_counter() - started) * 1000)  # type: ignore[attr-defined]

            one.samples = []  # type: ignore[attr-defined]
            return one

        minimal, full = cycle(False), cycle(True)
        for _ in range(args.rounds):
            minimal()
            full()
        figures.append(
            ("wrapup_p99_ms", p99(full.samples), "ms", p99(minimal.samples), 50)  # type: ignore[attr-defined]
        )

        print("rotation…", file=sys.stderr)
        with db.transaction() as s:
            for i in range(1000):
                c = consent.grant(
                    s,
                    contact_id=contact_id,
                    case_id=None,
                    scope=Scope.CASE_FOLLOW_UP,
                    method=Method.VERBAL,
                    operator_id=ana_id,
                    expires_at=utcnow() + dt.timedelta(days=3),
                )
                for field in ("name", "phone", "email"):
                    identity.store_identity(s, c.id, field, f"{field} {i}", actor_id=ana_id)
        with db.transaction(write=False) as s:
            tokens = list(s.scalars(select(IdentityValue.ciphertext)))
        crypto.configure([new_key, old_key])
        ring = crypto.ring()
        started = time.perf_counter()
        for token in tokens:
            ring.rotate(token)
        baseline_rate = len(tokens) / (time.perf_counter() - started)
        started = time.perf_counter()
        done = rotation.rotate_all(db)
        rate = sum(done.values()) / (time.perf_counter() - started)
        assert rotation.pending(db) == 0
        figures.append(("rotation_rows_per_s", round(rate), "rows/s", round(baseline_rate), 1000))
    for name, value, unit, baseline, target in figures:
        print(
            json.dumps(
                {"name": name, "value": value, "unit": unit, "baseline": baseline, "target": target}
            )
        )


if __name__ == "__main__":
    main()
