"""Every destination acknowledges, or someone is told (real broker and database).

Each destination of a message the hub sends is tracked on its own (`outbox_acks`): closed by the
hub's consumer's delivery (BNMP, SETARIM, the courts) or by the unit's answer (its receipt, its
compliance certificate). A copy lost with its queue is published again to that queue alone, with
the same id; one never acknowledged is alerted after a few tries, on the dashboard and in the
audit log; a delivery the hub holds (its system is down) is not published again.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from uuid import NAMESPACE_URL, uuid5

import aiormq
import pytest

from connectors import court, custodial_unit
from contracts import Envelope, Source, ValidationCompleted, format_cnj
from hub import metrics
from hub.app import Hub
from hub.connector import ConnectorSpec, Deliver
from hub.domain.topology import unit_exchange, unit_queue
from hub.errors import UpstreamUnavailable
from hub.ops.service import OpsService
from hub.settings import AcksSettings, HubSettings
from tests.factories import (
    UNIT,
    make_compliance,
    make_envelope,
    make_receipt,
    make_release_order,
)

from .harness import amqp, database, drain, send, wait_for
from .test_delivery import registered

U = unit_queue(UNIT)
ISSUED = "court.release_order.issued"
UNIT_IN = unit_exchange(UNIT)  # the unit's own way in: only its user may write it
SETARIM = Source(connector="setarim", system="SETARIM", unit="mg.setarim")


async def _nothing(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
    return ()


async def _validated(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
    """SETARIM clears the order in `env`."""
    if env.kind != ISSUED:
        return ()
    result = ValidationCompleted(
        order_number=env.correlation_id,
        certificate_number="SETARIM-2024-000123",
        validated_at=datetime.now(UTC),
        impediments=(),
    )
    mid = uuid5(NAMESPACE_URL, f"setarim:{env.message_id}")
    return (
        Envelope.new(result, source=SETARIM, correlation_id=env.correlation_id, message_id=mid),
    )


async def _registered(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
    return registered(env) if env.kind == ISSUED else ()


def _specs(bnmp: Deliver = _registered) -> list[ConnectorSpec]:
    """BNMP registers, SETARIM clears, the court's webhook takes everything (the court's and the
    units' real verifiers); the unit answers through its own exchange (`UNIT_IN`)."""
    return [
        dataclasses.replace(court.spec, deliver=lambda _r: _nothing),
        ConnectorSpec("bnmp", frozenset(), deliver=lambda _r: bnmp),
        ConnectorSpec("setarim", frozenset(), deliver=lambda _r: _validated),
        custodial_unit.spec,
    ]


async def delete_by_hand(settings: HubSettings, what: str, name: str) -> None:
    """Delete a queue or an exchange (`what`: "queues", "exchanges") as an operator would, with
    the management API."""
    from tests.conftest import _mgmt

    vhost = quote(unquote(urlsplit(settings.rabbit.url).path.lstrip("/")), safe="")
    async with _mgmt() as api:
        (await api.delete(f"/{what}/{vhost}/{quote(name, safe='')}")).raise_for_status()


def _with(settings: HubSettings, **acks: Any) -> HubSettings:
    return settings.model_copy(update={"acks": AcksSettings(**acks)})


def _order(i: int) -> Envelope:
    process = format_cnj(3000 + i, 2023, 8, 13, 24)
    order = make_release_order(
        order_number=f"{process}.0002",
        process_number=process,
        covered_warrants=(f"{process}.0001",),
    )
    return make_envelope(order, message_id=uuid.uuid4())


async def _rows(settings: HubSettings, subject: str) -> dict[tuple[str, str], Any]:
    """The acknowledgements of one subject's messages, by (queue, kind)."""
    return {(q, k): r for (q, k, _s), r in (await _all(settings, subject)).items()}


async def _all(
    settings: HubSettings, subject: str | None = None
) -> dict[tuple[str, str, str], Any]:
    """The acknowledgements of every message (or one subject's), by (queue, kind, subject)."""
    async with database(settings) as db:
        rows = await db.fetch(
            "SELECT a.*, o.kind, o.correlation_id FROM outbox_acks a"
            " JOIN outbox o USING (message_id)"
            " WHERE $1::text IS NULL OR o.correlation_id = $1",
            subject,
        )
    return {(r["queue"], r["kind"], r["correlation_id"]): r for r in rows}


async def test_each_destination_is_closed_by_its_own_evidence(settings: HubSettings) -> None:
    """BNMP's and SETARIM's copies close when the hub delivered them; the unit's release order
    closes with its receipt; what else it was sent about the order, with its compliance."""
    env = _order(1)
    order = env.correlation_id
    async with Hub(settings, specs=_specs(), background=False), amqp(settings) as ch:
        await send(ch, "hub.court.in", env)

        async def delivered() -> object:
            rows = await _rows(settings, order)
            bnmp, setarim = (
                rows.get(("hub.bnmp.out", ISSUED)),
                rows.get(("hub.setarim.out", ISSUED)),
            )
            return bnmp and setarim and bnmp["acked_at"] and setarim["acked_at"]

        await wait_for(delivered, what="BNMP's and SETARIM's deliveries")
        rows = await _rows(settings, order)
        assert rows[("hub.bnmp.out", ISSUED)]["acked_by"] == "delivered"
        assert rows[("hub.setarim.out", ISSUED)]["acked_by"] == "delivered"
        assert rows[(U, ISSUED)]["acked_at"] is None  # the unit has not answered

        # The unit reads its copy (the forwarded id the outbox row carries) and answers.
        copies = [m for m in await drain(ch, U) if m.type == ISSUED]
        assert [m.message_id for m in copies] == [str(rows[(U, ISSUED)]["message_id"])]
        receipt = make_receipt(order_number=order, unit=UNIT)
        await send(ch, UNIT_IN, make_envelope(receipt, message_id=uuid.uuid4()))

        async def answered(kind: str, by: str) -> bool:
            row = (await _rows(settings, order)).get((U, kind))
            return row is not None and row["acked_by"] == by

        await wait_for(lambda: answered(ISSUED, "receipt"), what="the receipt closing it")
        validation = "setarim.validation.completed"
        await wait_for(lambda: _has(settings, order, U, validation), what="validation sent")
        assert not await answered(validation, "compliance")
        compliance = make_compliance(order_number=order, unit=UNIT)
        await send(ch, UNIT_IN, make_envelope(compliance, message_id=uuid.uuid4()))
        await wait_for(lambda: answered(validation, "compliance"), what="compliance closing")

        async def all_closed() -> bool:
            rows = await _rows(settings, order)
            return len(rows) == 9 and all(r["acked_at"] for r in rows.values())

        await wait_for(all_closed, what="every destination closed")
    rows = await _rows(settings, order)
    # Every destination the order's messages went to is closed, each by its own evidence.
    assert {k: r["acked_by"] for k, r in rows.items()} == {
        ("hub.bnmp.out", ISSUED): "delivered",
        ("hub.setarim.out", ISSUED): "delivered",
        (U, ISSUED): "receipt",
        (U, validation): "compliance",
        ("hub.court.out", validation): "delivered",
        ("hub.court.out", "bnmp.registration.completed"): "delivered",
        ("hub.court.out", "custodial_unit.receipt.acknowledged"): "delivered",
        ("hub.court.out", "custodial_unit.compliance.certified"): "delivered",
        ("hub.bnmp.out", "custodial_unit.compliance.certified"): "delivered",
    }
    assert all(r["tries"] == 0 for r in rows.values())


async def _has(settings: HubSettings, subject: str, queue: str, kind: str) -> bool:
    return (queue, kind) in await _rows(settings, subject)


async def test_a_copy_lost_with_its_queue_is_published_again_alone(settings: HubSettings) -> None:
    """A unit's queue deleted under the running hub: the orders' other copies are delivered, the
    unit's vanish (one publish per destination set). Once the queue is back, the reconciler
    publishes each lost copy again to that queue alone, with its id, and the unit's answers close
    them."""
    s = _with(
        settings, hub_window_s=1, receipt_window_s=1, answer_window_s=1, reconcile_every_s=0.2,
        heal_every_s=3600, max_tries=10,
    )  # fmt: skip
    orders = [_order(i) for i in range(3)]
    validation = "setarim.validation.completed"
    before = _sample(metrics.ACKS_REPUBLISHED, "unit")
    async with Hub(s, specs=_specs(), background=True) as hub, amqp(s) as ch:
        await delete_by_hand(s, "queues", U)  # under the running hub
        for env in orders:
            await send(ch, "hub.court.in", env)

        async def only_the_units_open() -> bool:
            rows = await _all(s)
            sent = {(k, subj) for q, k, subj in rows if q == U}
            validated = all((validation, e.correlation_id) in sent for e in orders)
            others = [r for (q, _k, _s), r in rows.items() if q != U]
            return validated and all(r["acked_at"] for r in others)

        await wait_for(only_the_units_open, what="every copy but the unit's delivered")
        with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
            async with amqp(s) as probe:
                await probe.declare_queue(U, passive=True)
        lost = {str(r["message_id"]) for (q, _k, _s), r in (await _all(s)).items() if q == U}
        assert len(lost) == 2 * len(orders)  # each order and its validation
        # The healer's round (on its schedule, here called at once) declares the queue again.
        assert (await hub.healer.heal())["queue"] == [U]

        found: list[Any] = []

        async def copies() -> bool:
            found.extend(await drain(ch, U))
            return {m.message_id for m in found} >= lost

        await wait_for(copies, within=30, what="the lost copies published again")
        assert all(m.routing_key == U and "BCC" not in m.headers for m in found)
        for answer in (make_receipt, make_compliance):
            for e in orders:
                a = answer(order_number=e.correlation_id, unit=UNIT)
                await send(ch, UNIT_IN, make_envelope(a, message_id=uuid.uuid4()))

            async def closed(by: str = answer.__name__.removeprefix("make_")) -> bool:
                rows = await _all(s)
                return sum(1 for r in rows.values() if r["acked_by"] == by) == len(orders)

            await wait_for(closed, what=f"the unit's {answer.__name__} closing its copies")
    rows = [r for (q, _k, _s), r in (await _all(s)).items() if q == U]
    assert all(r["tries"] >= 1 and r["alerted_at"] is None and r["acked_at"] for r in rows)
    assert _sample(metrics.ACKS_REPUBLISHED, "unit") - before >= len(lost)


async def test_a_destination_that_never_acknowledges_is_alerted(settings: HubSettings) -> None:
    """A unit that takes its copies but never answers gets the copy again `max_tries` times; then
    the reconciler stops, and tells: the audit log, the metric, the dashboard. A late receipt still
    closes it."""
    s = _with(settings, hub_window_s=0.5, receipt_window_s=0.5, reconcile_every_s=0.1, max_tries=2)
    env = _order(7)
    order = env.correlation_id
    before = _sample(metrics.ACKS_ALERTED, "unit")
    async with Hub(s, specs=_specs(), background=True) as hub:
        ops = OpsService.from_hub(hub)
        try:
            async with amqp(s) as ch:
                await send(ch, "hub.court.in", env)
                taken: list[Any] = []

                async def alerted() -> object:
                    taken.extend(await drain(ch, U))  # the unit takes each copy, says nothing
                    return (await _rows(s, order)).get((U, ISSUED), {}).get("alerted_at")

                await wait_for(alerted, within=30, what="the alert")
                taken.extend(await drain(ch, U))
                row = (await _rows(s, order))[(U, ISSUED)]
                assert row["tries"] == 2
                assert row["acked_at"] is None
                orders_taken = [m.message_id for m in taken if m.type == ISSUED]
                assert orders_taken == [str(row["message_id"])] * 3  # sent, and 2 tries
                answer = await ops.delivery_acks(alerted_only=True)
                assert [(i.queue, i.subject, i.kind) for i in answer.items] == [(U, order, ISSUED)]
                assert answer.alerted == {"unit": 1}
                assert (await ops.overview()).acks_alerted == 1
                async with database(s) as db:
                    audited = await db.fetchval(
                        "SELECT detail FROM audit_log WHERE action = 'delivery.unacknowledged'"
                        " AND subject = $1",
                        order,
                    )
                assert audited["queue"] == U
                assert audited["tries"] == 2
                assert _sample(metrics.ACKS_ALERTED, "unit") - before == 1

                receipt = make_receipt(order_number=order, unit=UNIT)
                await send(ch, UNIT_IN, make_envelope(receipt, message_id=uuid.uuid4()))

                async def closed() -> object:
                    return (await _rows(s, order))[(U, ISSUED)]["acked_by"] == "receipt"

                await wait_for(closed, what="the late receipt closing it")
                assert (await ops.overview()).acks_alerted == 0
        finally:
            await ops.aclose()


async def test_a_delivery_the_hub_holds_is_not_published_again(settings: HubSettings) -> None:
    """BNMP down: its deliveries are deferred, in order, in the hub's own store. The reconciler
    looks at them past their window and leaves them (no copy, no try, no alert); when BNMP
    answers again the drainer delivers them and that closes them."""
    s = _with(settings, hub_window_s=0.3, receipt_window_s=3600, reconcile_every_s=0.1, max_tries=1)
    down = True

    async def bnmp(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        if down:
            raise UpstreamUnavailable("bnmp", "connection refused")
        return await _registered(env, headers)

    env = _order(9)
    order = env.correlation_id
    async with Hub(s, specs=_specs(bnmp), background=True), amqp(s) as ch:
        await send(ch, "hub.court.in", env)

        async def looked_at() -> bool:
            row = (await _rows(s, order)).get(("hub.bnmp.out", ISSUED))
            return row is not None and row["next_at"] is not None

        await wait_for(looked_at, what="the reconciler's look at the deferred delivery")
        row = (await _rows(s, order))[("hub.bnmp.out", ISSUED)]
        assert (row["tries"], row["alerted_at"], row["acked_at"]) == (0, None, None)
        down = False

        async def delivered() -> object:
            return (await _rows(s, order))[("hub.bnmp.out", ISSUED)]["acked_by"] == "delivered"

        await wait_for(delivered, what="the drained delivery closing it")
    row = (await _rows(s, order))[("hub.bnmp.out", ISSUED)]
    assert (row["tries"], row["alerted_at"]) == (0, None)


def _sample(counter: Any, role: str) -> float:
    return float(counter.labels(role)._value.get())
