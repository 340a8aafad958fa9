"""Decisions about deadline alerts, pure: the hub's own warning that a deadline is running out."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from contracts import Envelope
from contracts.hub_events import DeadlineAlert
from hub.domain.audit import AuditEntry
from hub.domain.decide.common import Decider, Directory, Outcome, View, sends

__all__ = ["DECIDERS", "alert"]


def alert(env: Envelope, p: DeadlineAlert, view: View, now: datetime, d: Directory) -> Outcome:
    """Mark the threshold alerted, audit it, route the alert (to the order's unit and court when the
    subject is a release order)."""
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


# Not annotated: mypy then checks that each function takes the payload type it is paired with.
DECIDERS: Final = (Decider(DeadlineAlert, alert),)
