"""Dead-letter filters, and the SQL `WHERE` clause each one means (pure).

The same filter selects what the dashboard lists, what a group is, and what a bulk replay or bulk
archive covers, so "what you see is what you replay". Free text matches identifiers and the error
message only, never the body: searching bodies would let any viewer probe for a CPF.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DeadLetterFilter", "where"]

Short = Annotated[str, Field(min_length=1, max_length=200)]


class DeadLetterFilter(BaseModel):
    """Which dead letters: every field narrows the selection; none set means all parked ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["parked", "replayed", "archived", "any"] = "parked"
    kind: Short | None = None
    connector: Short | None = None
    queue: Short | None = None
    error: Short | None = Field(default=None, description="error type or reason code")
    process: Short | None = Field(default=None, description="CNJ process number")
    subject: Short | None = Field(default=None, description="order or warrant number")
    since: datetime | None = None
    until: datetime | None = None
    search: Short | None = Field(default=None, description="message id, order number, error text")
    ids: tuple[int, ...] = Field(default=(), max_length=10_000)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A date typed by a person has no zone: read it as UTC rather than refuse it.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def narrowed(self) -> bool:
        """Whether anything but the status narrows the selection (bulk actions require it)."""
        return any(v not in (None, ()) for k, v in self.model_dump().items() if k != "status")


def _like(text: str) -> str:
    """`text` with LIKE's wildcards escaped (the default escape character is a backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_CLAUSES: Final[tuple[tuple[str, str, Callable[[Any], Any] | None], ...]] = (
    ("kind", "kind = $?", None),
    ("connector", "connector = $?", None),
    ("queue", "queue = $?", None),
    ("error", "(error_type = $? OR reason = $? OR reason LIKE '%:' || $?)", None),
    ("process", "correlation_id LIKE $? || '%'", _like),
    ("subject", "correlation_id = $?", None),
    ("since", "last_failed_at >= $?", None),
    ("until", "first_failed_at < $?", None),
    # a uuid has no wildcard, so the escaped text matches message ids too
    (
        "search",
        "(message_id::text = lower($?) OR correlation_id ILIKE '%' || $? || '%'"
        " OR error_message ILIKE '%' || $? || '%')",
        _like,
    ),
    ("ids", "id = ANY($?::bigint[])", list),
)


def where(f: DeadLetterFilter) -> tuple[str, list[Any]]:
    """The `WHERE` clause (without the keyword) and its arguments, numbered from $1."""
    pairs: list[tuple[str, Any]] = [] if f.status == "any" else [("status = $?", f.status)]
    for name, sql, convert in _CLAUSES:
        value = getattr(f, name)
        if value not in (None, ()):
            pairs.append((sql, convert(value) if convert else value))
    clauses = [sql.replace("$?", f"${n}") for n, (sql, _) in enumerate(pairs, 1)]
    return " AND ".join(clauses) or "TRUE", [value for _, value in pairs]
