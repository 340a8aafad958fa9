"""The hub's decisions, pure: given a message and the rows it touches, what changes, what is sent.

`decide(env, view, now, directory)` never does I/O. The engine loads the rows named by
`keys_for(env)`, calls it, and writes the `Outcome`. Each payload type has one small decision,
found by its type in `_DECIDERS`: about release orders in `release_order`, warrants in `warrant`,
deadline alerts in `alerts`; BNMP's answer to a registration goes to one or the other by the
document registered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from contracts import Envelope, IllegalTransition
from contracts.bnmp import (
    BnmpChangeUnrecognised,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    WarrantComplied,
    WarrantExpired,
    WarrantRecorded,
)
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.errors import ContractError
from contracts.hub_events import DeadlineAlert
from hub.domain.audit import AuditEntry
from hub.domain.authority import HUB, Actor
from hub.domain.decide import alerts, release_order, warrant
from hub.domain.decide.authorise import authorise
from hub.domain.decide.common import (
    HUB_SOURCE,
    RELEASE_DOCS,
    BnmpResult,
    Decider,
    Directory,
    Outcome,
    View,
)
from hub.errors import OutOfOrder

__all__ = ["HUB_SOURCE", "Directory", "Outcome", "View", "decide", "keys_for", "reads_outages"]


def keys_for(env: Envelope) -> tuple[set[str], set[str]]:
    """The order numbers and warrant numbers a decision on `env` reads."""
    p = env.payload
    if isinstance(p, ReleaseOrderIssued):
        return {p.order_number}, set(p.covered_warrants)
    if isinstance(
        p, WarrantIssued | WarrantRevoked | WarrantComplied | WarrantExpired | WarrantRecorded
    ):
        return set(), {p.warrant_number}
    if isinstance(p, BnmpChangeUnrecognised):
        return set(), {p.subject}  # the document BNMP reported on (refused, whatever it holds)
    if isinstance(p, BnmpRegistrationCompleted | BnmpRegistrationRejected):
        return (
            ({p.document_number}, set())
            if p.document_type in RELEASE_DOCS
            else (set(), {env.correlation_id})
        )
    if isinstance(p, DeadlineAlert):
        return {p.subject_id}, set()
    return {env.correlation_id}, set()


def _registration(env: Envelope, p: BnmpResult, view: View, now: datetime, d: Directory) -> Outcome:
    """BNMP's answer to a registration, for the release order or the warrant it concerns."""
    if p.document_type in RELEASE_DOCS:
        return release_order.registration(env, p, view, now, d)
    return warrant.registration(env, p, view, now, d)


def _unrecognised(
    env: Envelope, p: BnmpChangeUnrecognised, view: View, now: datetime, d: Directory
) -> Outcome:
    """Something BNMP reported that the hub does not know: never applied, never ignored. Refused,
    so that it is dead-lettered and kept, with BNMP's label, for an operator."""
    raise ContractError(
        f"BNMP reported a {p.what.replace('_', ' ')} the hub does not know: {p.label!r}"
        f" (document {p.number or 'unreadable'}); kept for an operator",
        reason="unrecognised_bnmp_change",
    )


# Not annotated: mypy then checks that `_registration` takes both payload types.
_BNMP: Final = (
    Decider(BnmpRegistrationCompleted, _registration),
    Decider(BnmpRegistrationRejected, _registration),
    Decider(BnmpChangeUnrecognised, _unrecognised),
)


def _by_type(*deciders: Decider[Any]) -> dict[type, Decider[Any]]:
    """The deciders by payload type; one type decided twice is a mistake, refused at import."""
    table: dict[type, Decider[Any]] = {}
    for r in deciders:
        if r.payload in table:
            raise ValueError(f"{r.payload.__name__} has two deciders")
        table[r.payload] = r
    return table


_DECIDERS: Final = _by_type(*release_order.DECIDERS, *warrant.DECIDERS, *alerts.DECIDERS, *_BNMP)


def reads_outages(env: Envelope) -> bool:
    """Whether a decision on `env` reads BNMP's outages (the contingency rule, S003 art.12 §2)."""
    return isinstance(env.payload, ReleaseOrderIssued)


def decide(
    env: Envelope, view: View, now: datetime, directory: Directory, actor: Actor = HUB
) -> Outcome:
    """What `env` changes, given `view`; raises `ContractError`/`HubError` when it cannot apply.

    `actor` is who the hub authenticated behind `env`: a court document is refused unless it may
    say what it says (`authorise`), and the transitions it causes are audited in its name.
    """
    decider = _DECIDERS.get(type(env.payload))
    if decider is None:
        raise ContractError(
            f"{env.kind} is not accepted from outside the hub", reason="hub_only_kind"
        )
    authorise(env, view, actor, directory.competence)
    try:
        return decider(env, view, now, directory).acted_by(actor.name)
    except IllegalTransition as e:
        # "not yet", or about a warrant the hub has not seen yet: a counter-warrant, compliance or
        # expiry can overtake its warrant (two hub processes, or two systems sending close
        # together). Retried on the ladder; parked as retries_exhausted when it never comes.
        if e.reason in ("not_yet", "unknown_warrant"):
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
