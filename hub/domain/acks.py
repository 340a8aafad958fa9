"""The technical acknowledgement of each destination a message was sent to, pure: what closes it,
when it is overdue, and what the reconciler does about an overdue one.

A message for several queues is one publish (`hub.domain.outgoing`: `BCC`), and RabbitMQ's
`mandatory` returns it only when it reached no queue at all: a copy routed to a queue deleted by
hand is lost without a word. So every destination of every message sent is tracked on its own
(`outbox_acks`, one row per message and queue), and closed by the evidence that destination got it:

* a queue the hub consumes itself (`hub.bnmp.out`, `hub.setarim.out`, `hub.court.out`): the hub's
  consumer made the delivery and committed the system's answer (BNMP's registration, SETARIM's
  certificate, the court's webhook accepted) -- `delivered`;
* a custodial unit's queue, which the unit's own system reads (its acknowledgement to the broker is
  invisible to the hub): the unit's business answer. Its receipt closes the release order (S001
  art.377); its compliance certificate closes everything sent to it about that order, which it
  could not have certified without (R417 art.9).

A destination still open after its window is looked at by the reconciler (`reconcile`): if the hub
holds it anyway (deferred while its system is down) or an operator was told (a dead letter), it
waits; otherwise the copy is published again to that queue alone, with the same message id
(receivers act once per id), up to `AckPolicy.max_tries` times, and then someone is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal
from uuid import UUID

from contracts import Envelope
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from hub.domain.outgoing import Outgoing
from hub.domain.topology import unit_queue

__all__ = [
    "DELIVERED",
    "AckPolicy",
    "Closing",
    "Look",
    "Pending",
    "QueueState",
    "closed_by",
    "destinations",
    "is_unit_queue",
    "reconcile",
]

DELIVERED: Final = "delivered"  # how the hub's own consumer closes a destination
_ORDER_KIND: Final = "court.release_order.issued"

Verdict = Literal["wait", "republish", "alert"]


def is_unit_queue(queue: str) -> bool:
    """Whether `queue` is a custodial unit's (read by the unit's own system, not the hub's)."""
    return queue.startswith("hub.custodial_unit.") and queue.endswith(".out")


def destinations(message: Outgoing) -> tuple[tuple[UUID, str], ...]:
    """The (message id, queue) of every destination of `message`: one technical ack each."""
    mid = UUID(message.message_id)
    return tuple((mid, q) for q in dict.fromkeys(message.routing_keys))


@dataclass(frozen=True)
class Closing:
    """A business answer closing what was sent to `queue` about `subject`: the messages of
    `kinds`, or every one when `kinds` is empty; `by` says which answer."""

    queue: str
    subject: str
    kinds: tuple[str, ...]
    by: str


def closed_by(env: Envelope) -> tuple[Closing, ...]:
    """What a message received from outside closes: a unit's receipt, its release order at that
    unit; its compliance certificate, everything sent to that unit about the order."""
    p = env.payload
    if isinstance(p, ReceiptAcknowledged):
        return (Closing(unit_queue(p.unit), p.order_number, (_ORDER_KIND,), "receipt"),)
    if isinstance(p, ComplianceCertified):
        return (Closing(unit_queue(p.unit), p.order_number, (), "compliance"),)
    return ()


@dataclass(frozen=True)
class AckPolicy:
    """How long each destination may stay unacknowledged, and how often to try again.

    `hub_window`: a queue the hub consumes (its consumer delivers in milliseconds unless the system
    is down, when the delivery is deferred and held). `receipt_window`: a unit's receipt of a
    release order (the receipt deadline is an hour). `answer_window`: anything else sent to a unit,
    answered by its compliance certificate (the compliance deadline is 24 h from issue, R417 art.6).
    """

    hub_window: timedelta = timedelta(seconds=60)
    receipt_window: timedelta = timedelta(minutes=5)
    answer_window: timedelta = timedelta(minutes=30)
    max_tries: int = 3

    def window(self, queue: str, kind: str) -> timedelta:
        """How long the destination `queue` of a message of `kind` may stay open."""
        if not is_unit_queue(queue):
            return self.hub_window
        return self.receipt_window if kind == _ORDER_KIND else self.answer_window

    @property
    def shortest(self) -> timedelta:
        """The shortest window: nothing younger can be overdue."""
        return min(self.hub_window, self.receipt_window, self.answer_window)


@dataclass(frozen=True)
class Pending:
    """An open destination as the reconciler sees it.

    `sent_at` is when the broker confirmed the message; `next_at` when the last look said to look
    again (None before the first); `held` why the hub needs no copy ("deferred": kept in order
    while its system is down; "dead_letter": parked, with its reason, for an operator), or None.
    """

    queue: str
    kind: str
    sent_at: datetime
    tries: int = 0
    next_at: datetime | None = None
    held: str | None = None


@dataclass(frozen=True)
class QueueState:
    """A destination queue as the broker answers a passive declare: whether it exists, and how
    many messages are ready in it."""

    exists: bool
    ready: int = 0


@dataclass(frozen=True)
class Look:
    """What the reconciler does about one open destination: `verdict`, whether the look counts as
    a try, when to look again (None once alerted), and why."""

    verdict: Verdict
    counted: bool
    next_at: datetime | None
    why: str


def reconcile(p: Pending, queue: QueueState | None, now: datetime, policy: AckPolicy) -> Look:
    """The reconciler's decision on `p` at `now`, given its queue (None: not known just now).

    * not yet due: wait until it is (not a try);
    * held by the hub or told to an operator: wait one more window (not a try);
    * tried `max_tries` times already: alert, and stop trying (someone is told);
    * queue unknown: wait (not a try); queue missing (the healer re-declares it) or holding ready
      messages (the copy may be among them: another would add to a backlog): wait, a try;
    * otherwise: publish the copy again to that queue alone, a try.
    """
    window = policy.window(p.queue, p.kind)
    due = p.next_at or p.sent_at + window
    if now < due:
        return Look("wait", False, due, "not yet due")
    again = now + window
    if p.held is not None:
        return Look("wait", False, again, p.held)
    if p.tries >= policy.max_tries:
        return Look("alert", False, None, f"not acknowledged after {p.tries} tries")
    if queue is None:
        return Look("wait", False, again, "queue not inspected")
    if not queue.exists:
        return Look("wait", True, again, "queue missing")
    if queue.ready > 0:
        return Look("wait", True, again, "queue holds a backlog")
    return Look("republish", True, again, "overdue")
