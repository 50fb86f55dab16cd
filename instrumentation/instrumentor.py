"""``AnthropicInstrumentor``: the opentelemetry-instrumentation entry point of tokentrail.

Usable three ways: ``import tokentrail.auto``; ``opentelemetry-instrument python
agent.py`` (entry point ``opentelemetry_instrumentor: tokentrail_anthropic``); or by
hand, ``AnthropicInstrumentor().instrument(tracer_provider=...)``. ``instrument()`` and
``uninstrument()`` are idempotent (``BaseInstrumentor`` keeps that state).

The SDK is the application's dependency, not ours: it is imported only here, when
instrumenting.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from wrapt import FunctionWrapper, wrap_function_wrapper

from tokentrail import __version__
from tokentrail.semconv import TOKENTRAIL_SCOPE

from .config import Settings, disabled
from .hooks import Hooks
from .tracker import Tracker

log = logging.getLogger("tokentrail.instrumentation")

_SDK_MODULE = "anthropic._base_client"


class AnthropicInstrumentor(BaseInstrumentor):
    """Instruments every anthropic client class of the installed SDK (0.x to 2.x).

    Keyword arguments of ``instrument()``: ``tracer_provider`` (for the spans tokentrail
    makes itself; the SDK's native spans go where the SDK sends them), and overrides of
    the environment: ``capture_content``, ``max_content_bytes``, ``cache_diagnostics``,
    ``window``.
    """

    _hooks: Hooks | None = None
    # A dict, not a class attribute holding the function: that would bind it as a method.
    _saved: dict[str, Any] = {}

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 0.18",)

    @property
    def tracker(self) -> Tracker | None:
        """The live state (threads, runs), for tests and diagnostics."""
        return self._hooks.tracker if self._hooks is not None else None

    def _instrument(self, **kwargs: Any) -> None:
        if disabled():
            log.debug("tokentrail: disabled by OTEL_SDK_DISABLED / TOKENTRAIL_DISABLED")
            return
        import importlib

        base = importlib.import_module(_SDK_MODULE)
        env = Settings.from_env()
        settings = Settings(
            capture_content=kwargs.get("capture_content", env.capture_content),
            max_content_bytes=kwargs.get("max_content_bytes", env.max_content_bytes),
            cache_diagnostics=kwargs.get("cache_diagnostics", env.cache_diagnostics),
            window=kwargs.get("window", env.window),
        )
        tracer = trace.get_tracer(TOKENTRAIL_SCOPE, __version__,
                                  tracer_provider=kwargs.get("tracer_provider"))
        hooks = Hooks(Tracker(settings), tracer)
        wrap_function_wrapper(base, "SyncAPIClient.request", hooks.sync_request)
        wrap_function_wrapper(base, "AsyncAPIClient.request", hooks.async_request)
        finish = getattr(base, "finish_api_call_span", None)
        if finish is not None:  # anthropic 2.x native tracing
            self._saved = {"finish": finish}
            base.finish_api_call_span = FunctionWrapper(finish, hooks.finish_hook)
        self._hooks = hooks

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._hooks is None:
            return
        import importlib

        base = importlib.import_module(_SDK_MODULE)
        unwrap(base.SyncAPIClient, "request")
        unwrap(base.AsyncAPIClient, "request")
        finish = self._saved.pop("finish", None)
        if finish is not None:
            base.finish_api_call_span = finish
        self._hooks = None
