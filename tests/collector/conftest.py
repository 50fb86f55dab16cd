"""Collector fixtures."""

from __future__ import annotations

import pytest

from tokentrail.collector.encode import Encoder


@pytest.fixture
def encoder(store):
    """Encodes in threads of the test process (serve uses worker processes; the
    integration tests cover those)."""
    enc = Encoder.for_store(store, workers=0)
    yield enc
    enc.close()
