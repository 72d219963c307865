"""Jobs: the same functions run on RQ with Redis, in-process without it, and in-process when Redis
refuses them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis
from rq import Queue, SimpleWorker

from console.db import Database, utcnow
from console.domain import queue
from console.domain.contacts import Contact
from console.jobs import periodic, runner, tasks
from console.jobs.context import set_context
from console.settings import Settings
from tests.support import wait_until


def _stale_contact(database: Database, settings: Settings) -> int:
    with database.transaction() as s:
        old = utcnow() - tasks.STALE_AFTER - dt.timedelta(minutes=1)
        return queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue, now=old).id


def _state(database: Database, contact_id: int) -> str:
    with database.transaction(write=False) as s:
        return s.get_one(Contact, contact_id).state


def test_periodic_jobs_are_declared_by_dotted_path() -> None:
    assert periodic.PERIODIC_JOBS
    for job in periodic.PERIODIC_JOBS:
        assert callable(runner.resolve(job.func))
        assert job.every > 0


def test_sweep_abandons_contacts_that_lost_their_channel(
    database: Database, settings: Settings
) -> None:
    set_context(settings, database)
    stale = _stale_contact(database, settings)
    old = utcnow() - tasks.STALE_AFTER - dt.timedelta(hours=12)
    with database.transaction() as s:
        fresh = queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue).id
        # A police referral that came in overnight: nobody is on a line, so it waits to be called.
        referral = queue.enqueue(
            s, channel="callback", source="police", language="nl", cfg=settings.queue, now=old
        ).id
    assert tasks.sweep_stale_contacts() == 1
    assert tasks.sweep_stale_contacts() == 0  # idempotent
    assert [_state(database, c) for c in (stale, fresh, referral)] == [
        "abandoned",
        "waiting",
        "waiting",
    ]


@pytest.mark.redis
def test_rq_runs_the_job_by_path_with_ids_only(
    database: Database, settings: Settings, redis_url: str
) -> None:
    set_context(settings, database)
    stale = _stale_contact(database, settings)
    jobs = runner.JobRunner(redis_url)
    jobs.enqueue("console.jobs.tasks.sweep_stale_contacts")
    connection = redis.Redis.from_url(redis_url)
    rq_queue = Queue(runner.QUEUE_NAME, connection=connection)
    (job,) = rq_queue.jobs
    assert job.func_name == "console.jobs.tasks.sweep_stale_contacts"
    assert job.args == ()
    SimpleWorker([rq_queue], connection=connection, log_job_description=False).work(burst=True)
    assert _state(database, stale) == "abandoned"


def test_without_redis_jobs_run_in_process(database: Database, settings: Settings) -> None:
    set_context(settings, database)
    stale = _stale_contact(database, settings)
    runner.JobRunner(None).enqueue("console.jobs.tasks.sweep_stale_contacts")
    wait_until(lambda: _state(database, stale) == "abandoned", what="in-process job")


def test_when_redis_refuses_the_job_runs_in_process(
    database: Database, settings: Settings, expect_logs: Any
) -> None:
    expect_logs("redis refused job")
    set_context(settings, database)
    stale = _stale_contact(database, settings)
    runner.JobRunner("redis://127.0.0.1:1/0").enqueue("console.jobs.tasks.sweep_stale_contacts")
    wait_until(lambda: _state(database, stale) == "abandoned", what="fallback job")


def test_embedded_periodic_runner_waits_for_each_interval(
    database: Database, settings: Settings
) -> None:
    set_context(settings, database)
    stale = _stale_contact(database, settings)
    jobs = runner.JobRunner(None)
    jobs.run_due_periodic(now=0.0)  # first sight: remember, do not run
    assert _state(database, stale) == "waiting"
    jobs.run_due_periodic(now=10_000.0)
    assert _state(database, stale) == "abandoned"


@pytest.mark.redis
def test_the_worker_knows_every_packages_periodic_jobs(
    database: Database, settings: Settings, redis_url: str
) -> None:
    from console.jobs import worker

    worker.run_worker(settings.with_overrides(redis_url=redis_url), burst=True)
    paths = {job.func for job in periodic.PERIODIC_JOBS}
    assert "console.jobs.tasks.sweep_stale_contacts" in paths
    assert "console.jobs.kb_freshness.notify_review_due" in paths
    for path in paths:
        assert callable(runner.resolve(path))
