"""The hub's decisions, pure: given a message and the rows it touches, what changes, what is sent.

`decide(env, view, now, directory)` never does I/O. The engine loads the rows named by
`keys_for(env)`, calls it, and writes the `Outcome`. Each payload type has one small decision
function in `_DECIDERS`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts import Envelope, IllegalTransition, Source
from contracts.bnmp import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    WarrantComplied,
    WarrantExpired,
)
from contracts.court import CONTINGENCY_OUTAGE, ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.deadlines import DeadlinePolicy, deadlines_started_by, satisfied_by
from contracts.errors import ContractError
from contracts.hub_events import DeadlineAlert, ImpedimentReferred
from contracts.lifecycle import (
    ReleaseOrderState,
    WarrantState,
    check_release_basis,
    release_warrant,
    transition_release,
    transition_warrant,
)
from contracts.people import Person
from contracts.setarim import ValidationCompleted
from contracts.vocabulary import DeadlineKind
from hub.audit import AuditEntry
from hub.errors import OutOfOrder
from hub.outgoing import Outgoing
from hub.routing import route
from hub.state import DeadlineRow, OrderRow, WarrantRow

__all__ = ["HUB_SOURCE", "Directory", "Outcome", "View", "decide", "keys_for"]

HUB_SOURCE: Final = Source(connector="hub", system="hub")


@dataclass(frozen=True)
class Directory:
    """What the decisions need to know about the world: connected units and deadline spans."""

    units: frozenset[str]
    deadlines: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    person_key_secret: bytes = b"hub-demo-secret"

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


_RELEASE_DOCS: Final = (
    BnmpDocumentType.RELEASE_ORDER,
    BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE,
)


def keys_for(env: Envelope) -> tuple[set[str], set[str]]:
    """The order numbers and warrant numbers a decision on `env` reads."""
    p = env.payload
    if isinstance(p, ReleaseOrderIssued):
        return {p.order_number}, set(p.covered_warrants)
    if isinstance(p, WarrantIssued | WarrantRevoked | WarrantComplied | WarrantExpired):
        return set(), {p.warrant_number}
    if isinstance(p, BnmpRegistrationCompleted | BnmpRegistrationRejected):
        return (
            ({p.document_number}, set())
            if p.document_type in _RELEASE_DOCS
            else (set(), {env.correlation_id})
        )
    if isinstance(p, DeadlineAlert):
        return {p.subject_id}, set()
    return {env.correlation_id}, set()


# ---------------------------------------------------------------- helpers shared by the deciders


def _forward_id(env: Envelope, queue: str) -> UUID:
    """A stable id per (message, destination): replays dedup downstream."""
    return uuid5(NAMESPACE_URL, f"hub:{env.message_id}:{queue}")


def _sends(
    env: Envelope, unit: str | None, d: Directory, now: datetime, court: str | None = None
) -> Outcome:
    """Route `env`; each copy gets a stable id, and the court it concerns in `x-hub-court`."""
    headers = {"x-hub-kind": env.kind, **({"x-hub-court": court} if court else {})}
    sends: list[Outgoing] = []
    audit: list[AuditEntry] = []
    for r in route(env, unit, d.units):
        if r.withheld:
            audit.append(
                AuditEntry(
                    now,
                    "hub",
                    "message.withheld",
                    env.correlation_id,
                    {"kind": env.kind, "to": r.connector, "why": r.withheld},
                )
            )
            continue
        out = env.model_copy(
            update={"message_id": _forward_id(env, r.queue), "causation_id": env.message_id}
        )
        sends.append(
            Outgoing(
                "",
                r.queue,
                out.to_bytes(),
                str(out.message_id),
                env.correlation_id,
                headers,
                env.kind,
            )
        )
        audit.append(
            AuditEntry(
                now,
                "hub",
                "message.sent",
                env.correlation_id,
                {"kind": env.kind, "to": r.queue, "message_id": str(out.message_id)},
            )
        )
    return Outcome(sends=tuple(sends), audit=tuple(audit))


def _hub_event(cause: Envelope, payload: Any, now: datetime) -> Envelope:
    return Envelope.new(
        payload,
        source=HUB_SOURCE,
        correlation_id=cause.correlation_id,
        causation_id=cause.message_id,
        secrecy=cause.secrecy,
        occurred_at=now,
        message_id=uuid5(NAMESPACE_URL, f"hub:{cause.message_id}:{payload.kind}"),
    )


def _transition_audit(
    subject: str, what: str, old: str | None, new: str, env: Envelope, now: datetime
) -> AuditEntry:
    return AuditEntry(
        now,
        "hub",
        f"{what}.transition",
        subject,
        {"from": old, "to": new, "kind": env.kind, "message_id": str(env.message_id)},
    )


def _deadlines(subject: str, env: Envelope, now: datetime, d: Directory) -> Outcome:
    started = tuple(
        DeadlineRow(subject, dl.kind.value, dl.started_at, dl.due_at)
        for dl in deadlines_started_by(env.payload, now, d.deadlines)
    )
    done = tuple((subject, k.value, now) for k in sorted(satisfied_by(env.payload)))
    return Outcome(open_deadlines=started, satisfied=done)


def _order(view: View, number: str, env: Envelope) -> OrderRow:
    row = view.orders.get(number)
    if row is None:
        transition_release(None, env.payload)  # raises the lifecycle's own "unknown order" error
        raise AssertionError("unreachable")  # pragma: no cover
    return row


def _step_order(
    row: OrderRow, env: Envelope, now: datetime, d: Directory, **changes: Any
) -> Outcome:
    """Move an order through the lifecycle, update its row, track deadlines, route the message."""
    new = transition_release(ReleaseOrderState(row.state), env.payload)
    updated = dataclasses.replace(row, state=new.value, version=row.version + 1, **changes)
    audit = (_transition_audit(row.order_number, "order", row.state, new.value, env, now),)
    return (
        Outcome(orders={row.order_number: updated}, audit=audit)
        + _deadlines(row.order_number, env, now, d)
        + _sends(env, row.custodial_unit, d, now, row.issuing_court)
    )


# ---------------------------------------------------------------- one decider per payload type


def _release_order(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ReleaseOrderIssued)
    existing = view.orders.get(p.order_number)
    document = p.model_dump(mode="json")
    if existing is not None:
        if existing.document == document:
            raise IllegalTransition(
                f"release order {p.order_number} was already received", reason="duplicate"
            )
        raise ContractError(
            f"release order {p.order_number} was already received with other content: a"
            " correction needs a new document",
            reason="conflicting_duplicate",
        )
    state = transition_release(None, p)
    offline = view.bnmp_offline_at(p.issued_at)
    if p.contingency and not offline:
        raise ContractError(
            f"release order {p.order_number} claims contingency, but the hub recorded no BNMP"
            " outage of more than 60 minutes at its issue (domain 7.13)",
            reason="contingency_without_outage",
        )
    known = {
        w: WarrantState(view.warrants[w].state) for w in p.covered_warrants if w in view.warrants
    }
    check_release_basis(p, known)
    released = {
        w: dataclasses.replace(
            view.warrants[w], state=release_warrant(s).value, version=view.warrants[w].version + 1
        )
        for w, s in known.items()
    }
    row = OrderRow(
        order_number=p.order_number,
        process_number=p.process_number,
        state=state.value,
        custodial_unit=p.custodial_unit,
        issuing_court=p.issuing_court,
        secrecy=env.secrecy.value,
        contingency=p.contingency or offline,
        issued_at=p.issued_at,
        received_at=None,
        validated_at=None,
        complied_at=None,
        released=None,
        bnmp_id=None,
        document=document,
    )
    audit = (
        _transition_audit(p.order_number, "order", None, state.value, env, now),
        *(
            _transition_audit(w, "warrant", known[w].value, r.state, env, now)
            for w, r in released.items()
        ),
    )
    bnmp = DeadlineRow(
        p.order_number,
        DeadlineKind.BNMP_REGISTRATION.value,
        now,
        now + d.deadlines.bnmp_registration,
    )
    return (
        Outcome(
            orders={p.order_number: row}, warrants=released, audit=audit, open_deadlines=(bnmp,)
        )
        + _deadlines(p.order_number, env, now, d)
        + _sends(env, p.custodial_unit, d, now, p.issuing_court)
    )


def _validation(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ValidationCompleted)
    row = _order(view, p.order_number, env)
    out = _step_order(row, env, now, d, validated_at=p.validated_at)
    if p.cleared:
        return out
    due = now + d.deadlines.impediment_regularisation
    referral = ImpedimentReferred(
        order_number=p.order_number, impediments=p.impediments, referred_at=now, due_at=due
    )
    ref_env = _hub_event(env, referral, now)
    return out + _step_order(out.orders[p.order_number], ref_env, now, d)


def _receipt(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ReceiptAcknowledged)
    _check_unit(_order(view, p.order_number, env), p.unit)
    return _step_order(_order(view, p.order_number, env), env, now, d, received_at=p.received_at)


def _compliance(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ComplianceCertified)
    row = _order(view, p.order_number, env)
    _check_unit(row, p.unit)
    return _step_order(row, env, now, d, complied_at=p.certified_at, released=p.released)


def _check_unit(row: OrderRow, unit: str) -> None:
    if row.custodial_unit is not None and unit != row.custodial_unit:
        raise ContractError(
            f"unit {unit} answered for order {row.order_number}, which was sent to "
            f"{row.custodial_unit}",
            reason="wrong_unit",
        )


def _bnmp_result(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, BnmpRegistrationCompleted | BnmpRegistrationRejected)
    bnmp_id = p.bnmp_id if isinstance(p, BnmpRegistrationCompleted) else None
    if p.document_type in _RELEASE_DOCS:
        row = _order(view, p.document_number, env)
        changes = {"bnmp_id": bnmp_id or row.bnmp_id}
        if p.document_type is BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE:
            changes = {}
        return _step_order(row, env, now, d, **changes)
    return _step_warrant(view, env.correlation_id, env, now, d, bnmp_id=bnmp_id)


def _step_warrant(
    view: View, number: str, env: Envelope, now: datetime, d: Directory, bnmp_id: str | None = None
) -> Outcome:
    row = view.warrants.get(number)
    new = transition_warrant(WarrantState(row.state) if row else None, env.payload)
    assert row is not None  # transition_warrant raised for an unknown warrant
    updated = dataclasses.replace(
        row, state=new.value, version=row.version + 1, bnmp_id=bnmp_id or row.bnmp_id
    )
    done = tuple((number, k.value, now) for k in sorted(satisfied_by(env.payload)))
    return Outcome(
        warrants={number: updated},
        satisfied=done,
        audit=(_transition_audit(number, "warrant", row.state, new.value, env, now),),
    ) + _sends(env, None, d, now, row.issuing_court)


def _warrant_issued(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, WarrantIssued)
    existing = view.warrants.get(p.warrant_number)
    state = transition_warrant(WarrantState(existing.state) if existing else None, p)
    row = WarrantRow(
        warrant_number=p.warrant_number,
        process_number=p.process_number,
        person_key=d.person_key(p.person),
        state=state.value,
        species=p.species.value,
        valid_until=p.valid_until,
        issuing_court=p.issuing_court,
        secrecy=env.secrecy.value,
        bnmp_id=None,
    )
    bnmp = DeadlineRow(
        p.warrant_number,
        DeadlineKind.BNMP_REGISTRATION.value,
        now,
        now + d.deadlines.bnmp_registration,
    )
    return Outcome(
        warrants={p.warrant_number: row},
        open_deadlines=(bnmp,),
        audit=(_transition_audit(p.warrant_number, "warrant", None, state.value, env, now),),
    ) + _sends(env, None, d, now, p.issuing_court)


def _warrant_event(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, WarrantRevoked | WarrantComplied | WarrantExpired)
    return _step_warrant(view, p.warrant_number, env, now, d)


def _alert(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, DeadlineAlert)
    row = view.orders.get(p.subject_id)
    unit = row.custodial_unit if row else None
    mark = ((p.subject_id, p.deadline.value, p.threshold_pct),)
    audit = (
        AuditEntry(
            now,
            "hub",
            "deadline.alert",
            p.subject_id,
            {
                "deadline": p.deadline.value,
                "threshold": p.threshold_pct,
                "due_at": p.due_at.isoformat(),
            },
        ),
    )
    court = row.issuing_court if row else None
    return Outcome(alerted=mark, audit=audit) + _sends(env, unit, d, now, court)


_DECIDERS: Final[dict[type, Callable[[Envelope, View, datetime, Directory], Outcome]]] = {
    ReleaseOrderIssued: _release_order,
    ValidationCompleted: _validation,
    ReceiptAcknowledged: _receipt,
    ComplianceCertified: _compliance,
    BnmpRegistrationCompleted: _bnmp_result,
    BnmpRegistrationRejected: _bnmp_result,
    WarrantIssued: _warrant_issued,
    WarrantRevoked: _warrant_event,
    WarrantComplied: _warrant_event,
    WarrantExpired: _warrant_event,
    DeadlineAlert: _alert,
}


def decide(env: Envelope, view: View, now: datetime, directory: Directory) -> Outcome:
    """What `env` changes, given `view`; raises `ContractError`/`HubError` when it cannot apply."""
    decider = _DECIDERS.get(type(env.payload))
    if decider is None:
        raise ContractError(
            f"{env.kind} is not accepted from outside the hub", reason="hub_only_kind"
        )
    try:
        return decider(env, view, now, directory)
    except IllegalTransition as e:
        if e.reason == "not_yet":
            raise OutOfOrder(str(e)) from e
        if e.reason == "duplicate":
            return Outcome(
                audit=(
                    AuditEntry(
                        now,
                        "hub",
                        "message.duplicate",
                        env.correlation_id,
                        {"kind": env.kind, "message_id": str(env.message_id), "why": str(e)},
                    ),
                )
            )
        raise
