"""The rows the hub keeps per release order, warrant and deadline, as frozen values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from hub.domain.acks import Closing
from hub.domain.audit import AuditEntry
from hub.domain.outgoing import Outgoing

__all__ = [
    "Changes",
    "DeadlineChange",
    "DeadlineRow",
    "Deferred",
    "OrderRow",
    "WarrantRow",
    "deadline_changes",
]


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
    # The warrants SETARIM's last certificate listed that are still in force (S000 art.4 §1).
    impediments: tuple[str, ...] = ()


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
    origin: str = "hub"  # "hub": the hub carried its issue; "bnmp": first seen in BNMP's reports


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


@dataclass(frozen=True)
class DeadlineChange:
    """What a batch does to one deadline it did not open: satisfy it, raise alerts, or both."""

    subject: str
    kind: str
    satisfied_at: datetime | None
    alerted: tuple[int, ...]


def deadline_changes(
    opened: Iterable[DeadlineRow],
    satisfied: Iterable[tuple[str, str, datetime]],
    alerted: Iterable[tuple[str, str, int]],
) -> tuple[list[tuple[DeadlineRow, DeadlineChange]], list[DeadlineChange]]:
    """A batch's deadline effects as one write per deadline: (rows to open, changes to the rest).

    The writes go out as one statement whose parts cannot see each other's rows, and PostgreSQL
    applies only one of two updates of a row in one statement. So each deadline gets one change:
    its first satisfaction (a later one would not move it) and every threshold alerted. A deadline
    the batch opens carries its change in its insert, in case the row is new; the same change is
    also an update, in case the row already exists (the insert then does nothing, as before: an
    open deadline keeps its start).
    """
    done: dict[tuple[str, str], datetime] = {}
    for subject, kind, at in satisfied:
        done.setdefault((subject, kind), at)
    raised: dict[tuple[str, str], set[int]] = {}
    for subject, kind, pct in alerted:
        raised.setdefault((subject, kind), set()).add(pct)

    def change(key: tuple[str, str]) -> DeadlineChange:
        return DeadlineChange(*key, done.get(key), tuple(sorted(raised.get(key, ()))))

    first: dict[tuple[str, str], DeadlineRow] = {}
    for row in opened:
        first.setdefault((row.subject, row.kind), row)
    inserts = [(row, change(key)) for key, row in first.items()]
    updates = [change(key) for key in sorted(done.keys() | raised.keys())]
    return inserts, updates


@dataclass
class Changes:
    """Everything one transaction writes, gathered from the decisions that succeeded, in order.

    Gathered in place (lists and dicts), not by adding `Outcome`s, which would copy everything
    gathered so far at every job: quadratic in the batch size. Later rows of an order or warrant
    win.
    """

    orders: dict[str, OrderRow] = field(default_factory=dict)
    warrants: dict[str, WarrantRow] = field(default_factory=dict)
    read_orders: set[str] = field(default_factory=set)  # keys the batch read: the rest are new
    read_warrants: set[str] = field(default_factory=set)
    open_deadlines: list[DeadlineRow] = field(default_factory=list)
    satisfied: list[tuple[str, str, datetime]] = field(default_factory=list)
    alerted: list[tuple[str, str, int]] = field(default_factory=list)
    sends: list[Outgoing] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    acks: list[tuple[str, UUID]] = field(default_factory=list)  # (queue, message id) delivered
    defers: list[Deferred] = field(default_factory=list)
    undefers: list[int] = field(default_factory=list)
    released: list[tuple[str, UUID]] = field(default_factory=list)  # inbox claims given back
    closes: list[Closing] = field(default_factory=list)  # destinations a unit's answer closes
