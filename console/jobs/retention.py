"""The retention job: the policy of config/retention.toml, enforced hourly. Idempotent; logs
counts, never content."""

from __future__ import annotations

import logging

from console.db import utcnow
from console.domain import consent, retention
from console.domain.records_config import load_records_settings
from console.jobs.context import get_context

log = logging.getLogger(__name__)


def enforce_retention() -> dict[str, int]:
    ctx = get_context()
    # Erasing needs no key: the sweep deletes ciphertext, it never reads it.
    policy = load_records_settings(ctx.settings).retention
    consent.configure_limits(policy.identity_max_days)
    with ctx.database.transaction() as session:
        counts = retention.enforce(
            session,
            transcripts_days=policy.transcripts_days,
            call_metadata_days=policy.call_metadata_days,
            now=utcnow(),
        )
    if any(counts.values()):
        ctx.database.truncate_wal()
        log.info(
            "retention: %s",
            ", ".join(f"{name} {count}" for name, count in sorted(counts.items())),
        )
    return counts
