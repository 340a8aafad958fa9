"""Pure deadline rules of a release order: which start, which a payload meets, which alerts are due.

No clock lives here: every function takes the time it reasons about (`at`, `now`).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from contracts.base import Contract
from contracts.bnmp import BnmpRegistrationCompleted
from contracts.court import ReleaseOrderIssued
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.envelope import AnyPayload
from contracts.errors import ContractError
from contracts.lifecycle import ReleaseOrderState
from contracts.setarim import ValidationCompleted
from contracts.vocabulary import THRESHOLDS, AlertThreshold, DeadlineKind

__all__ = [
    "Deadline",
    "DeadlinePolicy",
    "deadlines_carried",
    "deadlines_started_by",
    "satisfied_by",
    "thresholds_crossed",
]

PositiveSpan = Annotated[timedelta, Field(gt=timedelta(0))]
_K = DeadlineKind
_S = ReleaseOrderState


class DeadlinePolicy(Contract):
    """How long each deadline runs: compliance 24 h from issue (R417 art.6); others configurable."""

    compliance: PositiveSpan = timedelta(hours=24)
    receipt: PositiveSpan = timedelta(hours=1)
    validation: PositiveSpan = timedelta(hours=2)
    bnmp_registration: PositiveSpan = timedelta(hours=24)
    impediment_regularisation: PositiveSpan = timedelta(hours=24)

    def span(self, kind: DeadlineKind) -> timedelta:
        """Return how long a deadline of `kind` runs."""
        span: timedelta = getattr(self, kind.value)
        return span


class Deadline(Contract):
    """A running deadline: what must happen, from when, by when."""

    kind: DeadlineKind
    started_at: AwareDatetime
    due_at: AwareDatetime

    @model_validator(mode="after")
    def _check(self) -> Deadline:
        if self.due_at <= self.started_at:
            raise ContractError("due_at must be after started_at", reason="impossible_timeline")
        return self

    @classmethod
    def starting(cls, kind: DeadlineKind, at: datetime, policy: DeadlinePolicy) -> Deadline:
        """Return the deadline of `kind` that starts at `at` under `policy`."""
        try:
            due_at = at + policy.span(kind)
        except OverflowError:
            raise ContractError(
                f"{kind} deadline from {at.isoformat()} falls after year 9999",
                reason="impossible_timeline",
            ) from None
        return cls(kind=kind, started_at=at, due_at=due_at)

    def threshold_at(self, pct: AlertThreshold) -> datetime:
        """Return the moment `pct` % of the deadline's span has elapsed."""
        return self.started_at + (self.due_at - self.started_at) * pct / 100


def thresholds_crossed(
    deadline: Deadline, already_alerted: AbstractSet[int], now: datetime
) -> tuple[AlertThreshold, ...]:
    """Return the alert thresholds (50, 90, 100 %) reached by `now` and not alerted yet."""
    return tuple(
        pct
        for pct in THRESHOLDS
        if pct not in already_alerted and deadline.threshold_at(pct) <= now
    )


def deadlines_started_by(
    payload: AnyPayload, at: datetime, policy: DeadlinePolicy
) -> tuple[Deadline, ...]:
    """Return the deadlines a payload starts when the hub accepts it at `at`.

    A release order starts receipt and validation (from dispatch, `at`) and compliance (24 h
    from its own `issued_at`), plus BNMP registration when it was issued in contingency. A
    validation with impediments starts their regularisation; a compliance certificate starts its
    registration in BNMP (R417 art.9).
    """
    match payload:
        case ReleaseOrderIssued():
            started = [
                Deadline.starting(_K.RECEIPT, at, policy),
                Deadline.starting(_K.VALIDATION, at, policy),
                Deadline.starting(_K.COMPLIANCE, payload.issued_at, policy),
            ]
            if payload.contingency:
                started.append(Deadline.starting(_K.BNMP_REGISTRATION, at, policy))
            return tuple(started)
        case ValidationCompleted(cleared=False):
            return (Deadline.starting(_K.IMPEDIMENT_REGULARISATION, at, policy),)
        case ComplianceCertified():
            return (Deadline.starting(_K.BNMP_REGISTRATION, at, policy),)
    return ()


def satisfied_by(payload: AnyPayload) -> frozenset[DeadlineKind]:
    """Return the deadlines a payload meets; "not released" still complies with the order."""
    match payload:
        case ReceiptAcknowledged():
            return frozenset({_K.RECEIPT})
        case ValidationCompleted(cleared=True):
            return frozenset({_K.VALIDATION, _K.IMPEDIMENT_REGULARISATION})
        case ValidationCompleted():
            return frozenset({_K.VALIDATION})
        case ComplianceCertified():
            return frozenset({_K.COMPLIANCE, _K.IMPEDIMENT_REGULARISATION})
        case BnmpRegistrationCompleted():
            return frozenset({_K.BNMP_REGISTRATION})
    return frozenset()


_ALWAYS = frozenset({_K.BNMP_REGISTRATION})
_CARRIED: dict[ReleaseOrderState, frozenset[DeadlineKind]] = {
    _S.DISPATCHED: _ALWAYS | {_K.RECEIPT, _K.VALIDATION, _K.COMPLIANCE},
    _S.RECEIVED: _ALWAYS | {_K.VALIDATION, _K.COMPLIANCE},
    _S.VALIDATED: _ALWAYS | {_K.RECEIPT, _K.COMPLIANCE},
    _S.IMPEDED: _ALWAYS | {_K.RECEIPT, _K.COMPLIANCE, _K.IMPEDIMENT_REGULARISATION},
    _S.READY: _ALWAYS | {_K.COMPLIANCE},
    _S.READY_IMPEDED: _ALWAYS | {_K.COMPLIANCE, _K.IMPEDIMENT_REGULARISATION},
    _S.COMPLIED_RELEASED: _ALWAYS,
    _S.COMPLIED_NOT_RELEASED: _ALWAYS,
    _S.CERTIFIED: frozenset(),
}


def deadlines_carried(state: ReleaseOrderState) -> frozenset[DeadlineKind]:
    """Return the deadline kinds that may still run in `state`; close any other on entry."""
    return _CARRIED[state]
