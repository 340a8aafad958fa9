"""The BNMP poller against the BNMP simulator (in process, no network): what it publishes, where
its cursor goes, and that a poison item neither stops the page nor is published twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx

from connectors.bnmp.handlers import Cursor, poll_once
from connectors.bnmp.mapping import Reading, digits
from contracts import format_cnj, parse_envelope
from hub.connector import Resources
from hub.domain.outgoing import Outgoing
from hub.settings import BnmpSettings
from sandbox.simulators.bnmp import BnmpSimulator, Issue, create_app
from tests.factories import CPF

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def publish(self, message: Outgoing) -> None:
        self.sent.append(message)


def _resources(sim: BnmpSimulator, publisher: _Publisher) -> Resources:
    settings: Any = SimpleNamespace(bnmp=BnmpSettings(url="http://bnmp.test"))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
    return Resources(settings=settings, http=http, publisher=publisher, clock=lambda: T0)


def _issue(sim: BnmpSimulator, process: int, at: datetime) -> str:
    piece = sim.issue(
        Issue(numeroProcesso=digits(format_cnj(process, 2024, 8, 13, 24)), numeroCpf=CPF, at=at)
    )
    return piece.numeroPeca


async def test_a_poll_publishes_each_item_once_and_moves_past_a_poison_one() -> None:
    """A warrant issued in BNMP, an item with a 27-digit number, a later warrant: the two warrants
    and the record of the poison item are published, the cursor moves to the latest change, and
    the next poll publishes nothing again."""
    sim, publisher = BnmpSimulator(), _Publisher()
    first = _issue(sim, 1, T0 - timedelta(hours=2))
    poison = sim.item(sim.pieces[first]) | {
        "numeroPeca": first[:-1],
        "dataAlteracao": (T0 - timedelta(hours=1)).isoformat(),
    }
    sim.serve_raw(poison)
    later = _issue(sim, 2, T0)
    resources = _resources(sim, publisher)
    cursor = await poll_once(resources, Cursor(T0 - timedelta(days=1)))
    kinds = [parse_envelope(m.body).kind for m in publisher.sent]
    assert kinds == ["bnmp.warrant.recorded", "bnmp.change.unrecognised", "bnmp.warrant.recorded"]
    assert parse_envelope(publisher.sent[1].body).secrecy == "secret"  # goes to operators only
    assert cursor.since == T0
    assert len(cursor.seen) == 1
    again = await poll_once(resources, cursor)
    assert len(publisher.sent) == 3  # the item at the cursor's own time is not published again
    assert again == cursor
    sim.comply(later, T0 + timedelta(minutes=1))  # the person's other warrant with it (R417)
    moved = await poll_once(resources, cursor)
    complied = [parse_envelope(m.body).payload for m in publisher.sent[3:]]
    assert {(p.kind, digits(p.business_key)) for p in complied} == {
        ("bnmp.warrant.complied", later),
        ("bnmp.warrant.complied", first),
    }
    assert moved.since == T0 + timedelta(minutes=1)


def _reading(key: str, at: datetime | None) -> Reading:
    return Reading(key, at, ())


def test_the_cursor_keeps_the_items_at_its_own_time() -> None:
    """Later items move the cursor and start its set again; items at its time join the set; an
    item whose time is unreadable or earlier changes nothing."""
    start = Cursor(T0, frozenset({"a"}))
    assert start.after([_reading("b", T0)]) == Cursor(T0, frozenset({"a", "b"}))
    assert start.after([_reading("c", T0 + timedelta(seconds=1))]) == Cursor(
        T0 + timedelta(seconds=1), frozenset({"c"})
    )
    assert start.after([_reading("d", None), _reading("e", T0 - timedelta(seconds=1))]) == start
