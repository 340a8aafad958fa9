"""Decisions about a warrant, pure: its issue, revocation, compliance and expiry, what BNMP (the
register of record) reports of it, and BNMP's answer to its registration."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Final

from contracts import Envelope, IllegalTransition
from contracts.bnmp import WarrantComplied, WarrantExpired, WarrantRecorded
from contracts.court import WarrantIssued, WarrantRevoked
from contracts.deadlines import satisfied_by
from contracts.lifecycle import WarrantState, transition_warrant
from contracts.vocabulary import DeadlineKind
from hub.domain.decide import register
from hub.domain.decide.common import (
    BnmpResult,
    Decider,
    Directory,
    Outcome,
    View,
    registered_id,
    sends,
    transition_audit,
)
from hub.domain.rows import DeadlineRow, WarrantRow

__all__ = ["DECIDERS", "changed", "issued", "registration"]


def issued(env: Envelope, p: WarrantIssued, view: View, now: datetime, d: Directory) -> Outcome:
    """A new warrant: its row, its BNMP registration deadline, sent on."""
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


def changed(
    env: Envelope,
    p: WarrantRevoked | WarrantComplied | WarrantExpired | WarrantRecorded,
    view: View,
    now: datetime,
    d: Directory,
) -> Outcome:
    """A warrant revoked (a counter-warrant), complied with, expired, or as BNMP reports it; a BNMP
    report may be the hub's first sight of it (S004 item 10). Then what that means for the
    person's other warrants and for the orders it impedes (`register.consequences`)."""
    number = p.warrant_number
    before = view.warrants.get(number)
    try:
        if before is None and not isinstance(p, WarrantRevoked):
            out = register.first_seen(env, p, now, d)
        else:
            out = _step(view, number, env, now, d)
    except IllegalTransition as e:
        if e.reason != "register_drift":
            raise
        return register.drift(env, number, str(e), now)
    after = out.warrants[number]
    return out + register.consequences(view.merged(out), before, after, env, now, d)


def registration(env: Envelope, p: BnmpResult, view: View, now: datetime, d: Directory) -> Outcome:
    """BNMP's answer about a warrant (the message's correlation id names it)."""
    return _step(view, env.correlation_id, env, now, d, bnmp_id=registered_id(p))


def _step(
    view: View, number: str, env: Envelope, now: datetime, d: Directory, bnmp_id: str | None = None
) -> Outcome:
    """Move warrant `number` through the lifecycle, satisfy its deadlines, route the message."""
    row = _warrant_row(view, number, env)
    new = transition_warrant(WarrantState(row.state), env.payload)
    updated = dataclasses.replace(
        row, state=new.value, version=row.version + 1, bnmp_id=bnmp_id or row.bnmp_id
    )
    done = tuple((number, k.value, now) for k in sorted(satisfied_by(env.payload)))
    return Outcome(
        warrants={number: updated},
        satisfied=done,
        audit=(transition_audit(number, "warrant", row.state, new.value, env, now),),
    ) + sends(env, None, d, now, row.issuing_court, to_court=row.origin != "bnmp")


def _warrant_row(view: View, number: str, env: Envelope) -> WarrantRow:
    """The warrant `number`, or the lifecycle's own "unknown warrant" error."""
    row = view.warrants.get(number)
    if row is None:
        transition_warrant(None, env.payload)  # raises the lifecycle's own "unknown warrant" error
        raise AssertionError("unreachable")  # pragma: no cover
    return row


# Not annotated: mypy then checks that each function takes the payload type it is paired with.
DECIDERS: Final = (
    Decider(WarrantIssued, issued),
    Decider(WarrantRevoked, changed),
    Decider(WarrantComplied, changed),
    Decider(WarrantExpired, changed),
    Decider(WarrantRecorded, changed),
)
