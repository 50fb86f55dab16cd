"""Shared fixtures: a fresh embedded store per test, OTLP request builders.

chDB allows one data path per process at a time (docs/facts.md §7), so every store a
test opens is closed by the fixture before the next test opens its own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokentrail.store import Store

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CLAUDE_CODE_FIXTURES = FIXTURES / "claude-code-2.1.328"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"chdb://{tmp_path / 'data'}")
    try:
        yield s
    finally:
        s.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
