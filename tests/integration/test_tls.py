"""TLS between the hub and what it talks to, with a CA the test makes (`tests/tls.py`).

A private RabbitMQ node (`deploy/private.sh` with `HUB_RABBIT_TLS_DIR`) listens for AMQP over TLS
and asks every TLS client for a certificate signed by the test's CA; SETARIM's simulator is served
over HTTPS with a certificate of the same CA. The hub is given the CA and its client certificate
(`TlsSettings`) and nothing else: a court's release order comes in over amqps, the hub asks
SETARIM over https, and the answer is settled. Without the CA (or without the client certificate
where the node asks for one) nothing connects.

The node runs in a directory of its own under /tmp, removed at the end with the node. Locally the
tests skip where `rabbitmq-server` is missing; under `CI=true` they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import httpx
import pytest
from aiormq.exceptions import AMQPConnectionError

import connectors.setarim
from hub.app import Hub
from hub.http.server import HttpServer
from hub.settings import (
    EngineSettings,
    HubSettings,
    PostgresSettings,
    RabbitSettings,
    RetrySettings,
    SecuritySettings,
    SetarimSettings,
    TlsSettings,
)
from sandbox.simulators.setarim import SetarimSimulator, create_app
from tests.conftest import PG_DSN
from tests.factories import COURT_SIGNER, ORDER, UNIT, make_envelope, make_release_order
from tests.tls import MadeCA, make_ca

from .harness import database, send, wait_for
from .test_delivery import COURT

PRIVATE_SH = Path(__file__).resolve().parents[2] / "deploy" / "private.sh"
NODE, AMQP_PORT = "hubtls", 5696
TLS_PORT = AMQP_PORT - 1  # deploy/private.sh: the TLS listener is on AMQP_PORT-1
AMQPS_URL = f"amqps://guest:guest@127.0.0.1:{TLS_PORT}/"


def _private(env: dict[str, str], *args: str, timeout_s: float = 90.0) -> None:
    """Run `deploy/private.sh ARGS`; its process group is killed after `timeout_s`."""
    proc = subprocess.Popen(
        ["bash", str(PRIVATE_SH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RuntimeError(f"private.sh {' '.join(args)}: not done in {timeout_s} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"private.sh {' '.join(args)}: {out.decode(errors='replace')[-800:]}")


@pytest.fixture(scope="module")
def ca() -> Iterator[MadeCA]:
    """A CA of this module's own, with a server and a client certificate; deleted after."""
    folder = Path(tempfile.mkdtemp(prefix="hub-tls-ca-"))
    try:
        yield make_ca(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_node(ca: MadeCA) -> Iterator[str]:
    """A private RabbitMQ node with a TLS listener (the CA's server certificate); its amqps URL.
    The node and its files are removed at the end."""
    if not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        reason = "no rabbitmq-server here (apt-get install rabbitmq-server)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    base = tempfile.mkdtemp(prefix="hub-tls-node-")
    env = os.environ | {"HUB_PRIVATE_DIR": base, "HUB_RABBIT_TLS_DIR": str(ca.folder)}
    try:
        _private(env, "rabbit", "start", NODE, str(AMQP_PORT))
        yield AMQPS_URL
    finally:
        _private(env, "remove", timeout_s=60)
        shutil.rmtree(base, ignore_errors=True)


def _tls(ca: MadeCA) -> TlsSettings:
    """What the hub is given: the test's CA and the client certificate it signed."""
    return TlsSettings(ca_file=ca.ca, cert_file=ca.client_cert, key_file=ca.client_key)


@pytest.fixture
async def setarim_https(ca: MadeCA) -> AsyncIterator[tuple[SetarimSimulator, str]]:
    """SETARIM's simulator over HTTPS (the CA's server certificate) and its URL."""
    sim = SetarimSimulator(lambda: datetime.now(UTC))
    server = HttpServer(create_app(sim), certfile=ca.server_cert, keyfile=ca.server_key)
    await server.start()
    try:
        yield sim, server.url
    finally:
        await server.stop()


async def _connect(url: str, context: ssl.SSLContext) -> aio_pika.abc.AbstractConnection:
    return await asyncio.wait_for(aio_pika.connect(url, ssl_context=context), 20)


async def test_a_release_order_flows_over_amqps_and_https(
    services: None,
    schema: str,
    ca: MadeCA,
    tls_node: str,
    setarim_https: tuple[SetarimSimulator, str],
) -> None:
    """In over amqps from a court, out over https to SETARIM, its answer settled by the hub."""
    sim, setarim_url = setarim_https
    assert setarim_url.startswith("https://")
    settings = HubSettings(
        units=(UNIT,),
        rabbit=RabbitSettings(
            url=tls_node, management_url=f"http://guest:guest@127.0.0.1:{AMQP_PORT + 10000}/"
        ),
        postgres=PostgresSettings(dsn=PG_DSN, schema=schema, pool_min=1, pool_max=4),
        retry=RetrySettings(ladder_s=(0.3, 0.6), immediate_attempts=1, immediate_wait_s=0),
        engine=EngineSettings(max_batch=64, max_wait_ms=1, outbox_sweep_s=0.2, outbox_grace_s=0.5),
        setarim=SetarimSettings(url=setarim_url, timeout_s=5),
        tls=_tls(ca),
        security=SecuritySettings(  # production's checks, the tests' court registered
            court_keys={COURT_SIGNER.key_id: COURT_SIGNER.court_key(("tjmg.*",))}
        ),
    )

    async def validated() -> object:
        async with database(settings) as db:
            return await db.fetchval(
                "SELECT validated_at FROM release_orders WHERE order_number = $1", ORDER
            )

    async with Hub(settings, specs=[COURT, connectors.setarim.spec]):
        court = await _connect(tls_node, _tls(ca).client_context())
        try:
            channel = await court.channel(publisher_confirms=True, on_return_raises=True)
            await send(channel, "hub.court.in", make_envelope(make_release_order()))
        finally:
            await court.close()
        await wait_for(validated, within=30, what="the order validated by SETARIM over https")
    assert sim.validations == {ORDER: 1}


async def test_without_the_test_ca_nothing_connects(
    ca: MadeCA, tls_node: str, setarim_https: tuple[SetarimSimulator, str]
) -> None:
    """The system's CAs do not know the test's: amqps and https are refused; and the node refuses a
    client that has the CA but no certificate of its own."""
    _sim, setarim_url = setarim_https
    without_ca = TlsSettings(cert_file=ca.client_cert, key_file=ca.client_key)
    with pytest.raises(AMQPConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        await _connect(tls_node, without_ca.client_context())
    # The node's alert, or its reset when the alert loses the race with the close.
    with pytest.raises(AMQPConnectionError, match=r"CERTIFICATE_REQUIRED|Connection reset"):
        await _connect(tls_node, TlsSettings(ca_file=ca.ca).client_context())
    async with httpx.AsyncClient(verify=without_ca.client_context()) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"{setarim_url}/health")
    async with httpx.AsyncClient(verify=_tls(ca).client_context()) as http:
        assert (await http.get(f"{setarim_url}/health")).status_code == 200
    with_ca = await _connect(tls_node, _tls(ca).client_context())
    await with_ca.close()
