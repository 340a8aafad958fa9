"""SQL for reconciliation with BNMP: the hub's records to compare, and the drift found.

The comparison itself is pure (`hub.domain.reconcile`); this reads the rows it needs (changed since
a time: the reconciliation's window) and replaces the recorded drift with a run's findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.domain.reconcile import (
    CertifiedOrder,
    Drift,
    DriftKind,
    HeldTitle,
    HubRecords,
    OpenWarrant,
)
from hub.store.pool import Conn

__all__ = ["hub_records", "recorded_drift", "replace_drift"]


async def hub_records(conn: Conn, since: datetime) -> HubRecords:
    """The hub's side of a reconciliation: orders certified released, warrants it counts open,
    and the custody it knows (complied warrants; orders certified kept, with their impediments),
    each changed since `since`."""
    certified = await conn.fetch(
        "SELECT order_number, process_number, issuing_court,"
        " ARRAY(SELECT jsonb_array_elements_text(document->'covered_warrants')) AS covered"
        " FROM release_orders WHERE state = 'certified' AND released AND updated_at >= $1"
        " ORDER BY order_number",
        since,
    )
    warrants = await conn.fetch(
        "SELECT warrant_number, process_number, coalesce(issuing_court, '') AS court, state"
        " FROM warrants WHERE state IN ('pending', 'complied') AND updated_at >= $1"
        " ORDER BY warrant_number",
        since,
    )
    kept = await conn.fetch(
        "SELECT order_number, issuing_court, impediments FROM release_orders"
        " WHERE state = 'certified' AND released = false AND updated_at >= $1"
        " ORDER BY order_number",
        since,
    )
    return HubRecords(
        certified=[
            CertifiedOrder(
                r["order_number"], r["process_number"], r["issuing_court"], tuple(r["covered"])
            )
            for r in certified
        ],
        open_warrants=[
            OpenWarrant(r["warrant_number"], r["process_number"], r["court"], r["state"])
            for r in warrants
        ],
        held=[
            HeldTitle(r["warrant_number"], r["court"], (r["warrant_number"],))
            for r in warrants
            if r["state"] == "complied"
        ]
        + [HeldTitle(r["order_number"], r["issuing_court"], tuple(r["impediments"])) for r in kept],
    )


async def replace_drift(conn: Conn, drift: Sequence[Drift], now: datetime) -> None:
    """Record `drift` as what is wrong now (the previous run's findings are replaced)."""
    async with conn.transaction():
        await conn.execute("DELETE FROM bnmp_drift")
        await conn.executemany(
            "INSERT INTO bnmp_drift (kind, subject, court, detail, found_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, subject) DO NOTHING",
            [(d.kind.value, d.subject, d.court, d.detail, now) for d in drift],
        )


async def recorded_drift(conn: Conn) -> list[Drift]:
    """The drift the last reconciliation found."""
    rows = await conn.fetch(
        "SELECT kind, subject, court, detail FROM bnmp_drift ORDER BY court, kind, subject"
    )
    return [Drift(DriftKind(r["kind"]), r["subject"], r["court"], r["detail"]) for r in rows]
