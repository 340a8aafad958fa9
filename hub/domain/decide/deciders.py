"""One decision per payload type, pure: what a message changes given the rows it touches."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from contracts import Envelope, IllegalTransition
from contracts.bnmp import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    WarrantComplied,
    WarrantExpired,
)
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.deadlines import satisfied_by
from contracts.errors import ContractError
from contracts.hub_events import DeadlineAlert, ImpedimentReferred
from contracts.lifecycle import (
    WarrantState,
    check_release_basis,
    release_warrant,
    transition_release,
    transition_warrant,
)
from contracts.setarim import ValidationCompleted
from contracts.vocabulary import DeadlineKind
from hub.domain.audit import AuditEntry
from hub.domain.decide.common import (
    RELEASE_DOCS,
    Directory,
    Outcome,
    View,
    deadline_changes,
    hub_event,
    order_row,
    sends,
    step_order,
    transition_audit,
)
from hub.domain.rows import DeadlineRow, OrderRow, WarrantRow

__all__ = ["DECIDERS"]


def _check_new(p: ReleaseOrderIssued, existing: OrderRow | None, document: dict[str, Any]) -> None:
    """An order number is used once; the same document again is a duplicate, other content a
    conflict (a correction needs a new document)."""
    if existing is None:
        return
    if existing.document == document:
        raise IllegalTransition(
            f"release order {p.order_number} was already received", reason="duplicate"
        )
    raise ContractError(
        f"release order {p.order_number} was already received with other content: a correction"
        " needs a new document",
        reason="conflicting_duplicate",
    )


def _check_contingency(p: ReleaseOrderIssued, offline: bool) -> None:
    """An order claiming contingency needs a recorded BNMP outage of over 60 minutes (7.13)."""
    if p.contingency and not offline:
        raise ContractError(
            f"release order {p.order_number} claims contingency, but the hub recorded no BNMP"
            " outage of more than 60 minutes at its issue (domain 7.13)",
            reason="contingency_without_outage",
        )


def _revoke_covered(p: ReleaseOrderIssued, view: View, env: Envelope, now: datetime) -> Outcome:
    """The covered warrants the hub knows must be complied; the order revokes them."""
    known = {
        w: WarrantState(view.warrants[w].state) for w in p.covered_warrants if w in view.warrants
    }
    check_release_basis(p, known)
    revoked = {
        w: dataclasses.replace(
            view.warrants[w], state=release_warrant(s).value, version=view.warrants[w].version + 1
        )
        for w, s in known.items()
    }
    audit = tuple(
        transition_audit(w, "warrant", known[w].value, r.state, env, now)
        for w, r in revoked.items()
    )
    return Outcome(warrants=revoked, audit=audit)


def _new_order(
    p: ReleaseOrderIssued, env: Envelope, document: dict[str, Any], offline: bool
) -> OrderRow:
    return OrderRow(
        order_number=p.order_number,
        process_number=p.process_number,
        state=transition_release(None, p).value,
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


def _release_order(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ReleaseOrderIssued)
    document = p.model_dump(mode="json")
    _check_new(p, view.orders.get(p.order_number), document)
    offline = view.bnmp_offline_at(p.issued_at)
    _check_contingency(p, offline)
    revoked = _revoke_covered(p, view, env, now)
    row = _new_order(p, env, document, offline)
    registration = DeadlineRow(
        p.order_number,
        DeadlineKind.BNMP_REGISTRATION.value,
        now,
        now + d.deadlines.bnmp_registration,
    )
    created = Outcome(
        orders={p.order_number: row},
        open_deadlines=(registration,),
        audit=(transition_audit(p.order_number, "order", None, row.state, env, now),),
    )
    return (
        created
        + revoked
        + deadline_changes(p.order_number, env, now, d)
        + sends(env, p.custodial_unit, d, now, p.issuing_court)
    )


def _validation(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ValidationCompleted)
    row = order_row(view, p.order_number, env)
    out = step_order(row, env, now, d, validated_at=p.validated_at)
    if p.cleared:
        return out
    due = now + d.deadlines.impediment_regularisation
    referral = ImpedimentReferred(
        order_number=p.order_number, impediments=p.impediments, referred_at=now, due_at=due
    )
    ref_env = hub_event(env, referral, now)
    return out + step_order(out.orders[p.order_number], ref_env, now, d)


def _receipt(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ReceiptAcknowledged)
    row = order_row(view, p.order_number, env)
    _check_unit(row, p.unit)
    if row.complied_at is not None and p.received_at > row.complied_at:
        raise ContractError(
            f"receipt of order {p.order_number} at {p.received_at.isoformat()} is after its"
            f" compliance at {row.complied_at.isoformat()} (domain 7.12)",
            reason="impossible_timeline",
        )
    return step_order(row, env, now, d, received_at=p.received_at)


def _compliance(env: Envelope, view: View, now: datetime, d: Directory) -> Outcome:
    p = env.payload
    assert isinstance(p, ComplianceCertified)
    row = order_row(view, p.order_number, env)
    _check_unit(row, p.unit)
    return step_order(row, env, now, d, complied_at=p.certified_at, released=p.released)


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
    if p.document_type in RELEASE_DOCS:
        row = order_row(view, p.document_number, env)
        changes = {"bnmp_id": bnmp_id or row.bnmp_id}
        if p.document_type is BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE:
            changes = {}
        return step_order(row, env, now, d, **changes)
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
        audit=(transition_audit(number, "warrant", row.state, new.value, env, now),),
    ) + sends(env, None, d, now, row.issuing_court)


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
        audit=(transition_audit(p.warrant_number, "warrant", None, state.value, env, now),),
    ) + sends(env, None, d, now, p.issuing_court)


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
    return Outcome(alerted=mark, audit=audit) + sends(env, unit, d, now, court)


DECIDERS: Final[dict[type, Callable[[Envelope, View, datetime, Directory], Outcome]]] = {
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
