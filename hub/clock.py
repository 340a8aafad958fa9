"""The hub's clock: a function that returns the time, always timezone-aware.

Injected everywhere time is read, so tests and the demo's compressed day can move it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)
