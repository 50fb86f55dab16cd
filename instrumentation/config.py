"""Settings of the instrumentation, read from the environment when ``instrument()`` runs.

Read once, not per call: a call must not pay for ``os.environ`` lookups, and the
contrib convention is that ``instrument()`` takes the environment as it is then.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DIAGNOSTICS_ENV = "TOKENTRAIL_CACHE_DIAGNOSTICS"
MAX_CONTENT_ENV = "TOKENTRAIL_MAX_CONTENT_BYTES"
WINDOW_ENV = "TOKENTRAIL_PREFIX_WINDOW"
DISABLED_ENV = "TOKENTRAIL_DISABLED"
OTEL_DISABLED_ENV = "OTEL_SDK_DISABLED"

TRUE = frozenset({"1", "true", "yes", "on"})


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE


def env_int(name: str, default: int, minimum: int = 1) -> int:
    try:
        return max(minimum, int(os.environ.get(name, "").strip()))
    except ValueError:
        return default


def disabled() -> bool:
    """``OTEL_SDK_DISABLED=true`` or ``TOKENTRAIL_DISABLED=1``: instrument nothing."""
    return env_flag(OTEL_DISABLED_ENV) or env_flag(DISABLED_ENV)


@dataclass(frozen=True)
class Settings:
    capture_content: bool = False
    """Semconv content attributes (gen_ai.input.messages, ...) with a size cap."""
    max_content_bytes: int = 64 * 1024
    """Cap per content attribute; longer JSON is cut and marked."""
    cache_diagnostics: bool = False
    """Add diagnostics.previous_message_id to requests that do not set it."""
    window: int = 20
    """How many trailing messages / blocks the hash arrays carry."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            capture_content=env_flag(CAPTURE_CONTENT_ENV),
            max_content_bytes=env_int(MAX_CONTENT_ENV, 64 * 1024),
            cache_diagnostics=env_flag(DIAGNOSTICS_ENV),
            window=env_int(WINDOW_ENV, 20),
        )
