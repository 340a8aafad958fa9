"""On the real broker, each party's RabbitMQ user reaches only its own exchanges and queues; forged
court documents and units speaking for other units are dead-lettered with their reason.

Users are broker-wide, not per vhost, so each test's users carry a random prefix
(`SecuritySettings.user_prefix`) and are deleted at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import httpx
import pytest
from aio_pika.exceptions import ProbableAuthenticationError
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed

from connectors import court, custodial_unit
from connectors.court.signing import CourtSigner
from connectors.custodial_unit.client import UnitClient
from contracts import Envelope, ReceiptAcknowledged, Source
from hub.amqp.declare import declare, make_broker
from hub.app import Hub
from hub.domain.grants import Grant, grants, user_definitions
from hub.domain.topology import build_topology, in_queue, unit_exchange, unit_queue
from hub.settings import HubSettings, SecuritySettings
from tests.conftest import AMQP_URL, MGMT_URL, _mgmt
from tests.factories import (
    OFFICIAL,
    make_envelope,
    make_receipt,
    make_release_order,
    make_revocation,
    make_warrant,
)

from .harness import amqp, database, depth, send, wait_for

ROOT = Path(__file__).resolve().parents[2]
SIGNER = CourtSigner.generate("test-rupe", "RUPE")  # the factories' court documents come from RUPE
A, B = "mg.presidio-bh-01", "mg.ceresp-bh"  # the units of the `settings` fixture
COURT_IN, UNIT_IN = in_queue("court"), in_queue("custodial_unit")
# The real court and unit connectors (their verify), without the court's webhook: no court listens.
SPECS = (dataclasses.replace(court.spec, deliver=None), custodial_unit.spec)


@dataclass
class Users:
    """This test's RabbitMQ users, their passwords, and AMQP URLs into the test's vhost."""

    security: SecuritySettings
    vhost: str
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        """The AMQP URL that logs in as `user` (a name without this test's prefix)."""
        name = self.security.user_prefix + user
        parts = urlsplit(AMQP_URL)
        login = f"{quote(name, safe='')}:{quote(self.passwords[name], safe='')}"
        netloc = f"{login}@{parts.hostname}:{parts.port or 5672}"
        return urlunsplit((parts.scheme, netloc, "/" + quote(self.vhost, safe=""), "", ""))

    def unit(self, unit: str) -> str:
        """The AMQP URL of custodial unit `unit`'s own user."""
        return self.url(f"unit-{unit}")


def _security(prefix: str) -> SecuritySettings:
    """The production defaults (signatures and unit identity required), trusting SIGNER."""
    return SecuritySettings(user_prefix=prefix, court_keys={SIGNER.key_id: SIGNER.court_key()})


async def _create(api: httpx.AsyncClient, vhost: str, g: Grant, password: str) -> None:
    user = quote(g.user, safe="")
    account = {"password": password, "tags": ",".join(g.tags)}
    (await api.put(f"/users/{user}", json=account)).raise_for_status()
    perms = {"configure": g.configure, "write": g.write, "read": g.read}
    (await api.put(f"/permissions/{quote(vhost, safe='')}/{user}", json=perms)).raise_for_status()


async def _delete_users(names: list[str]) -> None:
    async with _mgmt() as api:
        for name in names:
            await api.delete(f"/users/{quote(name, safe='')}")


@pytest.fixture
async def users(settings: HubSettings, vhost: str) -> AsyncIterator[Users]:
    """Every user `hub.domain.grants` defines, with random passwords, in this test's vhost."""
    security = _security(f"t{uuid.uuid4().hex[:8]}-")
    granted = grants(settings.units, security)
    made = Users(security, vhost, {g.user: secrets.token_urlsafe(16) for g in granted})
    try:
        async with _mgmt() as api:
            for g in granted:
                await _create(api, vhost, g, made.passwords[g.user])
        await _declare(settings)
        yield made
    finally:
        await _delete_users(list(made.passwords))


async def _declare(settings: HubSettings) -> None:
    """Declare the hub's topology in the test vhost, as the admin user."""
    broker = make_broker(settings.rabbit)
    await broker.connect()
    try:
        await declare(broker, build_topology(settings.units, settings.retry.ladder_s, 3))
    finally:
        await broker.stop()


@asynccontextmanager
async def _channel(url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A channel with publisher confirms, logged in at `url`."""
    conn = await aio_pika.connect(url)
    try:
        yield await conn.channel(publisher_confirms=True, on_return_raises=True)
    finally:
        await conn.close()


async def _refused(
    url: str, act: Callable[[aio_pika.abc.AbstractChannel], Awaitable[Any]]
) -> Exception:
    """Run `act` on a fresh channel logged in at `url`; return the broker's refusal."""
    async with _channel(url) as channel:
        with pytest.raises((ChannelAccessRefused, ChannelPreconditionFailed)) as caught:
            await act(channel)
    refusal: Exception = caught.value
    return refusal


def _publish(exchange: str, body: bytes, key: str = "", **props: Any) -> Callable[..., Any]:
    async def act(channel: aio_pika.abc.AbstractChannel) -> Any:
        ex = channel.default_exchange
        if exchange:
            ex = await channel.get_exchange(exchange, ensure=False)
        return await ex.publish(aio_pika.Message(body, **props), routing_key=key)

    return act


async def _ignore(_message: aio_pika.abc.AbstractIncomingMessage) -> None:
    """A consumer that is never meant to receive anything."""


def _read(queue: str, *, consume: bool = False) -> Callable[..., Any]:
    async def act(channel: aio_pika.abc.AbstractChannel) -> Any:
        q = await channel.get_queue(queue, ensure=False)
        return await (q.consume(_ignore) if consume else q.get(fail=False))

    return act


def _order_body(unit: str = A) -> bytes:
    order = make_release_order(custodial_unit=unit)
    return make_envelope(order, message_id=uuid.uuid4()).to_bytes()


async def _put(settings: HubSettings, queue: str, body: bytes) -> None:
    """Put a message straight into `queue`, as the admin user."""
    async with amqp(settings) as ch:
        await ch.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def test_a_unit_cannot_publish_a_court_order(users: Users, settings: HubSettings) -> None:
    """A unit's login may not publish to hub.court.in, directly or through the default exchange."""
    body = _order_body()
    signed = SIGNER.headers(body)  # even a validly signed document
    refusal = await _refused(users.unit(A), _publish(COURT_IN, body, headers=signed))
    assert isinstance(refusal, ChannelAccessRefused)
    assert "hub.court.in" in str(refusal)
    refusal = await _refused(users.unit(A), _publish("", body, COURT_IN, headers=signed))
    assert isinstance(refusal, ChannelAccessRefused)
    async with amqp(settings) as ch:
        assert await depth(ch, COURT_IN) == 0


async def test_a_unit_cannot_read_another_units_queue(users: Users, settings: HubSettings) -> None:
    """Unit A's login may neither get from nor consume unit B's queue."""
    await _put(settings, unit_queue(B), _order_body(B))
    for act in (_read(unit_queue(B)), _read(unit_queue(B), consume=True)):
        refusal = await _refused(users.unit(A), act)
        assert isinstance(refusal, ChannelAccessRefused)
    async with amqp(settings) as ch:
        assert await depth(ch, unit_queue(B)) == 1  # still there for B


async def test_a_unit_reads_its_own_queue_and_answers_only_as_itself(
    users: Users, settings: HubSettings
) -> None:
    """Unit A gets from its queue and answers on hub.custodial_unit.in; it cannot sign as B."""
    await _put(settings, unit_queue(A), _order_body(A))
    me = users.security.unit_user(A)
    receipt = make_envelope(make_receipt(unit=A), message_id=uuid.uuid4()).to_bytes()
    async with _channel(users.unit(A)) as channel:
        message = await (await channel.get_queue(unit_queue(A), ensure=False)).get()
        await message.ack()
        await _publish(UNIT_IN, receipt, user_id=me)(channel)
    async with amqp(settings) as ch:
        got = await (await ch.get_queue(UNIT_IN)).get()
        assert got.user_id == me
    impostor = users.security.unit_user(B)
    refusal = await _refused(users.unit(A), _publish(UNIT_IN, receipt, user_id=impostor))
    assert isinstance(refusal, ChannelPreconditionFailed)  # RabbitMQ checks user_id = login


async def test_a_court_user_reads_no_queue_and_configures_nothing(
    users: Users, settings: HubSettings
) -> None:
    """A court system may publish to hub.court.in only: read no queue, write nowhere else, declare
    nothing."""
    body = _order_body()
    court = users.url("court-rupe")
    async with _channel(court) as channel:
        await _publish(COURT_IN, body, headers=SIGNER.headers(body))(channel)
    for act in (_read(unit_queue(A)), _read(unit_queue(B), consume=True), _read(COURT_IN)):
        assert isinstance(await _refused(court, act), ChannelAccessRefused)
    assert isinstance(await _refused(court, _publish(UNIT_IN, body)), ChannelAccessRefused)

    async def declare_own(channel: aio_pika.abc.AbstractChannel) -> Any:
        return await channel.declare_queue("hub.court.mine", durable=True)

    assert isinstance(await _refused(court, declare_own), ChannelAccessRefused)
    async with amqp(settings) as ch:
        assert await depth(ch, COURT_IN) == 1


async def test_ops_reads_through_the_management_api_and_changes_nothing(users: Users) -> None:
    """The ops user lists the vhost's queues but may not purge, read or delete them."""
    name = users.security.user_prefix + "ops"
    parts = urlsplit(MGMT_URL)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}/api"
    vhost, queue = quote(users.vhost, safe=""), quote(COURT_IN, safe="")
    auth = (name, users.passwords[name])
    async with httpx.AsyncClient(base_url=base, auth=auth, timeout=30) as api:
        listed = await api.get(f"/queues/{vhost}")
        assert listed.status_code == 200
        assert COURT_IN in {q["name"] for q in listed.json()}
        get = {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"}
        for answer in (
            await api.delete(f"/queues/{vhost}/{queue}/contents"),
            await api.post(f"/queues/{vhost}/{queue}/get", json=get),
            await api.delete(f"/queues/{vhost}/{queue}"),
            await api.put(f"/users/{quote(name, safe='')}", json={"tags": "administrator"}),
        ):
            assert answer.status_code in (401, 403), answer.request.url


def _receipt(claimed: str, order_number: str) -> Envelope:
    """A receipt that speaks for unit `claimed` (in the envelope and the payload)."""
    source = Source(connector="custodial_unit", system="SIGPRI", unit=claimed)
    payload = ReceiptAcknowledged(
        order_number=order_number, unit=claimed, received_at=datetime.now(UTC), received_by=OFFICIAL
    )
    return Envelope.new(payload, source=source)


async def _parked(settings: HubSettings, n: int) -> list[Any]:
    async def enough() -> list[Any] | None:
        async with database(settings) as db:
            rows = await db.fetch("SELECT queue, reason FROM dead_letters ORDER BY id")
        return rows if len(rows) >= n else None

    return list(await wait_for(enough, what=f"{n} dead letters"))


async def test_the_hub_and_the_units_run_with_their_own_users(
    users: Users, settings: HubSettings
) -> None:
    """The hub as `hub`, a court as `court-rupe`, units as themselves: a unit answering for another,
    or with no identity, is dead-lettered as wrong_sender; the honest receipt moves the order."""
    s = settings.model_copy(
        update={
            "security": users.security,
            "rabbit": settings.rabbit.model_copy(update={"url": users.url("hub")}),
        }
    )
    order = make_envelope(make_release_order(custodial_unit=A), message_id=uuid.uuid4())
    number = order.correlation_id
    got: asyncio.Queue[Envelope] = asyncio.Queue()
    unit_a, unit_b = UnitClient(users.unit(A), A), UnitClient(users.unit(B), B)
    async with Hub(s, specs=SPECS, background=False):
        await unit_a.start(got.put)
        await unit_b.start(got.put)
        try:
            async with _channel(users.url("court-rupe")) as ch:
                await send(ch, COURT_IN, order, headers=SIGNER.headers(order.to_bytes()))
            assert (await asyncio.wait_for(got.get(), 10)).correlation_id == number
            await unit_b.answer(_receipt(A, number))  # B answers for A
            async with amqp(settings) as ch:  # the admin user: no unit identity
                await send(ch, UNIT_IN, _receipt(A, number))
            letters = await _parked(settings, 2)
            await unit_a.answer(_receipt(A, number))

            async def received() -> bool:
                async with database(settings) as db:
                    state = await db.fetchval("SELECT state FROM release_orders")
                return bool(state == "received")

            await wait_for(received, what="the honest receipt moved the order")
        finally:
            await unit_a.stop()
            await unit_b.stop()
    assert [(r["queue"], r["reason"]) for r in letters] == [(UNIT_IN, "wrong_sender")] * 2


async def test_forged_or_altered_court_documents_are_dead_lettered_and_audited(
    settings: HubSettings,
) -> None:
    """Unsigned, altered and foreign-key documents are parked as bad_signature and audited; a
    properly signed one sent after them is processed."""
    s = settings.model_copy(update={"security": _security("")})
    stranger = CourtSigner.generate("stranger", "RUPE")
    unsigned, altered, foreign = _order_body(), _order_body(), _order_body()
    bad = [
        (unsigned, {}),
        (altered.replace(b"Fulano", b"Fulana"), SIGNER.headers(altered)),
        (foreign, stranger.headers(foreign)),
    ]
    good = make_envelope(make_release_order(), message_id=uuid.uuid4())
    async with Hub(s, specs=SPECS, background=False):
        async with amqp(settings) as ch:
            for body, headers in bad:
                await send(ch, COURT_IN, body, headers=headers)
            await send(ch, COURT_IN, good, headers=SIGNER.headers(good.to_bytes()))
        letters = await _parked(settings, 3)

        async def processed() -> object:
            async with database(settings) as db:
                return await db.fetchval("SELECT state FROM release_orders")

        assert await wait_for(processed, what="the signed order processed") == "dispatched"
    assert {r["reason"] for r in letters} == {"bad_signature"}
    async with database(settings) as db:
        audited = await db.fetch(
            "SELECT detail->>'reason' AS reason FROM audit_log WHERE action = 'dead_letter.parked'"
        )
        messages = await db.fetch("SELECT error_message FROM dead_letters ORDER BY id")
    assert [a["reason"] for a in audited] == ["bad_signature"] * 3
    why = " | ".join(m["error_message"] for m in messages)
    for expected in ("unsigned document", "does not match the body", "unknown key 'stranger'"):
        assert expected in why


async def test_definition_users_log_in_only_once_users_sh_sets_a_password(
    vhost: str, settings: HubSettings, tmp_path: Path
) -> None:
    """Imported from the definitions, users have no password login; users.sh gives the ones named in
    the environment a password and their permissions, and leaves the others without."""
    security = SecuritySettings(user_prefix=f"t{uuid.uuid4().hex[:8]}-")
    granted = [g for g in grants(settings.units, security) if g.user.endswith(("-hub", A))]
    doc = user_definitions(granted, vhost=vhost)
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps(doc))
    me = security.unit_user(A)
    users = Users(security, vhost, {g.user: "pw-" + secrets.token_hex(8) for g in granted})
    try:
        async with _mgmt() as api:
            imported = {k: doc[k] for k in ("users", "permissions")}
            (await api.post("/definitions", json=imported)).raise_for_status()
        await _declare(settings)
        with pytest.raises(ProbableAuthenticationError):
            await aio_pika.connect(users.unit(A))
        out = await _users_sh(path, {me: users.passwords[me]})
        assert users.passwords[me] not in out
        async with _channel(users.unit(A)) as channel:
            assert await _read(unit_queue(A))(channel) is None  # and it may read its own queue
        async with _mgmt() as api:  # and its connections and channels are capped
            limits = (await api.get(f"/user-limits/{quote(me, safe='')}")).json()
        assert limits == [{"user": me, "value": {"max-connections": 8, "max-channels": 64}}]
        with pytest.raises(ProbableAuthenticationError):
            await aio_pika.connect(users.url("hub"))  # no password given for it
    finally:
        await _delete_users(list(users.passwords))


async def _users_sh(definitions: Path, passwords: dict[str, str]) -> str:
    """Run deploy/rabbitmq/users.sh on `definitions`, with a password variable per user given."""
    # the shared test broker: its guest is every test's admin (production's users.sh deletes it)
    env = os.environ | {"HUB_RABBIT__MANAGEMENT_URL": MGMT_URL, "HUB_RABBIT_KEEP_GUEST": "1"}
    for user, password in passwords.items():
        env["HUB_RABBIT_PASSWORD_" + re.sub("[^A-Z0-9]", "_", user.upper())] = password
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(ROOT / "deploy/rabbitmq/users.sh"),
        str(definitions),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def _amqp_publish(url: str, exchange: str, body: bytes) -> int:
    """Debian's `amqp-publish`, which cannot set user_id: its exit status."""
    if shutil.which("amqp-publish") is None:
        message = "amqp-tools missing (run `bash deploy/tools.sh`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    proc = await asyncio.create_subprocess_exec(
        "amqp-publish",
        "--url",
        url,
        "-e",
        exchange,
        "-C",
        "application/json",
        "-p",
        "-b",
        body.decode(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode


async def test_a_unit_with_amqp_publish_alone_is_known_by_its_own_exchange(
    users: Users, settings: HubSettings
) -> None:
    """Identity required, no user_id: a receipt published with `amqp-publish` to the unit's own
    exchange moves the order; the same unit cannot publish into another unit's exchange."""
    s = settings.model_copy(
        update={
            "security": users.security,
            "rabbit": settings.rabbit.model_copy(update={"url": users.url("hub")}),
        }
    )
    order = make_envelope(make_release_order(custodial_unit=A), message_id=uuid.uuid4())
    number = order.correlation_id
    async with Hub(s, specs=SPECS, background=False):
        async with _channel(users.url("court-rupe")) as ch:
            await send(ch, COURT_IN, order, headers=SIGNER.headers(order.to_bytes()))

        async def dispatched() -> bool:
            async with database(settings) as db:
                return bool(await db.fetchval("SELECT state FROM release_orders") == "dispatched")

        await wait_for(dispatched, what="the order dispatched")
        body = _receipt(A, number).to_bytes()
        assert await _amqp_publish(users.unit(A), unit_exchange(B), body) != 0  # refused
        assert await _amqp_publish(users.unit(A), unit_exchange(A), body) == 0

        async def received() -> bool:
            async with database(settings) as db:
                state = await db.fetchval("SELECT state FROM release_orders")
            return bool(state == "received")

        await wait_for(received, what="the receipt through the unit's own exchange applied")
        async with database(settings) as db:
            assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_one_court_system_cannot_revoke_or_release_on_another_courts_warrant(
    settings: HubSettings,
) -> None:
    """PJe's key speaks for TJPE: its counter-warrant and its release order against a TJMG warrant
    are dead-lettered `no_authority`, audited in the name of PJe's key; the warrant stays."""
    rupe, pje = SIGNER, CourtSigner.generate("pje-2026", "PJE")
    keys = {rupe.key_id: rupe.court_key(("tjmg.*",)), pje.key_id: pje.court_key(("tjpe.*",))}
    s = settings.model_copy(update={"security": SecuritySettings(court_keys=keys)})
    pje_source = Source(connector="court", system="PJE")
    warrant = make_envelope(make_warrant(), message_id=uuid.uuid4())
    attempts = [
        make_envelope(
            make_revocation(issuing_court="tjpe.vara-1"), message_id=uuid.uuid4(), source=pje_source
        ),
        make_envelope(
            make_release_order(issuing_court="tjpe.vara-1"),
            message_id=uuid.uuid4(),
            source=pje_source,
        ),
    ]
    async with Hub(s, specs=SPECS, background=False):
        async with amqp(settings) as ch:
            await send(ch, COURT_IN, warrant, headers=rupe.headers(warrant.to_bytes()))

            async def recorded() -> bool:
                async with database(settings) as db:
                    return bool(await db.fetchval("SELECT state FROM warrants") == "pending")

            await wait_for(recorded, what="TJMG's warrant recorded")
            for env in attempts:
                await send(ch, COURT_IN, env, headers=pje.headers(env.to_bytes()))
        letters = await _parked(settings, 2)
    assert [r["reason"] for r in letters] == ["no_authority"] * 2
    async with database(settings) as db:
        audited = await db.fetch(
            "SELECT actor, detail->>'reason' AS reason FROM audit_log"
            " WHERE action = 'dead_letter.parked' ORDER BY seq"
        )
        assert await db.fetchval("SELECT state FROM warrants") == "pending"
        received = await db.fetch(
            "SELECT actor FROM audit_log WHERE action = 'message.received' ORDER BY seq"
        )
    assert [(a["actor"], a["reason"]) for a in audited] == [
        ("court:PJE:pje-2026", "no_authority")
    ] * 2
    assert [r["actor"] for r in received] == [f"court:RUPE:{rupe.key_id}"]
