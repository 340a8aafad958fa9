"""Queue depths, consumers and rates: from RabbitMQ's management API, or from AMQP without it.

The management API (`GET /api/queues/{vhost}`) gives ready and unacknowledged counts, consumers and
publish/deliver rates. When it does not answer (plugin off, wrong credentials, node busy) the
fallback declares each queue passively over AMQP, which still gives the ready count and the
consumers; unacknowledged counts and rates are then unknown (None), and the report says so.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aio_pika
import httpx

__all__ = [
    "QueueReport",
    "QueueStats",
    "RabbitAdmin",
    "parse_alarms",
    "parse_queues",
    "queue_role",
    "vhost_of",
]

Source = Literal["management", "amqp", "none"]


@dataclass(frozen=True)
class QueueStats:
    """One queue as the dashboard shows it; None means "not known from this source"."""

    name: str
    ready: int | None
    unacked: int | None = None
    consumers: int | None = None
    publish_rate: float | None = None
    deliver_rate: float | None = None

    @property
    def role(self) -> str:
        """What the queue is for: inbound, outbound, unit, retry or dlq."""
        return queue_role(self.name)


@dataclass(frozen=True)
class QueueReport:
    """Every queue of the hub, where the numbers came from, and why the API was not used."""

    source: Source
    queues: tuple[QueueStats, ...]
    problem: str | None = None


def queue_role(name: str) -> str:
    """Classify a hub queue by its name (see `hub.domain.topology`)."""
    if name.startswith("hub.retry."):
        return "retry"
    if name.endswith(".dlq"):
        return "dlq"
    if name.startswith("hub.custodial_unit.") and name.endswith(".out"):
        return "unit"
    return "inbound" if name.endswith(".in") else "outbound"


def _rate(stats: Mapping[str, Any], key: str) -> float | None:
    details = stats.get(key)
    if isinstance(details, Mapping) and isinstance(details.get("rate"), int | float):
        return float(details["rate"])
    return 0.0 if stats else None


def parse_queues(doc: Iterable[Mapping[str, Any]], names: Sequence[str]) -> tuple[QueueStats, ...]:
    """Stats of `names`, in that order, from a management API `/api/queues` answer (pure)."""
    by_name = {q.get("name"): q for q in doc}
    out = []
    for name in names:
        q = by_name.get(name)
        if q is None:
            out.append(QueueStats(name, None))
            continue
        stats = q.get("message_stats") or {}
        out.append(
            QueueStats(
                name,
                int(q.get("messages_ready") or 0),
                int(q.get("messages_unacknowledged") or 0),
                int(q.get("consumers") or 0),
                _rate(stats, "publish_details"),
                _rate(stats, "deliver_get_details"),
            )
        )
    return tuple(out)


def parse_alarms(doc: object) -> list[str]:
    """The resource alarms raised in a management API `/api/nodes` answer, as "memory on NODE"
    or "disk on NODE" (pure); a node in alarm blocks every publishing connection."""
    if not isinstance(doc, list):
        raise ValueError("unexpected management API answer")
    out = []
    for node in doc:
        if not isinstance(node, Mapping):
            continue
        name = node.get("name", "?")
        if node.get("mem_alarm"):
            out.append(f"memory on {name}")
        if node.get("disk_free_alarm"):
            out.append(f"disk on {name}")
    return out


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL names ("/" when it names none)."""
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _api_base(management_url: str) -> tuple[str, tuple[str, str]]:
    parts = urlsplit(management_url)
    netloc = f"{parts.hostname}:{parts.port or 15672}"
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/api", "", ""))
    return base, (unquote(parts.username or "guest"), unquote(parts.password or "guest"))


class RabbitAdmin:
    """Reads the hub's queues: the management API first, AMQP passive declares as the fallback."""

    def __init__(
        self,
        management_url: str,
        amqp_url: str,
        names: Sequence[str],
        timeout_s: float = 3.0,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: the context for an `https` management URL and an `amqps` AMQP URL."""
        base, auth = _api_base(management_url)
        self._http = httpx.AsyncClient(
            base_url=base, auth=auth, timeout=timeout_s, verify=tls if tls is not None else True
        )
        self._amqp_url = amqp_url
        self._tls = tls
        self._vhost = vhost_of(amqp_url)
        self._timeout = timeout_s
        self.names = tuple(names)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def alarms(self) -> list[str] | None:
        """The resource alarms the broker's nodes raise now (`parse_alarms`), or None when the
        management API does not answer."""
        try:
            response = await self._http.get("/nodes")
            response.raise_for_status()
            return parse_alarms(response.json())
        except (httpx.HTTPError, ValueError):
            return None

    async def queues(self) -> QueueReport:
        """Every hub queue's numbers, from the best source that answers."""
        try:
            return QueueReport("management", await self._management())
        except (httpx.HTTPError, ValueError) as e:
            problem = f"management API: {type(e).__name__}"
        try:
            return QueueReport("amqp", await self._passive(), problem)
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as e:
            empty = tuple(QueueStats(n, None) for n in self.names)
            return QueueReport("none", empty, f"{problem}; AMQP: {type(e).__name__}")

    async def _management(self) -> tuple[QueueStats, ...]:
        response = await self._http.get(f"/queues/{quote(self._vhost, safe='')}")
        response.raise_for_status()
        doc = response.json()
        if not isinstance(doc, list):
            raise ValueError("unexpected management API answer")
        return parse_queues(doc, self.names)

    async def _passive(self) -> tuple[QueueStats, ...]:
        conn = await asyncio.wait_for(
            aio_pika.connect(self._amqp_url, ssl_context=self._tls), self._timeout
        )
        try:
            out = []
            channel = await conn.channel()
            for name in self.names:
                try:
                    q = await channel.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelClosed:  # missing queue: the channel closes
                    out.append(QueueStats(name, None))
                    channel = await conn.channel()
                    continue
                result = q.declaration_result
                out.append(QueueStats(name, result.message_count, None, result.consumer_count))
            return tuple(out)
        finally:
            await conn.close()
