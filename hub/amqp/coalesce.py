"""AMQP frames written to the socket once per event-loop turn, not once per frame.

aiormq hands every frame to the socket as soon as it is queued: each publish, each ack and each
heartbeat is a `send()` system call of its own. A hub hop publishes two messages and acks one, for
a few hundred messages per batch, all within the same loop turn; in the profile the socket writes
were a fifth of the hub's CPU (`bench/README.md`). Here the writes of one turn are gathered and
handed to the transport together at the end of the turn (`loop.call_soon`): the same bytes in the
same order, no added wait, one system call.

Only the connection that asked for it coalesces, through each library's own per-connection hook:

* aiormq: `Connection(transport_factory=...)`, the factory that opens the socket;
* aio-pika: `connect_robust(connection_class=...)`. Its connection keeps only the arguments it
  knows (`Connection.PARAMETERS`) in `kwargs`, which it hands to `aiormq.connect` at each
  (re)connection, so `CoalescingConnection` adds the factory there itself;
* FastStream 0.7: `RabbitBroker` takes no argument for either, but hands the arguments it keeps in
  `_connection_kwargs` to `aio_pika.connect_robust` as they are. `hub.amqp.declare.make_broker`
  adds `connection_class` there: the one private name used, and
  `tests/integration/test_coalesce.py` fails if FastStream stops honouring it.

Every other aiormq connection of the process (a test's, a simulator's, a load generator's) writes
as aiormq does. TLS connections (`amqps`) keep aiormq's TLS factory.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aio_pika import RobustConnection
from aiormq.connection import TCPTransportFactory
from yarl import URL

__all__ = ["CoalescingConnection", "CoalescingTCPTransportFactory", "CoalescingTransport"]


class CoalescingTransport(asyncio.Transport):
    """A write transport that hands what it was given in one loop turn to `inner` in one write.

    Anything but `write` (close, abort, buffer size, extra info, ...) first flushes what is
    pending, so order and close semantics are the inner transport's.
    """

    def __init__(self, inner: asyncio.WriteTransport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._inner = inner
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] = []
        self._scheduled = False
        self.owner: object = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Keep `data` for the flush at the end of this loop turn."""
        if not data:
            return
        self._pending.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand everything pending to the inner transport now, as one write."""
        self._scheduled = False
        if not self._pending:
            return
        chunks, self._pending = self._pending, []
        if self._inner.is_closing():
            return  # as the inner transport would: writes after close are dropped
        self._inner.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def writelines(self, list_of_data: Any) -> None:
        """Keep each piece for the flush at the end of this loop turn."""
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._inner.write_eof()

    def get_write_buffer_size(self) -> int:
        self.flush()
        return self._inner.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._inner.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def close(self) -> None:
        self.flush()
        self._inner.close()

    def abort(self) -> None:
        self._pending.clear()
        self._inner.abort()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._inner.get_protocol()


class CoalescingTCPTransportFactory(TCPTransportFactory):
    """aiormq's TCP factory, with the stream's writes coalesced per loop turn."""

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await super().create(url, **kwargs)
        loop = asyncio.get_running_loop()
        transport = CoalescingTransport(writer.transport, loop)
        # Kept alive with the transport: a StreamWriter closes its transport when collected.
        transport.owner = writer
        protocol = writer.transport.get_protocol()
        assert isinstance(protocol, asyncio.StreamReaderProtocol)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class CoalescingConnection(RobustConnection):
    """aio-pika's robust connection whose AMQP socket, first and after each reconnection, coalesces
    its writes (a plain TCP one; `amqps` keeps aiormq's TLS factory)."""

    def __init__(
        self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
    ) -> None:
        super().__init__(url, loop, **kwargs)
        if self.url.scheme != "amqps":  # where aiormq would pick its TCPTransportFactory
            self.kwargs["transport_factory"] = CoalescingTCPTransportFactory()
