"""An Anthropic Messages API emulator with a faithful prompt-cache model.

Offline, free, deterministic Claude calls for tests, demos and benchmarks: the real
``anthropic`` SDK and Claude Code talk to it over HTTP (``base_url`` /
``ANTHROPIC_BASE_URL``), and its usage numbers follow the prompt-cache rules of
docs/facts.md §1 (see ``cache.py``) with a documented token estimate (``tokens.py``).

    from tokentrail.emulator import running_emulator, Clock
    with running_emulator(clock=Clock(frozen=True)) as emu:
        client = anthropic.Anthropic(base_url=emu.base_url, api_key="sk-ant-emulator")
        ...
        emu.clock.advance(301)          # a TTL gap, without sleeping
        emu.calls()[-1].cache           # what the cache decided for the last call

``serve(host, port)`` runs it in the foreground (the ``tokentrail emulator`` command);
``create_app(emulator)`` gives the ASGI app.
"""

from .app import create_app
from .cache import LOOKBACK_BLOCKS, MAX_BREAKPOINTS, MIN_CACHEABLE_TOKENS, PromptCache
from .clock import Clock
from .emulator import Emulator, RequestRecord
from .errors import APIError
from .faults import FaultInjector
from .scenario import Reply, Rule, Scenario
from .server import RunningEmulator, running_emulator, serve

__all__ = [
    "LOOKBACK_BLOCKS",
    "MAX_BREAKPOINTS",
    "MIN_CACHEABLE_TOKENS",
    "APIError",
    "Clock",
    "Emulator",
    "FaultInjector",
    "PromptCache",
    "Reply",
    "RequestRecord",
    "Rule",
    "RunningEmulator",
    "Scenario",
    "create_app",
    "running_emulator",
    "serve",
]
