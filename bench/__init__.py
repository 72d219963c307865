"""Benchmarks: each module is run with `python -m bench.<name>` and ends with JSON lines."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """The load generator does not collect garbage while it measures.

    Its hundreds of Socket.IO clients live in one process: a full collection of their objects
    stalls every message in flight, and would be measured as the server's latency (seen as
    ~200 ms stalls, on the app and its baseline alike). The load generator is not under test.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
