"""Errors raised by the pure contracts package: a message or a transition the hub must reject.

    ContractError (ValueError)   the input breaks a contract: reject, never retry
    └── IllegalTransition        the event is not allowed in the current lifecycle state

Every error carries a short machine code in `.reason` (for metrics and dead-letter headers) and a
human message in `str(error)` that names the field and what is wrong, never personal data.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

__all__ = ["ContractError", "IllegalTransition", "from_validation_error"]

_MAX_LISTED_ERRORS = 12


class ContractError(ValueError):
    """A message, identifier or event that breaks a contract; the hub rejects it without retry."""

    reason: str = "invalid_contract"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle with the reason, which `ValueError`'s default reduction would drop."""
        return (_rebuild, (type(self), self.message, self.reason))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r})"


class IllegalTransition(ContractError):
    """An event that the lifecycle state machine forbids in the current state."""

    reason = "illegal_transition"


def _rebuild(cls: type[ContractError], message: str, reason: str) -> ContractError:
    return cls(message, reason=reason)


def _location(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def from_validation_error(
    error: ValidationError, *, subject: str, reason: str = "invalid_payload"
) -> ContractError:
    """Turn a pydantic `ValidationError` into a `ContractError` listing field errors, no input."""
    items = error.errors(include_url=False, include_input=False, include_context=False)
    listed = [f"{_location(item['loc'])}: {item['msg']}" for item in items[:_MAX_LISTED_ERRORS]]
    if len(items) > _MAX_LISTED_ERRORS:
        listed.append(f"... and {len(items) - _MAX_LISTED_ERRORS} more")
    return ContractError(f"invalid {subject}: " + "; ".join(listed), reason=reason)
