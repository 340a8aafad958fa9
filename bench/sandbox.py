"""A RabbitMQ vhost and a PostgreSQL schema of the bench's own per scenario, removed afterwards.

The same isolation the integration tests use (`tests/conftest.py`): the management HTTP API makes
the vhost (about 0.1 s), so the hub's production queue names are used unchanged, and every scenario
starts from empty queues and empty tables.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx

from hub.settings import HubSettings

__all__ = ["Sandbox", "management", "sandbox"]


@dataclass(frozen=True)
class Sandbox:
    """Settings for one scenario: the base settings moved into a fresh vhost and schema."""

    settings: HubSettings
    vhost: str

    @property
    def schema(self) -> str:
        """The scenario's PostgreSQL schema."""
        return self.settings.postgres.schema_


def management(settings: HubSettings) -> httpx.AsyncClient:
    """A client of the RabbitMQ management API named in `settings`."""
    parts = urlsplit(settings.rabbit.management_url)
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "/api", "", ""))
    auth = (parts.username or "guest", parts.password or "guest")
    return httpx.AsyncClient(base_url=base, auth=auth, timeout=30)


def _moved(base: HubSettings, vhost: str, schema: str) -> HubSettings:
    parts = urlsplit(base.rabbit.url)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))
    rabbit = base.rabbit.model_copy(update={"url": url})
    postgres = base.postgres.model_copy(update={"schema_": schema})
    return base.model_copy(update={"rabbit": rabbit, "postgres": postgres})


@asynccontextmanager
async def sandbox(base: HubSettings) -> AsyncIterator[Sandbox]:
    """A fresh vhost (full permissions for the configured user) and schema name; both removed."""
    tag = uuid.uuid4().hex[:10]
    vhost, schema = f"bench-{tag}", f"bench_{tag}"
    user = urlsplit(base.rabbit.url).username or "guest"
    async with management(base) as api:
        (await api.put(f"/vhosts/{vhost}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await api.put(f"/permissions/{vhost}/{user}", json=perms)).raise_for_status()
        try:
            yield Sandbox(_moved(base, vhost, schema), vhost)
        finally:
            await api.delete(f"/vhosts/{vhost}")
            conn = await asyncpg.connect(base.postgres.dsn)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
