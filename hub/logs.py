"""Structured logs: one JSON (or console) line per event on stderr, never with personal data.

Log calls pass identifiers only (message id, correlation id, queue, kind, reason). As a second
line of defence, `scrub` drops any field named like a personal-data field of the contracts (CPF,
names, mother's name, birth date, addresses, phones). Libraries that would log message bodies at
DEBUG (aiormq dumps every AMQP frame) are kept at INFO whatever the level.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from contracts.pii import PII_FIELDS

__all__ = ["BODY_LOGGERS", "configure_logging", "scrub"]

# stdlib loggers that write whole message bodies (personal data) at DEBUG.
BODY_LOGGERS = ("aiormq",)


def scrub(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Remove personal-data fields from a log event (structlog processor)."""
    for key in PII_FIELDS & event.keys():
        event[key] = "[removed]"
    return event


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    """Send the hub's logs to stderr at `level`, as JSON lines or for a console."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
