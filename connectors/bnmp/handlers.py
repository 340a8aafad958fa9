"""The BNMP connector: register what the hub sends to `hub.bnmp.out`; poll BNMP for changes.

Registering is idempotent on the document number (BNMP answers 409 with the existing id), so a
delivery made twice (a crash before the ack) still registers the document once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import structlog

from connectors.bnmp.client import BnmpClient
from connectors.bnmp.mapping import Reading, read_page, registered, to_peca
from contracts import BnmpChangeUnrecognised, Envelope, Secrecy, Source
from contracts.envelope import AnyPayload
from hub.connector import ConnectorSpec, Deliver, Resources
from hub.domain.outgoing import Outgoing
from hub.domain.topology import in_queue

__all__ = [
    "ACCEPTS",
    "SOURCE",
    "Cursor",
    "make_deliver",
    "poll_changes",
    "poll_once",
    "probe",
    "spec",
]

log = structlog.get_logger("connectors.bnmp")

SOURCE = Source(connector="bnmp", system="BNMP3")
ACCEPTS = frozenset(
    {
        "bnmp.warrant.complied",
        "bnmp.warrant.expired",
        "bnmp.warrant.recorded",
        "bnmp.change.unrecognised",
    }
)


def _client(resources: Resources) -> BnmpClient:
    return BnmpClient(resources.settings.bnmp, resources.http)


def make_deliver(resources: Resources) -> Deliver:
    """Register each delivered document in BNMP; answer with the registration event."""
    client, clock = _client(resources), resources.clock

    async def deliver(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        return (answer(env, await client.register(to_peca(env)), clock()),)

    return deliver


def answer(env: Envelope, body: Any, now: datetime) -> Envelope:
    """The hub event for BNMP's answer `body` to the registration of `env` (stable id per document
    delivered); a malformed answer raises `ContractError`."""
    return Envelope.new(
        registered(env, body, now),
        source=SOURCE,
        correlation_id=env.correlation_id,
        causation_id=env.message_id,
        secrecy=env.secrecy,
        occurred_at=now,
        message_id=uuid5(NAMESPACE_URL, f"bnmp:registered:{env.message_id}"),
    )


@dataclass(frozen=True)
class Cursor:
    """Where the poller is: the latest change time read, and the items read at exactly that time
    (the next query starts there again, inclusive: they are not published twice)."""

    since: datetime
    seen: frozenset[str] = frozenset()

    def after(self, readings: Iterable[Reading]) -> Cursor:
        """The cursor once `readings` are published (items whose time is unreadable do not move
        it)."""
        since, seen = self.since, set(self.seen)
        for r in readings:
            if r.changed_at is None or r.changed_at < since:
                continue
            if r.changed_at > since:
                since, seen = r.changed_at, set()
            seen.add(r.key)
        return Cursor(since, frozenset(seen))


def _envelope(payload: AnyPayload, now: datetime) -> Envelope:
    """A change as the hub's event, with an id derived from the fact: read twice, it is one
    message (the hub's inbox drops the copy). What the hub does not know travels as secret: it
    goes nowhere but to the operators."""
    secret = Secrecy.SECRET if isinstance(payload, BnmpChangeUnrecognised) else None
    return Envelope.new(
        payload,
        source=SOURCE,
        occurred_at=now,
        secrecy=secret,
        message_id=uuid5(NAMESPACE_URL, f"bnmp:change:{payload.dedup_key}"),
    )


async def _publish(resources: Resources, payload: AnyPayload) -> None:
    env = _envelope(payload, resources.clock())
    if isinstance(payload, BnmpChangeUnrecognised):  # the alert; the record is its dead letter
        log.warning(
            "bnmp.unrecognised",
            what=payload.what,
            label=payload.label,
            document=payload.subject,
            message_id=str(env.message_id),
        )
    await resources.publisher.publish(
        Outgoing(
            exchange=in_queue("bnmp"),
            routing_key="",
            body=env.to_bytes(),
            message_id=str(env.message_id),
            correlation_id=env.correlation_id,
            kind=env.kind,
        )
    )


async def poll_once(resources: Resources, cursor: Cursor) -> Cursor:
    """Publish every change BNMP reports from `cursor` on, page by page; return the new cursor.

    Each item is read on its own (`read_page`): one the hub cannot read or does not know is
    published as `bnmp.change.unrecognised`, which the hub refuses into its dead letters for an
    operator, and the cursor moves past it like past any other. A page that is not a page at all
    raises, and the cursor stays where it was.
    """
    client, page, moved = _client(resources), 0, cursor
    while True:
        read = read_page(await client.changes(cursor.since, page), resources.clock())
        for reading in read.readings:
            if reading.key in cursor.seen:
                continue  # published by the poll before, at the cursor's own time
            for payload in reading.payloads:
                await _publish(resources, payload)
        moved = moved.after(read.readings)
        if read.last:
            return moved
        page += 1


async def poll_changes(resources: Resources) -> None:
    """Every `poll_every_s`, publish what BNMP reports of warrants (issued, complied, revoked,
    expired there) to `hub.bnmp.in`.

    Change ids derive from the document and the fact, so re-reading a page raises nothing new
    downstream (the inbox drops the copy). The cursor starts a day back after a restart.
    """
    settings, clock = resources.settings.bnmp, resources.clock
    cursor = Cursor(clock() - timedelta(days=1))
    while True:
        try:
            cursor = await poll_once(resources, cursor)
        except Exception as e:  # keep polling through outages and pages that are not pages
            log.warning("bnmp.poll_failed", error=type(e).__name__)
        await asyncio.sleep(settings.poll_every_s)


async def probe(resources: Resources) -> object:
    """BNMP answers an OAuth2 token request."""
    return await _client(resources).probe()


spec = ConnectorSpec(
    "bnmp",
    ACCEPTS,
    deliver=make_deliver,
    probe=probe,
    tasks=(poll_changes,),
    description="BNMP 3.0, the register of record: registers documents and certificates; polls "
    "for the warrants it holds (issued, complied, revoked, expired there).",
)
