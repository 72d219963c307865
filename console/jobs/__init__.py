"""Background jobs: RQ on Redis when configured, the same functions in-process otherwise.

Jobs take IDs, never objects (Redash), and are idempotent sweeps over database state, so a job lost
with Redis is redone by the next run and no contact depends on Redis.
"""
