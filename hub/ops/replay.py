"""Whether a dead letter may be replayed now, decided from the business state (pure).

A dead letter is the original message plus the queue it failed in. Replaying it publishes that
message to that queue again, so the question is what the message would do *now*:

* from an inbound queue (`hub.<connector>.in`) the hub has not applied it yet: the lifecycle is
  dry-run against the current rows (`transition_release` / `transition_warrant`, and the release
  basis for a release order) and any `IllegalTransition` or `ContractError` is the refusal;
* from an outbound queue (`hub.bnmp.out`, `hub.setarim.out`, `hub.court.out`, a unit's queue) the
  state change was already applied and the replay only re-delivers it. It re-delivers only what the
  hub sent: the outbox must hold that message id, sent to that queue, with the same bytes (a body
  put in a dead-letter queue by anyone else, or edited, is never delivered to BNMP, SETARIM, a
  court or a unit). It is refused when the subject is closed (certified order, revoked or expired
  warrant), superseded, or the delivery is no longer needed (BNMP already registered it, the unit
  already acknowledged it, SETARIM already validated it, the deadline of an alert was met).

Edit-and-replay is guarded in `hub.ops.edits`; bulk replays are staged by `hub.ops.progress`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from contracts import (
    ContractError,
    DeadlineAlert,
    Envelope,
    ReleaseOrderIssued,
    ReleaseOrderState,
    WarrantIssued,
    WarrantState,
    check_release_basis,
    parse_envelope,
    transition_release,
    transition_warrant,
)
from hub.domain.decide import keys_for
from hub.domain.retry import ATTEMPT_HEADER
from hub.domain.topology import RETRY_LEVEL_HEADER, connector_of

__all__ = [
    "ALLOWED",
    "EDITED_FROM",
    "REPLAYED_BY",
    "REPLAY_OF",
    "Known",
    "OrderFacts",
    "SentFacts",
    "Verdict",
    "WarrantFacts",
    "parse_body",
    "replay_headers",
    "replay_verdict",
    "subject_of",
]

REPLAY_OF: Final = "x-hub-replay-of"
REPLAYED_BY: Final = "x-hub-replayed-by"
EDITED_FROM: Final = "x-hub-edited-from"


@dataclass(frozen=True)
class OrderFacts:
    """What the verdict needs of a release order row."""

    state: str
    document: Mapping[str, Any]
    bnmp_id: str | None = None


@dataclass(frozen=True)
class WarrantFacts:
    """What the verdict needs of a warrant row."""

    state: str
    bnmp_id: str | None = None


@dataclass(frozen=True)
class SentFacts:
    """What the hub's outbox holds of a message it sent: its bytes and the queues it went to."""

    body: bytes
    queues: frozenset[str]


@dataclass(frozen=True)
class Known:
    """The current rows a message touches, the (subject, kind) deadlines still open, and the
    outbox's copy of the message when the hub sent it."""

    orders: Mapping[str, OrderFacts] = field(default_factory=dict)
    warrants: Mapping[str, WarrantFacts] = field(default_factory=dict)
    open_deadlines: frozenset[tuple[str, str]] = frozenset()
    sent: SentFacts | None = None


@dataclass(frozen=True)
class Verdict:
    """Replay allowed, or refused with a reason code and a sentence for the operator."""

    allowed: bool
    code: str
    why: str


ALLOWED: Final = Verdict(True, "ok", "the business state allows the replay")


def _refuse(code: str, why: str) -> Verdict:
    return Verdict(False, code, why)


def parse_body(body: bytes) -> Envelope | ContractError:
    """The dead letter's message, or the contract error that keeps it from parsing."""
    try:
        return parse_envelope(body)
    except ContractError as e:
        return e


def subject_of(env: Envelope) -> tuple[Literal["order", "warrant"], str] | None:
    """The order or warrant a message is about (None for deadline alerts, which can be either)."""
    p = env.payload
    if isinstance(p, DeadlineAlert):
        return None
    if isinstance(p, ReleaseOrderIssued):
        return "order", p.order_number
    orders, warrants = keys_for(env)
    if orders:
        return "order", sorted(orders)[0]
    return "warrant", sorted(warrants)[0]


def replay_verdict(
    *,
    status: str,
    queue: str,
    parsed: Envelope | ContractError,
    body: bytes,
    known: Known,
    work_queues: Collection[str],
) -> Verdict:
    """Decide whether the dead letter (its status, failed queue, message and the bytes that would
    be published) may be replayed."""
    if status != "parked":
        return _status_refusal(status)
    if queue not in work_queues:
        return _refuse("unknown_queue", f"{queue} is not a work queue of this hub: nowhere to send")
    if isinstance(parsed, ContractError):
        return _refuse(
            "unparseable",
            f"the body is not a valid message ({parsed.reason}): only an admin's "
            "edit-and-replay can fix it",
        )
    if queue.endswith(".in"):
        return _inbound(parsed, known)
    return _not_as_sent(queue, body, known) or _outbound(parsed, connector_of(queue), known)


def _status_refusal(status: str) -> Verdict:
    if status == "archived":
        return _refuse("archived", "the dead letter is archived: restore it first")
    if status == "replayed":
        return _refuse(
            "already_replayed", "it was already replayed; it comes back here if it fails again"
        )
    return _refuse("bad_status", f"a dead letter in status {status!r} cannot be replayed")


# ---------------------------------------------------------------- inbound: dry-run the lifecycle


def _from_error(e: ContractError) -> Verdict:
    code = "already_applied" if e.reason == "duplicate" else e.reason
    return _refuse(code, str(e))


def _inbound(env: Envelope, known: Known) -> Verdict:
    p = env.payload
    if isinstance(p, ReleaseOrderIssued):
        return _inbound_release_order(p, known)
    subject = subject_of(env)
    try:
        if subject is None or subject[0] == "order":
            number = subject[1] if subject else next(iter(keys_for(env)[0]))
            o = known.orders.get(number)
            transition_release(ReleaseOrderState(o.state) if o else None, p)
        else:
            w = known.warrants.get(subject[1])
            transition_warrant(WarrantState(w.state) if w else None, p)
    except ContractError as e:
        return _from_error(e)
    return ALLOWED


def _inbound_release_order(p: ReleaseOrderIssued, known: Known) -> Verdict:
    existing = known.orders.get(p.order_number)
    if existing is not None:
        if existing.document == p.model_dump(mode="json"):
            return _refuse(
                "already_applied", f"release order {p.order_number} was already received"
            )
        return _refuse(
            "superseded",
            f"the hub holds a different document for order {p.order_number}: this one is "
            "superseded",
        )
    states = {
        w: WarrantState(known.warrants[w].state) for w in p.covered_warrants if w in known.warrants
    }
    try:
        check_release_basis(p, states)
    except ContractError as e:
        return _from_error(e)
    return ALLOWED


# ---------------------------------------------------------------- outbound: is the delivery needed?

_R = ReleaseOrderState
_COMPLIED: Final = frozenset({_R.COMPLIED_RELEASED, _R.COMPLIED_NOT_RELEASED, _R.CERTIFIED})
_RECEIVED: Final = frozenset({_R.RECEIVED, _R.READY, _R.READY_IMPEDED})
_VALIDATED: Final = frozenset({_R.VALIDATED, _R.IMPEDED, _R.READY, _R.READY_IMPEDED})
_WITHDRAWN: Final = {WarrantState.REVOKED: "revoked", WarrantState.EXPIRED: "expired"}

Rule = Callable[[Envelope, str, Known], Verdict | None]


def _not_as_sent(queue: str, body: bytes, known: Known) -> Verdict | None:
    """Only the hub's own message, as its outbox holds it, is re-delivered to an outbound queue."""
    sent = known.sent
    if sent is None:
        return _refuse(
            "not_sent_by_hub",
            f"the hub's outbox holds no message with this id: only what the hub sent is "
            f"re-delivered to {queue}",
        )
    if queue not in sent.queues:
        return _refuse("not_sent_there", f"the hub never sent this message to {queue}")
    if body != sent.body:
        return _refuse(
            "not_as_sent",
            f"the body differs from what the hub sent (its outbox): only the hub's own message is "
            f"re-delivered to {queue}, never an edited or substituted one",
        )
    return None


def _order(env: Envelope, known: Known) -> tuple[str, OrderFacts | None] | None:
    subject = subject_of(env)
    if subject is None or subject[0] != "order":
        return None
    return subject[1], known.orders.get(subject[1])


def _unknown_subject(env: Envelope, dest: str, known: Known) -> Verdict | None:
    subject = subject_of(env)
    if subject is None:
        return None
    what, number = subject
    rows: Mapping[str, object] = known.orders if what == "order" else known.warrants
    if number in rows:
        return None
    return _refuse("unknown_subject", f"the hub has no {what} {number}: nothing to deliver for")


def _superseded(env: Envelope, dest: str, known: Known) -> Verdict | None:
    p = env.payload
    o = known.orders.get(p.order_number) if isinstance(p, ReleaseOrderIssued) else None
    if o is None or o.document == p.model_dump(mode="json"):
        return None
    return _refuse(
        "superseded", f"the hub now holds a different document for order {p.business_key}"
    )


def _warrant_withdrawn(env: Envelope, dest: str, known: Known) -> Verdict | None:
    p = env.payload
    w = known.warrants.get(p.warrant_number) if isinstance(p, WarrantIssued) else None
    if w is None or WarrantState(w.state) not in _WITHDRAWN:
        return None
    how = _WITHDRAWN[WarrantState(w.state)]
    return _refuse(
        f"warrant_{how}",
        f"warrant {p.business_key} was {how} after this message failed: delivering the arrest "
        "warrant now could lead to an unlawful arrest",
    )


def _order_closed(env: Envelope, dest: str, known: Known) -> Verdict | None:
    found = _order(env, known)
    if found is None or dest == "court":  # the courts are informed of everything, even late
        return None
    number, o = found
    state = _R(o.state) if o is not None else None
    if state is _R.CERTIFIED:
        return _refuse("order_closed", f"order {number} is certified: nothing left for {dest}")
    if state in _COMPLIED and dest in ("custodial_unit", "setarim"):
        return _refuse("already_complied", f"order {number} was already complied with")
    return None


def _delivery_done(env: Envelope, dest: str, known: Known) -> Verdict | None:
    p = env.payload
    if isinstance(p, ReleaseOrderIssued) and (o := known.orders.get(p.order_number)):
        state = _R(o.state)
        if dest == "custodial_unit" and state in _RECEIVED:
            return _refuse("already_received", "the unit already acknowledged receipt")
        if dest == "setarim" and state in _VALIDATED:
            return _refuse("already_validated", "SETARIM already validated the order")
        if dest == "bnmp" and o.bnmp_id:
            return _refuse("already_registered", f"BNMP already registered it as {o.bnmp_id}")
    if isinstance(p, WarrantIssued) and dest == "bnmp":
        w = known.warrants.get(p.warrant_number)
        if w is not None and w.bnmp_id:
            return _refuse("already_registered", f"BNMP already registered it as {w.bnmp_id}")
    return None


def _moot_alert(env: Envelope, dest: str, known: Known) -> Verdict | None:
    p = env.payload
    if not isinstance(p, DeadlineAlert):
        return None
    if (p.subject_id, p.deadline.value) in known.open_deadlines:
        return None
    return _refuse("moot", f"the {p.deadline.value} deadline of {p.subject_id} is closed")


_OUTBOUND_RULES: Final[tuple[Rule, ...]] = (
    _unknown_subject,
    _superseded,
    _warrant_withdrawn,
    _order_closed,
    _delivery_done,
    _moot_alert,
)


def _outbound(env: Envelope, dest: str, known: Known) -> Verdict:
    for rule in _OUTBOUND_RULES:
        if (verdict := rule(env, dest, known)) is not None:
            return verdict
    return ALLOWED


# ---------------------------------------------------------------- replay headers

_DROPPED_PREFIXES: Final = (
    "x-death",
    "x-first-death",
    "x-last-death",
    "x-delivery-count",
    "x-hub-error-",
    "x-hub-failed-",
)


def replay_headers(
    stored: Mapping[str, Any], letter_id: int, actor: str, edited_from: str | None = None
) -> dict[str, object]:
    """The headers of a replay: the original ones without the failure's, attempt reset, linked."""
    headers: dict[str, object] = {
        k: v
        for k, v in stored.items()
        if not k.startswith(_DROPPED_PREFIXES) and k != RETRY_LEVEL_HEADER
    }
    headers[ATTEMPT_HEADER] = 0
    headers[REPLAY_OF] = str(letter_id)
    headers[REPLAYED_BY] = actor
    if edited_from is not None:
        headers[EDITED_FROM] = edited_from
    return headers
