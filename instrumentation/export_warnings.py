"""One clear warning when the collector cannot be reached, instead of a log line per retry.

The OTLP/HTTP exporter logs a warning for every retry of every batch and an error for
every batch it gives up on; an agent started before ``tokentrail serve`` (the most common
first-run mistake) prints a wall of connection errors. :class:`OneWarningExporter` wraps
the exporter that ``import tokentrail.auto`` sets up (and only that one): while one of
its exports runs, the exporter's own records are held back (a filter on the exporter's
logger that acts only on the exporting thread, during that export), and tokentrail logs
one warning that says where it sends, why it failed and what to do; when exports
succeed again, one line says so. Records the exporter logs at any other time, and every
other logger, are left alone: an exporter the application set up itself is not wrapped.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("tokentrail.instrumentation")

_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


class _DuringExport(logging.Filter):
    """Drops the exporter's records on the thread running a wrapped export, keeping the
    first one's message as the reason."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def begin(self) -> None:
        self._local.reasons = []

    def end(self) -> list[str]:
        reasons = getattr(self._local, "reasons", None) or []
        self._local.reasons = None
        return reasons

    def filter(self, record: logging.LogRecord) -> bool:
        reasons = getattr(self._local, "reasons", None)
        if reasons is None:
            return True  # not inside a wrapped export: the record is not ours to hold
        reasons.append(record.getMessage())
        return False


def short_reason(message: str) -> str:
    """``[Errno 111] Connection refused`` out of urllib3's nested message, else the
    message's start."""
    found = _ERRNO.findall(message)
    if found:
        return found[-1].strip()
    return message if len(message) <= 160 else message[:157] + "..."


class OneWarningExporter(SpanExporter):
    """A span exporter that delegates to ``exporter`` and reports its failures once."""

    def __init__(self, exporter: SpanExporter, endpoint: str) -> None:
        self._exporter = exporter
        self._endpoint = endpoint
        self._failing = False
        self._filter = _DuringExport()
        self._logger = logging.getLogger(type(exporter).__module__)
        self._logger.addFilter(self._filter)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._filter.begin()
        try:
            result = self._exporter.export(spans)
        finally:
            reasons = self._filter.end()
        if result is SpanExportResult.SUCCESS:
            if self._failing:
                self._failing = False
                log.warning("tokentrail: %s accepts spans again", self._endpoint)
        elif not self._failing:
            self._failing = True
            reason = short_reason(reasons[0]) if reasons else "the export failed"
            log.warning(
                "tokentrail: cannot send spans to %s (%s); they are dropped until it "
                "answers. Start `tokentrail serve` (or `tokentrail demo`), or set "
                "OTEL_EXPORTER_OTLP_ENDPOINT to your collector; `tokentrail doctor` checks "
                "the setup.", self._endpoint, reason)
        return result

    def shutdown(self) -> None:
        try:
            self._exporter.shutdown()
        finally:
            self._logger.removeFilter(self._filter)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)
