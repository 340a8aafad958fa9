"""What BNMP, the register of record, does to the hub's warrants and orders, pure.

Warrants are issued in BNMP (S004 item 10), by courts the hub does not serve too, and the police
record their compliance there directly (Prov. Conj. 154/2025). So a BNMP report may be the hub's
first sight of a warrant: it becomes the hub's own record (`first_seen`), an impediment like any
other. A compliance makes the person's other pending warrants complied (`flip`, R417 art.12 sole
§). A warrant that leaves force lifts the impediments it was (`lift`, S000 art.4 §2). A report
that contradicts the hub's record is drift, reported and not refused (`drift`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

from contracts import Envelope, IllegalTransition, Secrecy
from contracts.bnmp import WarrantComplied, WarrantExpired, WarrantRecorded
from contracts.court import ReleaseOrderIssued
from contracts.hub_events import ImpedimentLifted
from contracts.ids import warrant_process
from contracts.lifecycle import ReleaseOrderState, WarrantState, in_force, transition_warrant
from hub.domain.audit import AuditEntry
from hub.domain.decide.common import (
    HUB_SOURCE,
    Directory,
    Outcome,
    View,
    sends,
    step_order,
    transition_audit,
)
from hub.domain.rows import OrderRow, WarrantRow

__all__ = ["BnmpReport", "consequences", "drift", "first_seen", "flip", "lift"]

# A BNMP report about a warrant, which may be the hub's first sight of it.
BnmpReport = WarrantComplied | WarrantExpired | WarrantRecorded

_IMPEDED = (ReleaseOrderState.IMPEDED.value, ReleaseOrderState.READY_IMPEDED.value)
# The compliance of one arrest makes the person's other pending warrants complied.
_FLIP = "R417 art.12 sole §"


def first_seen(env: Envelope, p: BnmpReport, now: datetime, d: Directory) -> Outcome:
    """A warrant the hub never carried, as BNMP reports it: the hub's own record from now on."""
    if p.person is None:
        raise IllegalTransition(
            f"{p.kind} is about warrant {p.warrant_number}, which the hub does not know, and names"
            " no person",
            reason="unknown_warrant",
        )
    state = transition_warrant(None, p)  # the state BNMP gives it
    recorded = p if isinstance(p, WarrantRecorded) else None
    row = WarrantRow(
        warrant_number=p.warrant_number,
        process_number=warrant_process(p.warrant_number),
        person_key=d.person_key(p.person),
        state=state.value,
        species=recorded.species.value if recorded and recorded.species else None,
        valid_until=recorded.valid_until if recorded else None,
        issuing_court=p.issuing_court,
        secrecy=env.secrecy.value,
        bnmp_id=recorded.bnmp_id if recorded else None,
        origin="bnmp",
    )
    audit = transition_audit(p.warrant_number, "warrant", None, state.value, env, now)
    audit = dataclasses.replace(audit, detail={**audit.detail, "origin": "bnmp"})
    # No court sent it through the hub: its court reads BNMP, the hub tells SETARIM.
    return Outcome(warrants={p.warrant_number: row}, audit=(audit,)) + sends(
        env, None, d, now, p.issuing_court, to_court=False
    )


def drift(env: Envelope, number: str, why: str, now: datetime) -> Outcome:
    """BNMP's report contradicts the hub's record: reported (an audit entry the reconciliation and
    the operators see), not applied and not refused: BNMP is the register of record."""
    detail = {"kind": env.kind, "message_id": str(env.message_id), "why": why}
    return Outcome(audit=(AuditEntry(now, "hub", "warrant.drift", number, detail),))


def consequences(
    view: View,
    before: WarrantRow | None,
    after: WarrantRow,
    env: Envelope,
    now: datetime,
    d: Directory,
) -> Outcome:
    """What a warrant's change means for the person's other warrants and for the orders it
    impedes: a new compliance flips the others; leaving force lifts its impediments."""
    was = WarrantState(before.state) if before else None
    now_state = WarrantState(after.state)
    out = Outcome()
    if (
        now_state is WarrantState.COMPLIED
        and was is not WarrantState.COMPLIED
        and isinstance(env.payload, WarrantComplied)
    ):
        out += flip(view, after, env, now)
    if not in_force(now_state) and (was is None or in_force(was)):
        out += lift(view, after.warrant_number, now_state, env, now, d)
    return out


def flip(view: View, complied: WarrantRow, env: Envelope, now: datetime) -> Outcome:
    """The person's other pending warrants become complied (R417 art.12 sole §): a release order
    may then cover them, and those it does not cover stay impediments."""
    others = sorted(
        (
            w
            for w in view.warrants.values()
            if w.person_key == complied.person_key
            and w.warrant_number != complied.warrant_number
            and w.state == WarrantState.PENDING.value
        ),
        key=lambda w: w.warrant_number,
    )
    rows = {
        w.warrant_number: dataclasses.replace(
            w, state=WarrantState.COMPLIED.value, version=w.version + 1
        )
        for w in others
    }
    audit = tuple(
        AuditEntry(
            now,
            "hub",
            "warrant.transition",
            w.warrant_number,
            {
                "from": w.state,
                "to": WarrantState.COMPLIED.value,
                "kind": env.kind,
                "message_id": str(env.message_id),
                "cause": f"{_FLIP}: warrant {complied.warrant_number} complied",
            },
        )
        for w in others
    )
    return Outcome(warrants=rows, audit=audit)


def _impeded_by(orders: Iterable[OrderRow], number: str) -> list[OrderRow]:
    return sorted(
        (o for o in orders if number in o.impediments and o.state in _IMPEDED),
        key=lambda o: o.order_number,
    )


def lift(
    view: View, number: str, state: WarrantState, env: Envelope, now: datetime, d: Directory
) -> Outcome:
    """Warrant `number` left force: each order it impeded loses that impediment; with none left,
    SETARIM validates the order again (S000 art.4 §2) and the release may proceed."""
    out = Outcome()
    for order in _impeded_by(view.orders.values(), number):
        remaining = tuple(w for w in order.impediments if w != number)
        lifted = ImpedimentLifted(
            order_number=order.order_number,
            warrant_number=number,
            warrant_state="expired" if state is WarrantState.EXPIRED else "revoked",
            lifted_at=now,
            remaining=remaining,
            order=ReleaseOrderIssued.model_validate(order.document),
        )
        out += step_order(
            order, _lifted_env(env, order, lifted, now), now, d, impediments=remaining
        )
    return out


def _lifted_env(
    cause: Envelope, order: OrderRow, lifted: ImpedimentLifted, now: datetime
) -> Envelope:
    """The lift as a hub event about the order, as secret as the order or the warrant's news."""
    secrecy = max(Secrecy(order.secrecy), cause.secrecy, key=lambda s: s.rank)
    return Envelope.new(
        lifted,
        source=HUB_SOURCE,
        correlation_id=order.order_number,
        causation_id=cause.message_id,
        secrecy=secrecy,
        occurred_at=now,
        message_id=uuid5(
            NAMESPACE_URL, f"hub:{cause.message_id}:{lifted.kind}:{order.order_number}"
        ),
    )
