"""Decisions about a release order, pure: its issue, SETARIM's validation, the unit's receipt and
compliance, and BNMP's answer to the registration of the order or of its compliance certificate."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Final

from contracts import Envelope, IllegalTransition
from contracts.bnmp import BnmpDocumentType
from contracts.court import ReleaseOrderIssued
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.errors import ContractError
from contracts.hub_events import ImpedimentReferred
from contracts.lifecycle import (
    WarrantState,
    check_release_basis,
    release_warrant,
    transition_release,
)
from contracts.setarim import ValidationCompleted
from contracts.vocabulary import DeadlineKind
from hub.domain.decide.common import (
    BnmpResult,
    Decider,
    Directory,
    Outcome,
    View,
    deadline_changes,
    hub_event,
    order_row,
    registered_id,
    sends,
    step_order,
    transition_audit,
)
from hub.domain.rows import DeadlineRow, OrderRow

__all__ = ["DECIDERS", "compliance", "issued", "receipt", "registration", "validation"]


def issued(
    env: Envelope, p: ReleaseOrderIssued, view: View, now: datetime, d: Directory
) -> Outcome:
    """A new release order: its row, the covered warrants it revokes, its deadlines, sent on."""
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
    """An order claiming contingency needs a recorded BNMP outage of over 60 minutes (S003 art.12
    §2)."""
    if p.contingency and not offline:
        raise ContractError(
            f"release order {p.order_number} claims contingency, but the hub recorded no BNMP"
            " outage of more than 60 minutes at its issue (S003 art.12 §2)",
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


def validation(
    env: Envelope, p: ValidationCompleted, view: View, now: datetime, d: Directory
) -> Outcome:
    """SETARIM's certificate; impediments are referred to the courts (S000 art.4 §2) and kept on
    the order, so that one leaving force lifts it (`register.lift`)."""
    row = order_row(view, p.order_number, env)
    impediments = tuple(i.warrant_number for i in p.impediments)
    out = step_order(row, env, now, d, validated_at=p.validated_at, impediments=impediments)
    if p.cleared:
        return out
    due = now + d.deadlines.impediment_regularisation
    referral = ImpedimentReferred(
        order_number=p.order_number, impediments=p.impediments, referred_at=now, due_at=due
    )
    ref_env = hub_event(env, referral, now)
    return out + step_order(out.orders[p.order_number], ref_env, now, d)


def receipt(
    env: Envelope, p: ReceiptAcknowledged, view: View, now: datetime, d: Directory
) -> Outcome:
    """The unit the order was sent to received it, and not after it complied with it."""
    row = order_row(view, p.order_number, env)
    _check_unit(row, p.unit)
    if row.complied_at is not None and p.received_at > row.complied_at:
        raise ContractError(
            f"receipt of order {p.order_number} at {p.received_at.isoformat()} is after its"
            f" compliance at {row.complied_at.isoformat()}",
            reason="impossible_timeline",
        )
    return step_order(row, env, now, d, received_at=p.received_at)


def compliance(
    env: Envelope, p: ComplianceCertified, view: View, now: datetime, d: Directory
) -> Outcome:
    """The unit the order was sent to complied with it (released or kept)."""
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


def registration(env: Envelope, p: BnmpResult, view: View, now: datetime, d: Directory) -> Outcome:
    """BNMP's answer about a release order or its compliance certificate (`RELEASE_DOCS`): the
    order's id in BNMP is the order's registration's, never the certificate's."""
    row = order_row(view, p.document_number, env)
    changes = {"bnmp_id": registered_id(p) or row.bnmp_id}
    if p.document_type is BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE:
        changes = {}
    return step_order(row, env, now, d, **changes)


# Not annotated: mypy then checks that each function takes the payload type it is paired with.
DECIDERS: Final = (
    Decider(ReleaseOrderIssued, issued),
    Decider(ValidationCompleted, validation),
    Decider(ReceiptAcknowledged, receipt),
    Decider(ComplianceCertified, compliance),
)
