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
    BnmpWarrantStatus,
    WarrantComplied,
    WarrantExpired,
    WarrantRecorded,
)
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.envelope import AnyPayload
from contracts.errors import ContractError, IllegalTransition
from contracts.hub_events import DeadlineAlert, ImpedimentLifted, ImpedimentReferred
from contracts.setarim import ValidationCompleted

__all__ = [
    "ReleaseEvent",
    "ReleaseOrderState",
    "WarrantEvent",
    "WarrantState",
    "check_release_basis",
    "first_sight",
    "in_force",
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
    LIFTED = "lifted"  # an impediment is no longer in force


class WarrantEvent(StrEnum):
    """What a payload means to the warrant machine."""

    ISSUED = "issued"
    COMPLIED = "complied"
    COUNTER_WARRANT = "counter_warrant"
    RELEASE_ORDER = "release_order"
    EXPIRED = "expired"
    PENDING_IN_BNMP = "pending_in_bnmp"  # BNMP holds it as Aguardando Cumprimento / Pendente
    REVOKED_IN_BNMP = "revoked_in_bnmp"  # BNMP holds it as Revogado
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
    (_R.IMPEDED, _E.LIFTED): _R.IMPEDED,
    (_R.READY_IMPEDED, _E.LIFTED): _R.READY_IMPEDED,
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
        (s, e): ("illegal_transition", "no impediments are pending")
        for s in ReleaseOrderState
        for e in (_E.REFERRED, _E.LIFTED)
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
        case ImpedimentLifted():
            return ReleaseEvent.LIFTED
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
    # What BNMP, the register of record, reports of a warrant the hub knows.
    (_W.PENDING, _V.REVOKED_IN_BNMP): _W.REVOKED,  # a contramandado made in BNMP
    (_W.COMPLIED, _V.REVOKED_IN_BNMP): _W.REVOKED,  # a release order made in BNMP
    (_W.COMPLIED, _V.PENDING_IN_BNMP): _W.PENDING,  # its compliance certificate annulled
    **{(state, _V.TRACKED): state for state in WarrantState},
}

# The first sight of a warrant in a BNMP report: the state BNMP gives it.
_FIRST_SIGHT: dict[_V, _W] = {_V.PENDING_IN_BNMP: _W.PENDING, _V.COMPLIED: _W.COMPLIED}
_FIRST_SIGHT |= {_V.REVOKED_IN_BNMP: _W.REVOKED, _V.EXPIRED: _W.EXPIRED}

_OUT_OF_FORCE = (_W.REVOKED, _W.EXPIRED)
# BNMP's report contradicts the hub's record and no rule leads there: a disagreement to report,
# never a message to refuse (BNMP is the register of record; the reconciliation settles it).
_DRIFT = "register_drift"

_WARRANT_WHY: dict[tuple[_W, _V], tuple[str, str]] = {
    **{(s, _V.ISSUED): (_DUPLICATE, "the warrant was already issued") for s in WarrantState},
    (_W.COMPLIED, _V.COMPLIED): (_DUPLICATE, "the warrant was already complied with"),
    (_W.PENDING, _V.PENDING_IN_BNMP): (_DUPLICATE, "the warrant is pending already"),
    (_W.REVOKED, _V.COUNTER_WARRANT): (_DUPLICATE, "the warrant was already revoked"),
    **{
        (s, e): (_DUPLICATE, f"the warrant is {s} already: out of force")
        for s in _OUT_OF_FORCE
        for e in (_V.EXPIRED, _V.REVOKED_IN_BNMP)
    },
    (_W.COMPLIED, _V.COUNTER_WARRANT): (
        "release_order_needed",
        "the warrant was complied with: a release order is needed, not a counter-warrant (7.6)",
    ),
    (_W.PENDING, _V.RELEASE_ORDER): (
        "counter_warrant_needed",
        "the warrant is pending: a counter-warrant is needed, not a release order (7.5)",
    ),
    (_W.COMPLIED, _V.EXPIRED): (_DRIFT, "BNMP expired a warrant the hub holds as complied"),
    **{
        (s, e): ("illegal_transition", f"the warrant is {s} (terminal)")
        for s in _OUT_OF_FORCE
        for e in (_V.COUNTER_WARRANT, _V.RELEASE_ORDER)
        if (s, e) != (_W.REVOKED, _V.COUNTER_WARRANT)
    },
    **{
        (s, e): (_DRIFT, f"BNMP holds in force a warrant the hub holds as {s}")
        for s in _OUT_OF_FORCE
        for e in (_V.COMPLIED, _V.PENDING_IN_BNMP)
    },
}

_B = BnmpDocumentType
_WARRANT_DOCUMENTS = frozenset({_B.WARRANT, _B.COUNTER_WARRANT, _B.WARRANT_COMPLIANCE_CERTIFICATE})
_S = BnmpWarrantStatus
_RECORDED = {_S.PENDING: _V.PENDING_IN_BNMP, _S.REVOKED: _V.REVOKED_IN_BNMP}


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
        case WarrantRecorded():
            return _RECORDED[payload.status]
        case BnmpRegistrationCompleted() | BnmpRegistrationRejected():
            if payload.document_type in _WARRANT_DOCUMENTS:
                return WarrantEvent.TRACKED
        case DeadlineAlert():
            return WarrantEvent.TRACKED
    raise IllegalTransition(f"{payload.kind} does not concern a warrant", reason="wrong_subject")


def first_sight(payload: AnyPayload) -> WarrantState | None:
    """The state of a warrant the hub first learns of from a BNMP report that names its person
    (issued or complied in BNMP, never through the hub: S004 item 10), else None."""
    if not isinstance(payload, WarrantComplied | WarrantExpired | WarrantRecorded):
        return None
    if payload.person is None:
        return None
    return _FIRST_SIGHT[warrant_event(payload)]


def in_force(state: WarrantState) -> bool:
    """Whether a warrant in `state` can keep its person detained (pending or complied)."""
    return state not in _OUT_OF_FORCE


def transition_warrant(state: WarrantState | None, payload: AnyPayload) -> WarrantState:
    """Return the warrant's next state after `payload`, or raise `IllegalTransition`.

    A `ReleaseOrderIssued` payload means "this release order covers the warrant": the hub calls
    this once per covered warrant it knows. A BNMP report about a warrant the hub does not know
    gives the warrant BNMP's state when it names the person (`first_sight`).
    """
    event = warrant_event(payload)
    nxt = _WARRANT_NEXT.get((state, event))
    if nxt is not None:
        return nxt
    if state is None:
        seen = first_sight(payload)
        if seen is not None:
            return seen
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
