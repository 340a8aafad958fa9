"""What a decision produces and reads, pure: the `Outcome`, the `View` of rows, the `Directory`,
the `Decider` that pairs a payload type with its decision, and the helpers every decision shares
(routing a message out, audit entries, deadline changes)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts import Envelope, Source
from contracts.bnmp import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
)
from contracts.court import CONTINGENCY_OUTAGE
from contracts.deadlines import DeadlinePolicy, deadlines_started_by, satisfied_by
from contracts.lifecycle import (
    ReleaseOrderState,
    transition_release,
)
from contracts.people import Person
from hub.domain.audit import AuditEntry
from hub.domain.outgoing import Outgoing
from hub.domain.routing import route
from hub.domain.rows import DeadlineRow, OrderRow, WarrantRow

__all__ = [
    "HUB_SOURCE",
    "RELEASE_DOCS",
    "BnmpResult",
    "Decider",
    "Directory",
    "Outcome",
    "View",
    "deadline_changes",
    "forward_id",
    "hub_event",
    "order_row",
    "registered_id",
    "sends",
    "step_order",
    "transition_audit",
]

HUB_SOURCE: Final = Source(connector="hub", system="hub")

P = TypeVar("P")
# BNMP's answer to a registration the hub asked for, accepted or refused.
BnmpResult = BnmpRegistrationCompleted | BnmpRegistrationRejected


@dataclass(frozen=True)
class Directory:
    """What the decisions need to know about the world: connected units and deadline spans."""

    units: frozenset[str]
    deadlines: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    competence: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # authority
    person_key_secret: bytes = b"hub-demo-secret"  # the settings' in a running hub

    def person_key(self, person: Person) -> str:
        """A keyed hash of the person's CPF (else RJI): joined on, never the CPF."""
        ident = f"cpf:{person.cpf}" if person.cpf else f"rji:{person.rji}"
        return hmac.new(self.person_key_secret, ident.encode(), hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True)
class Outcome:
    """Everything one or more decisions change: rows, deadlines, messages to send, audit entries."""

    orders: Mapping[str, OrderRow] = field(default_factory=dict)
    warrants: Mapping[str, WarrantRow] = field(default_factory=dict)
    open_deadlines: tuple[DeadlineRow, ...] = ()
    satisfied: tuple[tuple[str, str, datetime], ...] = ()
    alerted: tuple[tuple[str, str, int], ...] = ()
    sends: tuple[Outgoing, ...] = ()
    audit: tuple[AuditEntry, ...] = ()

    def __add__(self, other: Outcome) -> Outcome:
        """Both outcomes, the later one's rows winning."""
        return Outcome(
            orders={**self.orders, **other.orders},
            warrants={**self.warrants, **other.warrants},
            open_deadlines=self.open_deadlines + other.open_deadlines,
            satisfied=self.satisfied + other.satisfied,
            alerted=self.alerted + other.alerted,
            sends=self.sends + other.sends,
            audit=self.audit + other.audit,
        )

    def acted_by(self, actor: str) -> Outcome:
        """This outcome with its state transitions audited in `actor`'s name: the party whose
        message caused them. What the hub does in consequence (sends, withholds) stays the hub's."""
        if actor == "hub":
            return self
        audit = tuple(
            dataclasses.replace(e, actor=actor) if e.action.endswith(".transition") else e
            for e in self.audit
        )
        return dataclasses.replace(self, audit=audit)


@dataclass(frozen=True)
class View:
    """The rows a batch reads, with the effects of the decisions made so far laid over them."""

    orders: Mapping[str, OrderRow] = field(default_factory=dict)
    warrants: Mapping[str, WarrantRow] = field(default_factory=dict)
    bnmp_outages: tuple[tuple[datetime, datetime | None], ...] = ()

    def merged(self, outcome: Outcome) -> View:
        """This view with `outcome`'s rows applied."""
        return View(
            {**self.orders, **outcome.orders},
            {**self.warrants, **outcome.warrants},
            self.bnmp_outages,
        )

    def bnmp_offline_at(self, at: datetime) -> bool:
        """Whether BNMP had been down for more than 60 minutes at `at` (S003 art.12 §2)."""
        return any(
            start <= at - CONTINGENCY_OUTAGE and (end is None or end >= at)
            for start, end in self.bnmp_outages
        )


RELEASE_DOCS: Final = (
    BnmpDocumentType.RELEASE_ORDER,
    BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE,
)


@dataclass(frozen=True)
class Decider(Generic[P]):
    """The decision on one payload type. mypy checks that `decide` takes the type `payload` names
    when a `Decider` is built without a type annotation (`Decider[Any]` would accept any pair)."""

    payload: type[P]
    decide: Callable[[Envelope, P, View, datetime, Directory], Outcome]

    def __call__(self, env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
        """Decide on `env`, whose payload is of type `payload` (`TypeError` if it is not)."""
        p = env.payload
        if not isinstance(p, self.payload):
            raise TypeError(f"{self.payload.__name__} expected, not {type(p).__name__}")
        return self.decide(env, p, view, now, d)


def registered_id(p: BnmpResult) -> str | None:
    """The id BNMP gave the document it registered; None when it refused it."""
    return p.bnmp_id if isinstance(p, BnmpRegistrationCompleted) else None


def forward_id(env: Envelope) -> UUID:
    """A stable id for `env` as the hub forwards it: replays dedup downstream. Every destination
    gets the same copy (one publish); each consumer dedups on (its queue, this id)."""
    return uuid5(NAMESPACE_URL, f"hub:{env.message_id}:forward")


def sends(
    env: Envelope,
    unit: str | None,
    d: Directory,
    now: datetime,
    court: str | None = None,
    *,
    to_court: bool = True,
) -> Outcome:
    """Route `env`: one copy, with a stable id, to every cleared destination (the first queue as
    routing key, the others in `cc`), and the court it concerns in `x-hub-court`; `to_court`
    False leaves the courts out (`route`)."""
    headers = {"x-hub-kind": env.kind, **({"x-hub-court": court} if court else {})}
    audit: list[AuditEntry] = []
    queues: list[str] = []
    for r in route(env, unit, d.units, court=to_court):
        if r.withheld:
            detail = {"kind": env.kind, "to": r.connector, "why": r.withheld}
            audit.append(AuditEntry(now, "hub", "message.withheld", env.correlation_id, detail))
        else:
            queues.append(r.queue)
    if not queues:
        return Outcome(audit=tuple(audit))
    out = env.model_copy(update={"message_id": forward_id(env), "causation_id": env.message_id})
    message = Outgoing(
        exchange="",
        routing_key=queues[0],
        body=out.to_bytes(),
        message_id=str(out.message_id),
        correlation_id=env.correlation_id,
        headers=headers,
        kind=env.kind,
        cc=tuple(queues[1:]),
    )
    detail = {"kind": env.kind, "to": ", ".join(queues), "message_id": str(out.message_id)}
    audit.append(AuditEntry(now, "hub", "message.sent", env.correlation_id, detail))
    return Outcome(sends=(message,), audit=tuple(audit))


def hub_event(cause: Envelope, payload: Any, now: datetime) -> Envelope:
    """An event the hub raises itself, caused by `cause`, with a stable id."""
    return Envelope.new(
        payload,
        source=HUB_SOURCE,
        correlation_id=cause.correlation_id,
        causation_id=cause.message_id,
        secrecy=cause.secrecy,
        occurred_at=now,
        message_id=uuid5(NAMESPACE_URL, f"hub:{cause.message_id}:{payload.kind}"),
    )


def transition_audit(
    subject: str, what: str, old: str | None, new: str, env: Envelope, now: datetime
) -> AuditEntry:
    """The audit entry of a state transition."""
    return AuditEntry(
        now,
        "hub",
        f"{what}.transition",
        subject,
        {"from": old, "to": new, "kind": env.kind, "message_id": str(env.message_id)},
    )


def deadline_changes(subject: str, env: Envelope, now: datetime, d: Directory) -> Outcome:
    """The deadlines `env` starts (from now) and those it satisfies."""
    started = tuple(
        DeadlineRow(subject, dl.kind.value, dl.started_at, dl.due_at)
        for dl in deadlines_started_by(env.payload, now, d.deadlines)
    )
    done = tuple((subject, k.value, now) for k in sorted(satisfied_by(env.payload)))
    return Outcome(open_deadlines=started, satisfied=done)


def order_row(view: View, number: str, env: Envelope) -> OrderRow:
    """The release order `number`, or the lifecycle's own "unknown order" error."""
    row = view.orders.get(number)
    if row is None:
        transition_release(None, env.payload)  # raises the lifecycle's own "unknown order" error
        raise AssertionError("unreachable")  # pragma: no cover
    return row


def step_order(
    row: OrderRow, env: Envelope, now: datetime, d: Directory, **changes: Any
) -> Outcome:
    """Move an order through the lifecycle, update its row, track deadlines, route the message."""
    new = transition_release(ReleaseOrderState(row.state), env.payload)
    updated = dataclasses.replace(row, state=new.value, version=row.version + 1, **changes)
    audit = (transition_audit(row.order_number, "order", row.state, new.value, env, now),)
    return (
        Outcome(orders={row.order_number: updated}, audit=audit)
        + deadline_changes(row.order_number, env, now, d)
        + sends(env, row.custodial_unit, d, now, row.issuing_court)
    )
