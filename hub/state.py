"""The rows the hub keeps per release order, warrant and deadline, as frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

__all__ = ["DeadlineRow", "Deferred", "OrderRow", "WarrantRow"]


@dataclass(frozen=True)
class OrderRow:
    """A release order as the hub tracks it (the `release_orders` table)."""

    order_number: str
    process_number: str
    state: str
    custodial_unit: str | None
    issuing_court: str
    secrecy: str
    contingency: bool
    issued_at: datetime
    received_at: datetime | None
    validated_at: datetime | None
    complied_at: datetime | None
    released: bool | None
    bnmp_id: str | None
    document: dict[str, Any]
    version: int = 1


@dataclass(frozen=True)
class WarrantRow:
    """A warrant as the hub tracks it (the `warrants` table, also the open-warrants projection)."""

    warrant_number: str
    process_number: str
    person_key: str
    state: str
    species: str | None
    valid_until: date | None
    issuing_court: str | None
    secrecy: str
    bnmp_id: str | None
    version: int = 1


@dataclass(frozen=True)
class DeadlineRow:
    """A business acknowledgement the hub waits for, and by when."""

    subject: str
    kind: str
    started_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class Deferred:
    """A delivery kept for later while its external system is down, as it arrived."""

    connector: str
    queue: str
    message_id: UUID
    body: bytes
    headers: Mapping[str, Any]
    sort_at: datetime
