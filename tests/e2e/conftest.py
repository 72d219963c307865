"""Browser tests act at human speed: reservations last as long as in production."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.settings import Settings


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.with_overrides(
        background_tasks=True,
        queue=replace(settings.queue, tick_interval=0.1, reservation_timeout=30),
    )
