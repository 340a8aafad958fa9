"""The fault suite's invariants: a snapshot of what the hub and the simulators hold, judged purely.

`take_snapshot` reads the hub's database, the broker's queue depths and the simulators' effects;
`evaluate` (pure) turns a snapshot and what was sent into figures and problems:

* every valid order is certified, or parked in `dead_letters` with its reason; nothing is lost;
* every warrant sent is on record, or parked;
* every bad input is parked with its reason;
* no duplicated effect: each BNMP document is registered once (keyed on its number; a second
  attempt answered 409 is an attempt, not an effect) and each person is released or kept once;
  every document the hub accepted reached BNMP, unless it was parked;
* nothing is left pending: no unconfirmed outbox row, no deferred delivery, no message in a queue;
* the hub goes on: every hub process consumes its queues again, and every unit its own;
* each order's and warrant's transitions in the audit chain follow one another (two hub processes
  never applied a step from a stale state);
* every delivery the hub committed (an outbox row to a `hub.*.out` queue) was made, or parked for
  a business reason; one parked as `unexpected:<infrastructure error>` and never made is lost;
* the audit chain verifies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import asyncpg
import httpx

from connectors.bnmp.mapping import digits
from hub.store import audit_repo
from sandbox.simulate import SimWorld

__all__ = ["Findings", "Sent", "Snapshot", "broker_queues", "evaluate", "take_snapshot"]


@dataclass(frozen=True)
class Sent:
    """What the court and the suite sent (valid orders apart from the bad inputs)."""

    orders: tuple[str, ...]
    bad_orders: tuple[str, ...]
    malformed_ids: tuple[str, ...]
    warrants: tuple[str, ...]
    counter_warrants: tuple[tuple[str, str], ...]  # (counter-warrant, the warrant it revokes)


@dataclass(frozen=True)
class Snapshot:
    """What the hub, the broker and the simulators hold at one moment."""

    orders: Mapping[str, tuple[str, bool | None]]  # number -> (state, released)
    warrants: frozenset[str]
    parked: tuple[tuple[str | None, str | None, str], ...]  # (message id, correlation, reason)
    parked_queues: tuple[tuple[str | None, str, str], ...]  # (message id, failed queue, reason)
    pending: int  # unconfirmed outbox rows + deferred deliveries
    queues: Mapping[str, int]  # messages per queue
    consumers: Mapping[str, int]  # consumers per queue
    hubs: int  # hub processes that should be consuming
    bnmp_attempts: Mapping[str, int]  # "type:number" -> registration calls that reached BNMP
    released: Mapping[str, int]  # order -> times the unit released the person
    kept: Mapping[str, int]  # order -> times the unit certified keeping the person
    audit_rows: int = 0
    audit_broken: str | None = None
    # (subject, from, to) of every order and warrant transition, in audit-chain order
    transitions: tuple[tuple[str, str | None, str], ...] = ()
    # (queue, message id, made) of every delivery the hub committed to a `hub.*.out` queue; made:
    # the delivery's consumer recorded it (inbox), or the unit handled it
    deliveries: tuple[tuple[str, str, bool], ...] = ()


@dataclass
class Findings:
    """The figures of a run and the invariants it broke (none, when `ok`)."""

    orders: int = 0
    certified: int = 0
    released: int = 0
    kept: int = 0
    valid_orders_parked: dict[str, int] = field(default_factory=dict)
    lost_orders: list[str] = field(default_factory=list)
    warrants: int = 0
    lost_warrants: list[str] = field(default_factory=list)
    bad_inputs: int = 0
    bad_inputs_parked: int = 0
    bad_inputs_missing: list[str] = field(default_factory=list)
    bnmp_effects: int = 0
    bnmp_duplicate_attempts: int = 0
    bnmp_missing: list[str] = field(default_factory=list)
    bnmp_unexpected: list[str] = field(default_factory=list)
    duplicated_effects: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    queues_not_empty: dict[str, int] = field(default_factory=dict)
    queues_unconsumed: dict[str, int] = field(default_factory=dict)
    audit_rows: int = 0
    audit_verifies: bool = False
    transitions: int = 0
    broken_sequences: list[str] = field(default_factory=list)
    deliveries: int = 0
    deliveries_not_made: dict[str, int] = field(default_factory=dict)  # parked, by reason
    deliveries_lost: list[str] = field(default_factory=list)
    infra_letters_made_anyway: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every invariant held."""
        return not self.problems

    @property
    def lost(self) -> int:
        """Orders and warrants neither on record nor parked."""
        return len(self.lost_orders) + len(self.lost_warrants)


def _excuses(snap: Snapshot) -> dict[str, str]:
    """Business key -> the reason it was parked, for reasons that excuse an effect not made.

    `unexpected:<error>` never excuses: the hub met an error it does not know (for example a
    database connection error it did not translate) and dead-lettered what it should have retried.
    """
    return {c: r for _, c, r in snap.parked if c and not r.startswith("unexpected")}


def _expected_bnmp(snap: Snapshot, sent: Sent) -> dict[str, str]:
    """BNMP key -> the business key whose dead letter would excuse its absence."""
    keys = {f"warrant:{digits(w)}": w for w in sent.warrants}
    keys |= {f"counter_warrant:{digits(c)}": w for c, w in sent.counter_warrants}
    for number in sent.orders:
        state = snap.orders.get(number)
        if state is None:
            continue
        keys[f"release_order:{digits(number)}"] = number
        if state[1] is not None:  # the unit certified compliance: its certificate goes to BNMP
            keys[f"release_compliance_certificate:{digits(number)}"] = number
    return keys


def _effects(snap: Snapshot, sent: Sent, f: Findings) -> None:
    parked = _excuses(snap)
    expected = _expected_bnmp(snap, sent)
    registered = set(snap.bnmp_attempts)
    f.bnmp_effects = len(registered)
    f.bnmp_duplicate_attempts = sum(n - 1 for n in snap.bnmp_attempts.values())
    f.bnmp_missing = sorted(
        k for k, why in expected.items() if k not in registered and why not in parked
    )
    f.bnmp_unexpected = sorted(registered - expected.keys())
    twice = sum(n - 1 for n in snap.released.values() if n > 1)
    twice += sum(n - 1 for n in snap.kept.values() if n > 1)
    twice += sum(1 for o in snap.released if snap.released[o] and snap.kept.get(o))
    f.duplicated_effects = twice
    f.released = sum(1 for n in snap.released.values() if n)
    f.kept = sum(1 for n in snap.kept.values() if n)


def _orders(snap: Snapshot, sent: Sent, f: Findings) -> None:
    reason_of = _excuses(snap)
    f.orders = len(sent.orders)
    f.certified = sum(1 for n in sent.orders if snap.orders.get(n, ("", None))[0] == "certified")
    parked = Counter(
        reason_of[n].split(":")[0]
        for n in sent.orders
        if n in reason_of and snap.orders.get(n, ("", None))[0] != "certified"
    )
    f.valid_orders_parked = dict(parked)
    f.lost_orders = [
        n
        for n in sent.orders
        if snap.orders.get(n, ("", None))[0] != "certified" and n not in reason_of
    ]
    f.warrants = len(sent.warrants)
    f.lost_warrants = [w for w in sent.warrants if w not in snap.warrants and w not in reason_of]


def _bad_inputs(snap: Snapshot, sent: Sent, f: Findings) -> None:
    ids = {m for m, _, r in snap.parked if m and r}
    corr = {c for _, c, r in snap.parked if c and r}
    missing = [m for m in sent.malformed_ids if m not in ids]
    missing += [o for o in sent.bad_orders if o not in corr]
    f.bad_inputs = len(sent.malformed_ids) + len(sent.bad_orders)
    f.bad_inputs_missing = missing
    f.bad_inputs_parked = f.bad_inputs - len(missing)


def _sequences(snap: Snapshot, f: Findings) -> None:
    """Each order's (and warrant's) transitions chain: every one starts where the last one ended.

    With several hub processes consuming at once, a transition applied from a stale state would
    show here as a step whose `from` is not the previous step's `to`.
    """
    last: dict[str, str | None] = {}
    broken: set[str] = set()
    for subject, old, new in snap.transitions:
        if last.get(subject) != old:
            broken.add(subject)
        last[subject] = new
    f.transitions = len(snap.transitions)
    f.broken_sequences = sorted(broken)


def _deliveries(snap: Snapshot, f: Findings) -> None:
    """Every delivery the hub committed was made, or parked for a reason that is not the hub's own
    infrastructure: a dead letter saying `unexpected:<database or broker error>` is a failure that
    should have been retried, and is counted as lost when no other copy made the delivery."""
    reasons = {(m, q): r for m, q, r in _parked_by_queue(snap)}
    not_made: Counter[str] = Counter()
    for queue, mid, made in snap.deliveries:
        reason = reasons.get((mid, queue))
        if made:
            f.infra_letters_made_anyway += bool(reason and reason.startswith("unexpected"))
        elif reason and not reason.startswith("unexpected"):
            not_made[reason.split(":")[0]] += 1
        else:
            f.deliveries_lost.append(f"{queue} {mid} ({reason or 'not parked'})")
    f.deliveries = len(snap.deliveries)
    f.deliveries_not_made = dict(not_made)


def _parked_by_queue(snap: Snapshot) -> list[tuple[str, str, str]]:
    return [(m, q, r) for m, q, r in snap.parked_queues if m]


def evaluate(snap: Snapshot, sent: Sent) -> Findings:
    """Judge a snapshot against what was sent (see the module docstring)."""
    f = Findings()
    _orders(snap, sent, f)
    _bad_inputs(snap, sent, f)
    _effects(snap, sent, f)
    _sequences(snap, f)
    _deliveries(snap, f)
    f.dead_letters = dict(Counter(r.split(":")[0] for _, _, r in snap.parked))
    f.pending = snap.pending
    f.queues_not_empty = {q: n for q, n in snap.queues.items() if n}
    f.queues_unconsumed = {
        q: n for q, n in snap.consumers.items() if n < _consumers_expected(q, snap.hubs)
    }
    f.audit_rows, f.audit_verifies = snap.audit_rows, snap.audit_broken is None
    checks = [
        (f.lost_orders, f"{len(f.lost_orders)} orders neither certified nor parked"),
        (f.lost_warrants, f"{len(f.lost_warrants)} warrants neither on record nor parked"),
        (f.bad_inputs_missing, f"{len(f.bad_inputs_missing)} bad inputs not parked"),
        (f.duplicated_effects, f"{f.duplicated_effects} duplicated effects at the units"),
        (f.bnmp_missing, f"{len(f.bnmp_missing)} documents never registered in BNMP"),
        (f.bnmp_unexpected, f"{len(f.bnmp_unexpected)} BNMP registrations nobody sent"),
        (f.pending, f"{f.pending} outbox rows or deferred deliveries still pending"),
        (f.queues_not_empty, f"messages left in queues: {f.queues_not_empty}"),
        (f.queues_unconsumed, f"queues without all their consumers: {f.queues_unconsumed}"),
        (not f.audit_verifies, f"audit chain broken: {snap.audit_broken}"),
        (f.broken_sequences, f"{len(f.broken_sequences)} orders or warrants out of sequence"),
        (
            f.deliveries_lost,
            f"{len(f.deliveries_lost)} deliveries never made: {f.deliveries_lost[:3]}",
        ),
    ]
    f.problems = [text for failed, text in checks if failed]
    return f


def _consumers_expected(queue: str, hubs: int) -> int:
    """Every hub process consumes `hub.<connector>.{in,out,dlq}`; one unit reads its own queue."""
    parts = queue.split(".")
    if len(parts) == 3 and parts[2] in ("in", "out", "dlq"):
        return hubs
    return 1 if queue.startswith("hub.custodial_unit.") and queue.endswith(".out") else 0


async def broker_queues(management_url: str, vhost: str) -> dict[str, tuple[int, int]]:
    """Messages (ready and unacked) and consumers of each queue of `vhost` (management API)."""
    parts = urlsplit(management_url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
    auth = (parts.username or "guest", parts.password or "guest")
    async with httpx.AsyncClient(base_url=base, auth=auth, timeout=10) as api:
        resp = await api.get(
            f"/queues/{quote(vhost, safe='')}", params={"columns": "name,messages,consumers"}
        )
        resp.raise_for_status()
        return {
            q["name"]: (int(q.get("messages") or 0), int(q.get("consumers") or 0))
            for q in resp.json()
        }


def _id(value: object) -> str | None:
    return str(value) if value else None


async def _deliveries_made(
    pool: asyncpg.Pool, world: SimWorld
) -> tuple[tuple[str, str, bool], ...]:
    """Each delivery the hub committed to an outbound queue (a message goes to every queue of its
    destination set), and whether it was made."""
    rows = await pool.fetch(
        "SELECT d.queue, o.message_id::text AS mid, EXISTS (SELECT 1 FROM inbox i"
        " WHERE i.consumer = d.queue AND i.message_id = o.message_id) AS recorded"
        " FROM outbox o, unnest(array_prepend(o.routing_key, o.cc)) AS d(queue)"
        " WHERE o.exchange = '' AND d.queue LIKE 'hub.%.out'"
    )
    witnesses = {
        "hub.court.out": set(world.court.effects.attempts),
        "hub.custodial_unit.": set(world.units.seen),
    }
    return tuple((r["queue"], r["mid"], _made(r, witnesses)) for r in rows)


def _made(row: Any, witnesses: Mapping[str, set[str]]) -> bool:
    """The court and the units say what they received (by message id); for BNMP and SETARIM,
    the hub's inbox of their queue says it."""
    for prefix, received in witnesses.items():
        if row["queue"].startswith(prefix):
            return bool(row["mid"] in received)
    return bool(row["recorded"])


async def take_snapshot(
    pool: asyncpg.Pool,
    world: SimWorld,
    queues: Mapping[str, tuple[int, int]],
    hubs: int,
    *,
    audit: bool = False,
) -> Snapshot:
    """Read the hub's tables and the simulators' effects (walk the audit chain when asked)."""
    rows = await pool.fetch("SELECT order_number, state, released FROM release_orders")
    warrants = await pool.fetch("SELECT warrant_number FROM warrants")
    parked = await pool.fetch("SELECT message_id, correlation_id, queue, reason FROM dead_letters")
    pending = await pool.fetchval(
        "SELECT (SELECT count(*) FROM deferred)"
        " + (SELECT count(*) FROM outbox WHERE confirmed_at IS NULL)"
    )
    broken: Any = None
    count, transitions = 0, []
    if audit:
        async with pool.acquire() as conn:
            count, broken = await audit_repo.verify(conn)
        transitions = await pool.fetch(
            "SELECT subject, detail->>'from' AS old, detail->>'to' AS new FROM audit_log"
            " WHERE action IN ('order.transition', 'warrant.transition') ORDER BY seq"
        )
    return Snapshot(
        orders={r["order_number"]: (r["state"], r["released"]) for r in rows},
        warrants=frozenset(r["warrant_number"] for r in warrants),
        parked=tuple((_id(r["message_id"]), r["correlation_id"], r["reason"]) for r in parked),
        parked_queues=tuple((_id(r["message_id"]), r["queue"], r["reason"]) for r in parked),
        deliveries=await _deliveries_made(pool, world),
        pending=int(pending),
        queues={q: n for q, (n, _) in queues.items()},
        consumers={q: c for q, (_, c) in queues.items()},
        hubs=hubs,
        bnmp_attempts=dict(world.bnmp.effects.attempts),
        released=dict(world.units.released),
        kept=dict(world.units.kept),
        audit_rows=count,
        audit_broken=None if broken is None else str(broken),
        transitions=tuple((r["subject"], r["old"], r["new"]) for r in transitions),
    )
