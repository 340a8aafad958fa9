"""Pure lifecycle state machines of the release order and the warrant (S000 art.4, S002, R417).

`transition_release(state, payload)` and `transition_warrant(state, payload)` return the next
state or raise `IllegalTransition`. `state=None` means the hub knows nothing of the subject yet.
Events the hub tracks apart from the state (BNMP registration of the order itself, its rejection,
deadline alerts, impediment referrals) return the state unchanged where they are allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from contracts.bnmp import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    WarrantComplied,
    WarrantExpired,
)
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.envelope import AnyPayload
from contracts.errors import ContractError, IllegalTransition
from contracts.hub_events import DeadlineAlert, ImpedimentReferred
from contracts.setarim import ValidationCompleted

__all__ = [
    "ReleaseEvent",
    "ReleaseOrderState",
    "WarrantEvent",
    "WarrantState",
    "check_release_basis",
    "release_event",
    "release_warrant",
    "transition_release",
    "transition_warrant",
    "warrant_event",
]


class ReleaseOrderState(StrEnum):
    """State of a release order (alvará de soltura) in the hub."""

    DISPATCHED = "dispatched"  # accepted from the court, fanned out to BNMP, SETARIM and the unit
    RECEIVED = "received"  # the unit acknowledged receipt; SETARIM pending
    VALIDATED = "validated"  # SETARIM cleared it; the unit's receipt pending
    IMPEDED = "impeded"  # SETARIM found impediments; the unit's receipt pending
    READY = "ready"  # received and cleared: the unit may release
    READY_IMPEDED = "ready_impeded"  # received, with impediments: the unit may only keep
    COMPLIED_RELEASED = "complied_released"  # the unit released the person
    COMPLIED_NOT_RELEASED = "complied_not_released"  # the unit kept the person, with reasons
    CERTIFIED = "certified"  # BNMP recorded the compliance certificate (terminal)


class WarrantState(StrEnum):
    """State of a warrant (mandado de prisão) as BNMP records it."""

    PENDING = "pending"  # pendente / aguardando cumprimento
    COMPLIED = "complied"  # cumprido
    REVOKED = "revoked"  # revogado: by a counter-warrant or by a release order (terminal)
    EXPIRED = "expired"  # validity date passed: automatic revocation (terminal)


class ReleaseEvent(StrEnum):
    """What a payload means to the release-order machine."""

    ISSUED = "issued"
    RECEIVED = "received"
    CLEARED = "cleared"
    IMPEDED = "impeded"
    RELEASED = "released"
    NOT_RELEASED = "not_released"
    CERTIFICATE_REGISTERED = "certificate_registered"
    TRACKED = "tracked"  # order registration, rejections, alerts: tracked apart from the state
    REFERRED = "referred"


class WarrantEvent(StrEnum):
    """What a payload means to the warrant machine."""

    ISSUED = "issued"
    COMPLIED = "complied"
    COUNTER_WARRANT = "counter_warrant"
    RELEASE_ORDER = "release_order"
    EXPIRED = "expired"
    TRACKED = "tracked"


_R = ReleaseOrderState
_E = ReleaseEvent
_COMPLIED = (_R.COMPLIED_RELEASED, _R.COMPLIED_NOT_RELEASED)
_PRE_COMPLIANCE = (_R.DISPATCHED, _R.RECEIVED, _R.VALIDATED, _R.IMPEDED, _R.READY, _R.READY_IMPEDED)

_RELEASE_NEXT: dict[tuple[_R | None, _E], _R] = {
    (None, _E.ISSUED): _R.DISPATCHED,
    (_R.DISPATCHED, _E.RECEIVED): _R.RECEIVED,
    (_R.DISPATCHED, _E.CLEARED): _R.VALIDATED,
    (_R.DISPATCHED, _E.IMPEDED): _R.IMPEDED,
    (_R.RECEIVED, _E.CLEARED): _R.READY,
    (_R.RECEIVED, _E.IMPEDED): _R.READY_IMPEDED,
    (_R.VALIDATED, _E.RECEIVED): _R.READY,
    (_R.IMPEDED, _E.RECEIVED): _R.READY_IMPEDED,
    # A later certificate supersedes the earlier one: impediments regularised (or not) by the
    # origin court, or an order in force found after clearance. A second clearance is a duplicate.
    (_R.IMPEDED, _E.CLEARED): _R.VALIDATED,
    (_R.IMPEDED, _E.IMPEDED): _R.IMPEDED,
    (_R.READY_IMPEDED, _E.CLEARED): _R.READY,
    (_R.READY_IMPEDED, _E.IMPEDED): _R.READY_IMPEDED,
    (_R.VALIDATED, _E.IMPEDED): _R.IMPEDED,
    (_R.READY, _E.IMPEDED): _R.READY_IMPEDED,
    (_R.READY, _E.RELEASED): _R.COMPLIED_RELEASED,
    (_R.READY, _E.NOT_RELEASED): _R.COMPLIED_NOT_RELEASED,
    (_R.READY_IMPEDED, _E.NOT_RELEASED): _R.COMPLIED_NOT_RELEASED,
    (_R.IMPEDED, _E.REFERRED): _R.IMPEDED,
    (_R.READY_IMPEDED, _E.REFERRED): _R.READY_IMPEDED,
    **{(state, _E.CERTIFICATE_REGISTERED): _R.CERTIFIED for state in _COMPLIED},
    **{(state, _E.TRACKED): state for state in ReleaseOrderState},
}

_DUPLICATE = "duplicate"
# An event that may become legal once an earlier one arrives (messages can overtake each other).
_NOT_YET = "not_yet"
_RELEASE_WHY: dict[tuple[_R | None, _E], tuple[str, str]] = {
    **{(s, _E.ISSUED): (_DUPLICATE, "the order was already issued") for s in ReleaseOrderState},
    # A complied order was received first (only READY states lead to compliance): a receipt now is
    # a late copy. A receipt *timestamped* after the compliance is the impossible timeline of 7.12,
    # which the hub checks on the times (`hub.domain.decide.release_order`), not on arrival order.
    **{
        (s, _E.RECEIVED): (_DUPLICATE, "the unit already acknowledged receipt")
        for s in (_R.RECEIVED, _R.READY, _R.READY_IMPEDED, *_COMPLIED, _R.CERTIFIED)
    },
    **{
        (s, _E.CLEARED): (_DUPLICATE, "SETARIM already cleared the order")
        for s in (_R.VALIDATED, _R.READY)
    },
    **{
        (s, e): ("illegal_transition", "validation after compliance is too late")
        for s in (*_COMPLIED, _R.CERTIFIED)
        for e in (_E.CLEARED, _E.IMPEDED)
    },
    **{
        (s, e): (
            _NOT_YET,
            "the unit must acknowledge receipt and SETARIM validate first",
        )
        for s in (_R.DISPATCHED, _R.RECEIVED, _R.VALIDATED, _R.IMPEDED)
        for e in (_E.RELEASED, _E.NOT_RELEASED)
    },
    (_R.READY_IMPEDED, _E.RELEASED): (
        "released_with_impediments",
        "SETARIM listed impediments: the person may not be released (S000 art.4 §1)",
    ),
    **{
        (s, e): (_DUPLICATE, "the order was already complied with")
        for s in (*_COMPLIED, _R.CERTIFIED)
        for e in (_E.RELEASED, _E.NOT_RELEASED)
    },
    (_R.CERTIFIED, _E.CERTIFICATE_REGISTERED): (_DUPLICATE, "BNMP already recorded it"),
    **{
        (s, _E.CERTIFICATE_REGISTERED): (_NOT_YET, "the order is not complied yet")
        for s in _PRE_COMPLIANCE
    },
    **{
        (s, _E.REFERRED): ("illegal_transition", "no impediments are pending")
        for s in ReleaseOrderState
        if s not in (_R.IMPEDED, _R.READY_IMPEDED)
    },
}


def release_event(payload: AnyPayload) -> ReleaseEvent:
    """Classify a payload for the release-order machine, or raise if it concerns a warrant."""
    match payload:
        case ReleaseOrderIssued():
            return ReleaseEvent.ISSUED
        case ReceiptAcknowledged():
            return ReleaseEvent.RECEIVED
        case ValidationCompleted():
            return ReleaseEvent.CLEARED if payload.cleared else ReleaseEvent.IMPEDED
        case ComplianceCertified():
            return ReleaseEvent.RELEASED if payload.released else ReleaseEvent.NOT_RELEASED
        case BnmpRegistrationCompleted(
            document_type=BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE
        ):
            return ReleaseEvent.CERTIFICATE_REGISTERED
        case ImpedimentReferred():
            return ReleaseEvent.REFERRED
        case BnmpRegistrationCompleted() | BnmpRegistrationRejected() | DeadlineAlert():
            if _is_release_document(payload):
                return ReleaseEvent.TRACKED
    raise IllegalTransition(
        f"{payload.kind} does not concern a release order", reason="wrong_subject"
    )


def _is_release_document(payload: AnyPayload) -> bool:
    if isinstance(payload, BnmpRegistrationCompleted | BnmpRegistrationRejected):
        return payload.document_type in _RELEASE_DOCUMENTS
    return True


_RELEASE_DOCUMENTS = frozenset(
    {BnmpDocumentType.RELEASE_ORDER, BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE}
)


def _state_label(state: StrEnum | None, subject: str) -> str:
    return f"no {subject} known" if state is None else str(state)


def transition_release(state: ReleaseOrderState | None, payload: AnyPayload) -> ReleaseOrderState:
    """Return the release order's next state after `payload`, or raise `IllegalTransition`."""
    event = release_event(payload)
    nxt = _RELEASE_NEXT.get((state, event))
    if nxt is not None:
        return nxt
    if state is None:
        reason, why = "unknown_order", "the hub has no such release order"
    else:
        reason, why = _RELEASE_WHY.get((state, event), ("illegal_transition", "not allowed"))
    raise IllegalTransition(
        f"{payload.kind} not allowed in state {_state_label(state, 'release order')}: {why}",
        reason=reason,
    )


_W = WarrantState
_V = WarrantEvent

_WARRANT_NEXT: dict[tuple[_W | None, _V], _W] = {
    (None, _V.ISSUED): _W.PENDING,
    (_W.PENDING, _V.COMPLIED): _W.COMPLIED,
    (_W.PENDING, _V.COUNTER_WARRANT): _W.REVOKED,
    (_W.PENDING, _V.EXPIRED): _W.EXPIRED,
    (_W.COMPLIED, _V.RELEASE_ORDER): _W.REVOKED,
    **{(state, _V.TRACKED): state for state in WarrantState},
}

_WARRANT_WHY: dict[tuple[_W, _V], tuple[str, str]] = {
    **{(s, _V.ISSUED): (_DUPLICATE, "the warrant was already issued") for s in WarrantState},
    (_W.COMPLIED, _V.COMPLIED): (_DUPLICATE, "the warrant was already complied with"),
    (_W.REVOKED, _V.COUNTER_WARRANT): (_DUPLICATE, "the warrant was already revoked"),
    (_W.EXPIRED, _V.EXPIRED): (_DUPLICATE, "the warrant already expired"),
    (_W.COMPLIED, _V.COUNTER_WARRANT): (
        "release_order_needed",
        "the warrant was complied with: a release order is needed, not a counter-warrant (S002)",
    ),
    (_W.PENDING, _V.RELEASE_ORDER): (
        "counter_warrant_needed",
        "the warrant is pending: a counter-warrant is needed, not a release order (S002)",
    ),
    (_W.COMPLIED, _V.EXPIRED): ("illegal_transition", "a complied warrant does not expire"),
    **{
        (s, e): ("illegal_transition", f"the warrant is {s} (terminal)")
        for s in (_W.REVOKED, _W.EXPIRED)
        for e in (_V.COMPLIED, _V.COUNTER_WARRANT, _V.RELEASE_ORDER, _V.EXPIRED)
        if (s, e) not in ((_W.REVOKED, _V.COUNTER_WARRANT), (_W.EXPIRED, _V.EXPIRED))
    },
}

_WARRANT_DOCUMENTS = frozenset(
    {
        BnmpDocumentType.WARRANT,
        BnmpDocumentType.COUNTER_WARRANT,
        BnmpDocumentType.WARRANT_COMPLIANCE_CERTIFICATE,
    }
)


def warrant_event(payload: AnyPayload) -> WarrantEvent:
    """Classify a payload for the warrant machine, or raise if it concerns no warrant."""
    match payload:
        case WarrantIssued():
            return WarrantEvent.ISSUED
        case WarrantComplied():
            return WarrantEvent.COMPLIED
        case WarrantRevoked():
            return WarrantEvent.COUNTER_WARRANT
        case ReleaseOrderIssued():
            return WarrantEvent.RELEASE_ORDER
        case WarrantExpired():
            return WarrantEvent.EXPIRED
        case BnmpRegistrationCompleted() | BnmpRegistrationRejected():
            if payload.document_type in _WARRANT_DOCUMENTS:
                return WarrantEvent.TRACKED
        case DeadlineAlert():
            return WarrantEvent.TRACKED
    raise IllegalTransition(f"{payload.kind} does not concern a warrant", reason="wrong_subject")


def transition_warrant(state: WarrantState | None, payload: AnyPayload) -> WarrantState:
    """Return the warrant's next state after `payload`, or raise `IllegalTransition`.

    A `ReleaseOrderIssued` payload means "this release order covers the warrant": the hub calls
    this once per covered warrant it knows.
    """
    event = warrant_event(payload)
    nxt = _WARRANT_NEXT.get((state, event))
    if nxt is not None:
        return nxt
    if state is None:
        reason, why = "unknown_warrant", "the hub has no such warrant"
    else:
        reason, why = _WARRANT_WHY[(state, event)]
    raise IllegalTransition(
        f"{payload.kind} not allowed in state {_state_label(state, 'warrant')}: {why}",
        reason=reason,
    )


def release_warrant(state: WarrantState | None) -> WarrantState:
    """Return the state of a warrant after a release order covers it (only a complied one)."""
    if state is _W.COMPLIED:
        return _W.REVOKED
    if state is None:
        raise IllegalTransition(
            "release not allowed in state no warrant known: the hub has no such warrant",
            reason="unknown_warrant",
        )
    reason, why = _WARRANT_WHY[(state, _V.RELEASE_ORDER)]
    raise IllegalTransition(f"release not allowed in state {state}: {why}", reason=reason)


_BASIS_PROBLEMS = {
    _W.PENDING: "is pending: a counter-warrant is needed, not a release order",
    _W.REVOKED: "is already revoked",
    _W.EXPIRED: "has expired",
}


def check_release_basis(order: ReleaseOrderIssued, known: Mapping[str, WarrantState]) -> None:
    """Raise `ContractError` when the order covers a known warrant that is not complied (S002).

    Warrants the hub does not know are accepted: BNMP is the source of truth for them.
    """
    problems = [
        f"warrant {number} {_BASIS_PROBLEMS[state]}"
        for number in order.covered_warrants
        if (state := known.get(number)) is not None and state in _BASIS_PROBLEMS
    ]
    if problems:
        raise ContractError(
            f"release order {order.order_number} has no valid basis: " + "; ".join(problems),
            reason="invalid_release_basis",
        )
