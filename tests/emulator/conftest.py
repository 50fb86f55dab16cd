"""Fixtures: a live emulator on a free localhost port, and SDK clients pointed at it.

The emulator's clock is frozen, so time moves only when a test calls
``emu.clock.advance(...)``: TTL behaviour is exact and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tokentrail.emulator import Clock, RunningEmulator, running_emulator

from .helpers import API_KEY


def pytest_configure(config: pytest.Config) -> None:
    # Also registered in pyproject.toml; repeated here so this directory runs alone.
    config.addinivalue_line("markers", "sdk: drives the emulator with the real anthropic SDK")

@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(clock=Clock(frozen=True)) as running:
        yield running


@pytest.fixture
def client(emu: RunningEmulator):
    anthropic = pytest.importorskip("anthropic")
    with anthropic.Anthropic(base_url=emu.base_url, api_key=API_KEY, max_retries=0) as c:
        yield c


@pytest.fixture
def async_client(emu: RunningEmulator):
    anthropic = pytest.importorskip("anthropic")
    return anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=API_KEY, max_retries=0)
