"""Events the hub itself raises: impediment referrals and lifts, and deadline alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.base import PayloadModel, require_not_after
from contracts.court import ReleaseOrderIssued
from contracts.errors import ContractError
from contracts.ids import DocumentNumber, WarrantNumber
from contracts.setarim import Impediment, check_impediments
from contracts.vocabulary import AlertThreshold, DeadlineKind

__all__ = ["DeadlineAlert", "ImpedimentLifted", "ImpedimentReferred"]


class ImpedimentReferred(PayloadModel):
    """Impediments referred to the origin courts: regularise in 24 h or justify (S000 art.4 §2)."""

    kind: Literal["hub.impediment.referred"] = "hub.impediment.referred"
    order_number: DocumentNumber
    impediments: Annotated[tuple[Impediment, ...], Field(min_length=1)]
    referred_at: AwareDatetime
    due_at: AwareDatetime

    @property
    def business_key(self) -> str:
        """Return the order number."""
        return self.order_number

    @model_validator(mode="after")
    def _check(self) -> ImpedimentReferred:
        check_impediments(self.impediments)
        if self.due_at <= self.referred_at:
            raise ContractError("due_at must be after referred_at", reason="impossible_timeline")
        return self


class ImpedimentLifted(PayloadModel):
    """A warrant that impeded a release order is no longer in force (revoked or expired in BNMP,
    or by a contramandado): the impediment is regularised (S000 art.4 §2). With none left, SETARIM
    validates the order again, and the person's release proceeds if it finds nothing else."""

    kind: Literal["hub.impediment.lifted"] = "hub.impediment.lifted"
    order_number: DocumentNumber
    warrant_number: WarrantNumber
    warrant_state: Literal["revoked", "expired"]
    lifted_at: AwareDatetime
    remaining: tuple[WarrantNumber, ...] = ()  # the order's impediments still in force
    order: ReleaseOrderIssued  # the order as issued: what SETARIM validates again

    @property
    def business_key(self) -> str:
        """Return the order number."""
        return self.order_number

    @property
    def dedup_key(self) -> str:
        """Return order and warrant: each impediment is lifted once."""
        return f"{self.order_number}|{type(self).__name__}|{self.warrant_number}"

    @model_validator(mode="after")
    def _check(self) -> ImpedimentLifted:
        if self.order.order_number != self.order_number:
            raise ContractError("order is not the order lifted", reason="order_mismatch")
        if self.warrant_number in self.remaining:
            raise ContractError("the lifted warrant is still listed as remaining", reason="lift")
        return self


class DeadlineAlert(PayloadModel):
    """A deadline of an order or warrant reached 50, 90 or 100 % of its span."""

    kind: Literal["hub.deadline.alert"] = "hub.deadline.alert"
    subject_id: DocumentNumber
    deadline: DeadlineKind
    threshold_pct: AlertThreshold
    started_at: AwareDatetime
    due_at: AwareDatetime
    raised_at: AwareDatetime

    @property
    def business_key(self) -> str:
        """Return the number of the order or warrant the deadline belongs to."""
        return self.subject_id

    @property
    def dedup_key(self) -> str:
        """Return subject, deadline and threshold: one alert per threshold crossed."""
        return f"{self.subject_id}|{type(self).__name__}|{self.deadline}|{self.threshold_pct}"

    @model_validator(mode="after")
    def _check(self) -> DeadlineAlert:
        if self.due_at <= self.started_at:
            raise ContractError("due_at must be after started_at", reason="impossible_timeline")
        span = self.due_at - self.started_at
        threshold_at = self.started_at + span * self.threshold_pct / 100
        require_not_after(
            threshold_at,
            self.raised_at,
            f"raised_at is before {self.threshold_pct} % of the deadline elapsed",
        )
        return self
