"""Fixtures for the real broker and database: a fresh vhost and schema per test, removed after.

Locally, integration tests skip when RabbitMQ or PostgreSQL do not answer; with CI=true they fail.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from hub.settings import (
    EngineSettings,
    HubSettings,
    PostgresSettings,
    RabbitSettings,
    RetrySettings,
    SecuritySettings,
)
from tests.factories import COURT_SIGNER

AMQP_URL = os.environ.get("HUB_RABBIT__URL", "amqp://guest:guest@127.0.0.1:5672/")
MGMT_URL = os.environ.get("HUB_RABBIT__MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672/")
PG_DSN = os.environ.get("HUB_POSTGRES__DSN", "postgresql://hub:hub@127.0.0.1:5432/hub")


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/integration and tests/ops as an integration test."""
    for item in items:
        path = str(item.path)
        if any(f"/tests/{tier}/" in path for tier in ("integration", "ops", "e2e")):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def services() -> None:
    """Skip (locally) or fail (CI=true) when RabbitMQ, its management or PostgreSQL is absent."""
    missing = [
        name
        for name, url, port in (
            ("RabbitMQ", AMQP_URL, 5672),
            ("RabbitMQ management", MGMT_URL, 15672),
            ("PostgreSQL", PG_DSN, 5432),
        )
        if not _answers(url, port)
    ]
    if missing:
        message = f"not answering: {', '.join(missing)} (run `bash deploy/services.sh`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _mgmt() -> httpx.AsyncClient:
    parts = urlsplit(MGMT_URL)
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "/api", "", ""))
    return httpx.AsyncClient(
        base_url=base, auth=(parts.username or "guest", parts.password or "guest"), timeout=30
    )


@pytest.fixture
async def vhost(services: None, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A vhost of this test's own, with full permissions for the admin user; deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    user = urlsplit(AMQP_URL).username or "guest"
    async with _mgmt() as api:
        (await api.put(f"/vhosts/{name}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await api.put(f"/permissions/{name}/{user}", json=perms)).raise_for_status()
        try:
            yield name
        finally:
            await api.delete(f"/vhosts/{name}")


def vhost_url(vhost: str) -> str:
    """The AMQP URL of `vhost` on the test broker."""
    parts = urlsplit(AMQP_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))


@pytest.fixture
async def schema(services: None) -> AsyncIterator[str]:
    """A PostgreSQL schema of this test's own; dropped with everything in it afterwards."""
    name = f"test_{uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def settings(vhost: str, schema: str) -> HubSettings:
    """Hub settings pointing at this test's vhost and schema, with a fast retry ladder."""
    return HubSettings(
        units=("mg.presidio-bh-01", "mg.ceresp-bh"),
        rabbit=RabbitSettings(
            url=vhost_url(vhost), management_url=MGMT_URL, prefetch=64, delivery_limit=3
        ),
        postgres=PostgresSettings(dsn=PG_DSN, schema=schema, pool_min=1, pool_max=4),
        retry=RetrySettings(ladder_s=(0.3, 0.6), immediate_attempts=1, immediate_wait_s=0),
        engine=EngineSettings(max_batch=64, max_wait_ms=1, outbox_sweep_s=0.2, outbox_grace_s=0.5),
        # production's checks, with the tests' court system registered (`harness.send` signs)
        security=SecuritySettings(
            court_keys={COURT_SIGNER.key_id: COURT_SIGNER.court_key(("tjmg.*",))}
        ),
    )
