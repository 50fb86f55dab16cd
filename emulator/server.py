"""Running the emulator: ``serve`` (blocking, for the CLI) and ``running_emulator``
(a background thread on a free localhost port, for tests and tools)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .clock import Clock
from .emulator import Emulator
from .scenario import Scenario


def _emulator(scenario: Scenario | str | Path | None, **options: Any) -> Emulator:
    if isinstance(scenario, (str, Path)):
        scenario = Scenario.load(scenario)
    return Emulator(scenario=scenario, **options)


def serve(host: str = "127.0.0.1", port: int = 8099, *,
          scenario: Scenario | str | Path | None = None,
          emulator: Emulator | None = None,
          log_level: str = "info", **options: Any) -> None:
    """Serve the emulator until interrupted (``tokentrail emulator``).

    ``scenario`` is a ``Scenario`` or the path of a scenario JSON file; other keyword
    options go to ``Emulator`` (e.g. ``default_min_cacheable_tokens``,
    ``batch_delay``, ``require_api_key``).
    """
    emu = emulator or _emulator(scenario, **options)
    uvicorn.run(create_app(emu), host=host, port=port, log_level=log_level,
                access_log=log_level == "debug")


@dataclass
class RunningEmulator:
    """A live emulator: where it listens and its state (clock, cache, requests...)."""

    emulator: Emulator
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """Pass as ``anthropic.Anthropic(base_url=...)`` or ``ANTHROPIC_BASE_URL``."""
        return f"http://{self.host}:{self.port}"

    @property
    def clock(self) -> Clock:
        return self.emulator.clock

    def __getattr__(self, name: str) -> Any:
        # Everything else (cache, faults, scenario, calls, requests, reset...) is the
        # emulator's own.
        return getattr(self.emulator, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # ``emu.scenario = Scenario(...)`` must reach the live emulator.
        if name in ("emulator", "host", "port"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.emulator, name, value)


@contextlib.contextmanager
def running_emulator(emulator: Emulator | None = None, *, host: str = "127.0.0.1",
                     port: int = 0, log_level: str = "warning",
                     **options: Any) -> Iterator[RunningEmulator]:
    """Run an emulator in a background thread; port 0 picks a free port.

    ``with running_emulator(clock=Clock(frozen=True)) as emu: ... emu.base_url``.
    Keyword options build the ``Emulator`` when none is given.
    """
    emu = emulator or Emulator(**options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(create_app(emu), log_level=log_level, access_log=False,
                            lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="tokentrail-emulator", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator server failed to start")
            thread.join(0.01)
        yield RunningEmulator(emu, host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
