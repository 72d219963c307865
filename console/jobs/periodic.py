"""The periodic jobs, declared in one list (Redash), run by the RQ worker or in-process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    func: str  # dotted path of a function taking no arguments
    every: float  # seconds


PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("console.jobs.tasks.sweep_stale_contacts", every=300),
    PeriodicJob("console.jobs.retention.enforce_retention", every=3600),
]


def register(job: PeriodicJob) -> None:
    """Channels and features add their periodic work here, at import time."""
    if all(existing.func != job.func for existing in PERIODIC_JOBS):
        PERIODIC_JOBS.append(job)
