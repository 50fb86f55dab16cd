"""A controllable clock, so TTL behaviour can be tested without sleeping.

The emulator never reads ``time.time()`` directly: cache TTLs, timestamps of batches
and the request log all come from one ``Clock``. By default it follows the wall clock
plus an offset that ``advance`` grows; ``frozen=True`` stops it (time then moves only
through ``advance``/``set``), which makes cache expiry exact to the second in tests.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Seconds since the epoch, as a float; thread-safe."""

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen_at: float | None = None
        self._offset = 0.0
        if start is not None:
            self._offset = start - time.time()
        if frozen:
            self._frozen_at = time.time() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> float:
        """The emulator's current time."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward (a TTL gap without waiting); returns the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
                return self._frozen_at
            self._offset += seconds
            return time.time() + self._offset

    def set(self, timestamp: float) -> None:
        """Jump to an absolute time (forward or backward)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = timestamp
            else:
                self._offset = timestamp - time.time()

    def freeze(self) -> None:
        """Stop the clock at the current time."""
        now = self.now()
        with self._lock:
            self._frozen_at = now

    def unfreeze(self) -> None:
        """Let the clock follow wall time again, from where it stands."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None
