"""What the demo shows while it runs and when it ends: progress lines and the closing summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from hub.store import audit_repo
from sandbox.simulate import SimWorld

__all__ = ["Summary", "progress_line", "summarise"]


async def _one(pool: asyncpg.Pool, sql: str, *args: Any) -> Any:
    return await pool.fetchval(sql, *args)


async def progress_line(
    pool: asyncpg.Pool, world: SimWorld, sent: int, elapsed_s: float, hub_time: str
) -> str:
    """One line of progress: orders, dead letters, BNMP's state and backlog."""
    rows = await pool.fetch("SELECT state, count(*) AS n FROM release_orders GROUP BY state")
    by_state: dict[str, int] = {r["state"]: r["n"] for r in rows}
    letters = await _one(pool, "SELECT count(*) FROM dead_letters")
    backlog = await _one(pool, "SELECT count(*) FROM deferred WHERE connector = 'bnmp'")
    bnmp = "DOWN" if world.bnmp.faults.down else "up"
    done = by_state.get("certified", 0)
    return (
        f"[{elapsed_s:5.1f}s | hub {hub_time}] orders sent {sent:4d}  certified {done:4d}  "
        f"in flight {sum(by_state.values()) - done:4d}  dead letters {letters:3d}  "
        f"BNMP {bnmp:4s} backlog {backlog:4d}"
    )


@dataclass
class Summary:
    """The closing figures, and whether the run's invariants held."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No invariant was broken."""
        return not self.problems

    def add(self, label: str, value: object) -> None:
        """One figure."""
        self.lines.append(f"  {label:<46} {value}")

    def render(self) -> str:
        """The summary as printed."""
        verdict = "OK" if self.ok else "PROBLEMS:\n    " + "\n    ".join(self.problems)
        return "\n".join(["", "=== demo summary ===", *self.lines, f"  verdict: {verdict}", ""])


def _metric(name: str, **labels: str) -> float:
    total = 0.0
    for family in REGISTRY.collect():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def _certified(rows: dict[str, Any]) -> str:
    done = [r for r in rows.values() if r["state"] == "certified"]
    released = sum(1 for r in done if r["released"])
    return f"{len(done)} ({released} / {sum(1 for r in done if r['released'] is False)})"


def _compliance_hours(rows: dict[str, Any]) -> list[float]:
    return sorted(
        (r["complied_at"] - r["issued_at"]).total_seconds() / 3600
        for r in rows.values()
        if r["complied_at"]
    )


async def _orders(pool: asyncpg.Pool, s: Summary, sent: list[str]) -> None:
    rows = {
        r["order_number"]: r
        for r in await pool.fetch(
            "SELECT order_number, state, released, contingency, issued_at, complied_at"
            " FROM release_orders"
        )
    }
    parked = {
        r["correlation_id"]
        for r in await pool.fetch(
            "SELECT correlation_id FROM dead_letters WHERE correlation_id IS NOT NULL"
        )
    }
    hours = _compliance_hours(rows)
    s.add("release orders sent by the courts", len(sent))
    s.add("certified in BNMP (released / kept)", _certified(rows))
    s.add(
        "complied within the 24 h deadline (hub time)",
        f"{sum(1 for h in hours if h <= 24)} of {len(hours)}",
    )
    if hours:
        s.add(
            "time to compliance, median / max (hub hours)",
            f"{hours[len(hours) // 2]:.2f} / {hours[-1]:.2f}",
        )
    s.add(
        "marked contingency (BNMP down > 60 min)", sum(1 for r in rows.values() if r["contingency"])
    )
    unsettled = [
        n
        for n in sent
        if n not in parked and (rows.get(n) is None or rows[n]["state"] != "certified")
    ]
    if unsettled:
        s.problems.append(
            f"{len(unsettled)} orders neither certified nor dead-lettered: {unsettled[:3]}"
        )


async def _letters(pool: asyncpg.Pool, s: Summary) -> None:
    groups = await pool.fetch(
        "SELECT reason, coalesce(kind, '?') AS kind, count(*) AS n FROM dead_letters"
        " GROUP BY reason, kind ORDER BY n DESC, reason"
    )
    s.add("dead letters", sum(g["n"] for g in groups))
    for g in groups:
        s.add(f"  - {g['reason']}", f"{g['n']} ({g['kind']})")


def _systems(world: SimWorld, s: Summary) -> None:
    st = world.stats()
    s.add("BNMP registrations (distinct documents)", st["bnmp"]["effects"])
    s.add("BNMP duplicate registrations attempted", st["bnmp"]["duplicate_attempts"])
    s.add(
        "units: receipts / released / kept",
        f"{st['units']['receipts']} / {st['units']['released']} / {st['units']['kept']}",
    )
    s.add("court notifications received (distinct)", sum(st["court"]["by_kind"].values()))
    if st["units"]["released_twice"]:
        s.problems.append(f"{st['units']['released_twice']} persons released twice")


async def summarise(pool: asyncpg.Pool, world: SimWorld, sent: list[str]) -> Summary:
    """Everything the summary prints, with the invariants checked."""
    s = Summary()
    await _orders(pool, s, sent)
    s.add("deliveries retried on the ladder", int(_metric("hub_messages_retried_total")))
    s.add(
        "deliveries deferred while a system was down",
        int(_metric("hub_messages_handled_total", outcome="deferred")),
    )
    s.add("deadline alerts raised", int(_metric("hub_deadline_alerts_total")))
    outages = await pool.fetch("SELECT connector, started_at, ended_at FROM outages")
    for o in outages:
        minutes = (
            ((o["ended_at"] - o["started_at"]).total_seconds() / 60) if o["ended_at"] else None
        )
        s.add(
            f"outage recorded: {o['connector']}",
            f"{minutes:.0f} min (hub time)" if minutes else "still open",
        )
    await _letters(pool, s)
    _systems(world, s)
    async with pool.acquire() as conn:
        count, broken = await audit_repo.verify(conn)
    s.add("audit chain", f"{count} rows, " + ("verifies" if broken is None else f"BROKEN {broken}"))
    if broken is not None:
        s.problems.append("audit chain broken")
    return s
