"""A RabbitMQ resource alarm under the running hub (a private node of the test's own).

When a node runs short of memory it blocks every connection that publishes (`connection.blocked`)
and reads nothing more from it until the alarm clears. The hub must not lose, spin or time out
into dead letters: it pauses its intake, says so (the ops API's broker status and banner,
`hub_broker_blocked`), holds what it was publishing without timing it out, and resumes when the
node unblocks it. The alarm is raised and cleared at run time with `rabbitmqctl
set_vm_memory_high_watermark` on a private node (`deploy/private.sh`, its own ports and directory,
removed at the end). Locally the test skips where `rabbitmq-server` is missing; under `CI=true` it
fails instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
import pytest_asyncio

from contracts import Envelope
from hub import metrics
from hub.amqp.publisher import Publisher
from hub.app import Hub
from hub.connector import ConnectorSpec
from hub.domain.outgoing import Outgoing
from hub.domain.topology import retry_queue
from hub.errors import PublishFailed, UpstreamThrottled
from hub.ops.service import OpsService
from hub.settings import (
    AcksSettings,
    EngineSettings,
    HubSettings,
    PostgresSettings,
    RabbitSettings,
    RetrySettings,
    SecuritySettings,
)
from tests.conftest import PG_DSN
from tests.factories import COURT_SIGNER

from .harness import database, send, wait_for
from .test_acks import _order, _specs, _validated

PRIVATE_SH = Path(__file__).resolve().parents[2] / "deploy" / "private.sh"
HAVE_RABBIT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists()
NODE, AMQP_PORT = "hubalarm", 5698
AMQP_URL = f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/"
MGMT_URL = f"http://guest:guest@127.0.0.1:{AMQP_PORT + 10000}/"
CONFIRM_TIMEOUT_S = 1.0  # the test keeps the hub blocked for several of these
RUNG_S = 6.0  # the retry ladder's one rung: long enough to raise the alarm meanwhile
RUNG = retry_queue(RUNG_S)


async def _private(env: Mapping[str, str], *args: str, timeout_s: float = 120.0) -> str:
    """Run `deploy/private.sh ARGS` with `env`; its output, or RuntimeError."""
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(PRIVATE_SH),
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"private.sh {' '.join(args)}: not done in {timeout_s} s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"private.sh {' '.join(args)}: {text[-800:]}")
    return text


class Node:
    """The private node, and its memory watermark at run time."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    async def alarm(self) -> None:
        """A watermark far below what the node uses: the memory alarm goes off."""
        await _private(self.env, "rabbitctl", NODE, "set_vm_memory_high_watermark", "absolute", "1")

    async def clear(self) -> None:
        """The default watermark again: the alarm clears."""
        await _private(self.env, "rabbitctl", NODE, "set_vm_memory_high_watermark", "0.4")

    async def alarms(self) -> list[str]:
        async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as api:
            nodes = (await api.get(f"http://127.0.0.1:{AMQP_PORT + 10000}/api/nodes")).json()
        return [n["name"] for n in nodes if n.get("mem_alarm")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node() -> AsyncIterator[Node]:
    """A private RabbitMQ node in a directory of its own; removed with it at the end."""
    if not HAVE_RABBIT:
        reason = "no rabbitmq-server here (apt-get install rabbitmq-server)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    base = tempfile.mkdtemp(prefix="hub-alarm-node-")
    env = {**os.environ, "HUB_PRIVATE_DIR": base}
    try:
        await _private(env, "rabbit", "start", NODE, str(AMQP_PORT))
        yield Node(env)
    finally:
        await _private(env, "remove", timeout_s=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="module")
async def vhost_url(node: Node) -> AsyncIterator[str]:
    """A vhost of the test's own on the private node (its AMQP URL); deleted afterwards."""
    name = f"alarm-{uuid.uuid4().hex[:8]}"
    api = f"http://127.0.0.1:{AMQP_PORT + 10000}/api"
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as http:
        (await http.put(f"{api}/vhosts/{name}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await http.put(f"{api}/permissions/{name}/guest", json=perms)).raise_for_status()
        try:
            yield f"{AMQP_URL}{name}"
        finally:
            await http.delete(f"{api}/vhosts/{name}")


def _settings(schema: str, url: str) -> HubSettings:
    return HubSettings(
        units=("mg.presidio-bh-01", "mg.ceresp-bh"),
        rabbit=RabbitSettings(
            url=url,
            management_url=MGMT_URL,
            prefetch=64,
            delivery_limit=3,
            confirm_timeout_s=CONFIRM_TIMEOUT_S,
        ),
        postgres=PostgresSettings(dsn=PG_DSN, schema=schema, pool_min=1, pool_max=4),
        retry=RetrySettings(ladder_s=(RUNG_S,), immediate_attempts=1, immediate_wait_s=0),
        engine=EngineSettings(max_batch=64, max_wait_ms=1, outbox_sweep_s=0.2, outbox_grace_s=0.5),
        acks=AcksSettings(hub_window_s=60, blocked_poll_s=0.1),
        security=SecuritySettings(  # production's checks, the tests' court registered
            court_keys={COURT_SIGNER.key_id: COURT_SIGNER.court_key(("tjmg.*",))}
        ),
    )


async def _count(settings: HubSettings, sql: str, *args: Any) -> int:
    async with database(settings) as db:
        return int(await db.fetchval(sql, *args))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(240)
async def test_a_memory_alarm_pauses_the_hub_and_nothing_is_lost(
    node: Node, vhost_url: str, schema: str
) -> None:
    """Memory alarm on while SETARIM's answer to one order is being settled: the hub's publish of
    it blocks the connection. The hub says so, holds that publish past several confirm timeouts
    without failing it, and takes no new message: another order's SETARIM delivery, back from the
    retry ladder meanwhile, waits undelivered. Alarm off: everything goes through, nothing was
    dead-lettered, nothing timed out."""
    s = _settings(schema, vhost_url)
    gate = asyncio.Event()
    first, second = _order(60), _order(61)
    calls: Counter[str] = Counter()

    async def setarim(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        calls[env.correlation_id] += 1
        if env.correlation_id == second.correlation_id and calls[env.correlation_id] == 1:
            raise UpstreamThrottled("setarim", "429")  # back from the ladder during the alarm
        if env.correlation_id == first.correlation_id:
            await gate.wait()  # SETARIM answers once the alarm is on
        return await _validated(env, headers)

    specs = [spec for spec in _specs() if spec.name != "setarim"]
    specs.append(ConnectorSpec("setarim", frozenset(), deliver=lambda _r: setarim))
    retried, dead = _total(metrics.RETRIED), _total(metrics.DEAD_LETTERED)
    counted = _Counting()
    async with Hub(s, specs=specs, background=True, wrap_publisher=counted.wrap) as hub:
        ops = OpsService.from_hub(hub)
        try:  # the alarm is cleared whatever happens: a blocked client cannot even close
            court = await aio_pika.connect(vhost_url)
            async with court:
                channel = await court.channel(publisher_confirms=False)
                for env in (first, second):
                    await send(channel, "hub.court.in", env)
                await wait_for(
                    lambda: _depth(vhost_url, RUNG), what="the second order on the retry ladder"
                )
                await node.alarm()
                await wait_for(node.alarms, what="the node's memory alarm")
                gate.set()  # the hub publishes SETARIM's answer: the node blocks its connection
                await wait_for(lambda: _true(hub.flow.blocked), what="the hub seeing the block")
                assert metrics.BROKER_BLOCKED._value.get() == 1
                status = await ops.broker()
                assert status.blocked is True
                assert status.blocked_since is not None
                assert status.alarms == [f"memory on {NODE}@localhost"]

                async def handed_over() -> bool:  # off the ladder, and out of its work queue
                    return (
                        await _depth(vhost_url, RUNG) == 0
                        and await _depth(vhost_url, "hub.setarim.out") == 0
                    )

                await wait_for(handed_over, what="the retry handed to the hub")
                blocked_at = time.monotonic()
                await wait_for(
                    lambda: _true(time.monotonic() - blocked_at > 3 * CONFIRM_TIMEOUT_S),
                    what="three confirm timeouts while blocked",
                )
                assert hub.flow.blocked
                assert calls[second.correlation_id] == 1  # held by the paused intake
                assert await _count(s, "SELECT count(*) FROM dead_letters") == 0
                assert _total(metrics.DEAD_LETTERED) == dead
                assert counted.failed == []  # nothing timed out while the node read nothing

                await node.clear()
                await wait_for(lambda: _true(not hub.flow.blocked), what="the hub unblocked")
                assert metrics.BROKER_BLOCKED._value.get() == 0

                async def settled() -> bool:
                    unconfirmed = await _count(
                        s, "SELECT count(*) FROM outbox WHERE confirmed_at IS NULL"
                    )
                    validated = await _count(
                        s,
                        "SELECT count(*) FROM outbox_acks a JOIN outbox o USING (message_id)"
                        " WHERE o.kind = 'setarim.validation.completed' AND a.acked_at IS NOT NULL"
                        " AND a.queue = 'hub.court.out'",
                    )
                    return unconfirmed == 0 and validated == 2

                await wait_for(settled, within=60, what="everything published and delivered")
            assert (await ops.broker()).blocked is False
        finally:
            await node.clear()
            await ops.aclose()
    assert calls == {first.correlation_id: 1, second.correlation_id: 2}
    assert await _count(s, "SELECT count(*) FROM dead_letters") == 0
    assert _total(metrics.RETRIED) - retried == 1  # the second order's one rung, before the alarm
    assert _total(metrics.DEAD_LETTERED) == dead
    assert counted.failed == []


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(240)
async def test_a_hub_blocked_by_an_alarm_stops_and_the_next_one_finishes(
    node: Node, vhost_url: str, schema: str
) -> None:
    """A hub stopped while the node blocks it stops in bounded time: what it held is given back
    (the deliveries it had not taken up, unacknowledged) or kept (SETARIM's answer, committed and
    not confirmed, stays in the outbox). The next hub, after the alarm, finishes the work: the
    answer is published and delivered to the court, SETARIM is not asked again, nothing is lost."""
    s = _settings(schema, vhost_url)
    gate = asyncio.Event()
    calls: Counter[str] = Counter()

    async def setarim(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        calls[env.correlation_id] += 1
        await gate.wait()
        return await _validated(env, headers)

    specs = [spec for spec in _specs() if spec.name != "setarim"]
    specs.append(ConnectorSpec("setarim", frozenset(), deliver=lambda _r: setarim))
    order = _order(70)
    try:
        hub = Hub(s, specs=specs, background=True)
        await hub.start()
        try:
            court = await aio_pika.connect(vhost_url)
            await send(await court.channel(publisher_confirms=False), "hub.court.in", order)
            await wait_for(lambda: _true(calls[order.correlation_id] == 1), what="SETARIM asked")
            await node.alarm()
            await wait_for(node.alarms, what="the node's memory alarm")
            gate.set()
            await wait_for(lambda: _true(hub.flow.blocked), what="the hub seeing the block")
        finally:
            started = time.monotonic()
            await hub.stop()
            stopped_in = time.monotonic() - started
        assert stopped_in < 30, stopped_in
        sql = "SELECT count(*) FROM outbox WHERE kind = 'setarim.validation.completed'"
        assert await _count(s, sql) == 1  # committed, held
        await node.clear()
        await court.close()
        async with Hub(s, specs=specs, background=True):

            async def delivered() -> bool:
                done = await _count(
                    s,
                    "SELECT count(*) FROM outbox_acks a JOIN outbox o USING (message_id)"
                    " WHERE o.kind = 'setarim.validation.completed' AND a.queue = 'hub.court.out'"
                    " AND a.acked_at IS NOT NULL",
                )
                return done == 1

            await wait_for(delivered, within=60, what="the held answer published and delivered")
    finally:
        await node.clear()
    assert calls == {order.correlation_id: 1}  # the redelivered copy was known: not asked again
    assert await _count(s, "SELECT count(*) FROM dead_letters") == 0
    assert await _count(s, sql) == 1


class _Counting:
    """The hub's publisher, with every failure it reports kept (a timeout is one)."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.inner: Publisher | None = None

    def wrap(self, inner: Publisher) -> Publisher:
        self.inner = inner
        return self

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishFailed | None]:
        assert self.inner is not None
        results = await self.inner.publish_many(messages)
        self.failed += [str(r) for r in results if r is not None]
        return results

    async def publish(self, message: Outgoing) -> None:
        assert self.inner is not None
        try:
            await self.inner.publish(message)
        except PublishFailed as e:
            self.failed.append(str(e))
            raise


async def _true(value: bool) -> bool:
    return value


async def _depth(url: str, queue: str) -> int:
    """How many messages are ready in `queue`, asked on a connection of the test's that never
    publishes (the node does not block it)."""
    conn = await aio_pika.connect(url)
    async with conn:
        q = await (await conn.channel()).declare_queue(queue, passive=True)
        return int(q.declaration_result.message_count or 0)


def _total(counter: Any) -> float:
    return float(
        sum(
            s.value
            for family in counter.collect()
            for s in family.samples
            if s.name.endswith("_total")
        )
    )
