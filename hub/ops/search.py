"""Dead-letter filters, as the API, the dashboard and the CLI give them (pure).

The same filter selects what the dashboard lists, what a group is, and what a bulk replay or bulk
archive covers, so "what you see is what you replay". `hub.store.ops_letters.where` turns it into
SQL; free text matches identifiers and the error message only, never the body: searching bodies
would let any viewer probe for a CPF.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DeadLetterFilter", "selection_key"]

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


def selection_key(f: DeadLetterFilter) -> str:
    """A filter's identity for "one bulk replay at a time per filter": the same filter written
    another way (ids in another order, a field left at its default) has the same key."""
    doc = f.model_dump(mode="json", exclude_defaults=True)
    if "ids" in doc:
        doc["ids"] = sorted(set(doc["ids"]))
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
