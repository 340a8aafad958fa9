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
from connectors.simulate import SimWorld
from hub.store import audit_repo

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
    pending: int  # unconfirmed outbox rows + deferred deliveries
    queues: Mapping[str, int]  # messages per queue
    consumers: Mapping[str, int]  # consumers per queue
    hubs: int  # hub processes that should be consuming
    bnmp_attempts: Mapping[str, int]  # "type:number" -> registration calls that reached BNMP
    released: Mapping[str, int]  # order -> times the unit released the person
    kept: Mapping[str, int]  # order -> times the unit certified keeping the person
    audit_rows: int = 0
    audit_broken: str | None = None


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
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every invariant held."""
        return not self.problems

    @property
    def lost(self) -> int:
        """Orders and warrants neither on record nor parked."""
        return len(self.lost_orders) + len(self.lost_warrants)


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
    parked = {c for _, c, _ in snap.parked if c}
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
    reason_of = {c: r for _, c, r in snap.parked if c}
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


def evaluate(snap: Snapshot, sent: Sent) -> Findings:
    """Judge a snapshot against what was sent (see the module docstring)."""
    f = Findings()
    _orders(snap, sent, f)
    _bad_inputs(snap, sent, f)
    _effects(snap, sent, f)
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
    parked = await pool.fetch("SELECT message_id, correlation_id, reason FROM dead_letters")
    pending = await pool.fetchval(
        "SELECT (SELECT count(*) FROM deferred)"
        " + (SELECT count(*) FROM outbox WHERE confirmed_at IS NULL)"
    )
    broken: Any = None
    count = 0
    if audit:
        async with pool.acquire() as conn:
            count, broken = await audit_repo.verify(conn)
    return Snapshot(
        orders={r["order_number"]: (r["state"], r["released"]) for r in rows},
        warrants=frozenset(r["warrant_number"] for r in warrants),
        parked=tuple(
            (str(r["message_id"]) if r["message_id"] else None, r["correlation_id"], r["reason"])
            for r in parked
        ),
        pending=int(pending),
        queues={q: n for q, (n, _) in queues.items()},
        consumers={q: c for q, (_, c) in queues.items()},
        hubs=hubs,
        bnmp_attempts=dict(world.bnmp.effects.attempts),
        released=dict(world.units.released),
        kept=dict(world.units.kept),
        audit_rows=count,
        audit_broken=None if broken is None else str(broken),
    )
