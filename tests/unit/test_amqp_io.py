"""Writes of one loop turn reach the socket as one write, in order; close and size flush first;
only a `CoalescingConnection` opens its socket with the coalescing factory."""

from __future__ import annotations

import asyncio

from yarl import URL

from hub.amqp.coalesce import (
    CoalescingConnection,
    CoalescingTCPTransportFactory,
    CoalescingTransport,
)


class _Inner(asyncio.WriteTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        self.closed = True


async def _turn() -> None:
    await asyncio.sleep(0)  # let the loop run what call_soon scheduled (not a wait for a result)


async def test_one_turn_one_write_in_order() -> None:
    inner = _Inner()
    t = CoalescingTransport(inner, asyncio.get_running_loop())
    for frame in (b"publish-1", b"publish-2", b"ack-1"):
        t.write(frame)
    assert inner.writes == []
    await _turn()
    assert inner.writes == [b"publish-1publish-2ack-1"]
    t.write(b"next")
    await _turn()
    assert inner.writes == [b"publish-1publish-2ack-1", b"next"]


async def test_close_and_buffer_size_flush_first() -> None:
    inner = _Inner()
    t = CoalescingTransport(inner, asyncio.get_running_loop())
    t.write(b"close-frame")
    assert t.get_write_buffer_size() == 0
    assert inner.writes == [b"close-frame"]
    t.write(b"last")
    t.close()
    assert inner.writes == [b"close-frame", b"last"]
    assert inner.closed
    t.write(b"after close")
    await _turn()
    assert inner.writes == [b"close-frame", b"last"]  # dropped, as the socket transport does


async def test_abort_drops_what_is_pending() -> None:
    inner = _Inner()
    t = CoalescingTransport(inner, asyncio.get_running_loop())
    t.write(b"x")
    t.abort()
    await _turn()
    assert inner.writes == []


async def test_a_coalescing_connection_gives_aiormq_its_factory_over_tcp_only() -> None:
    """aio-pika hands a connection's `kwargs` to `aiormq.connect` at each (re)connection."""
    tcp = CoalescingConnection(URL("amqp://guest:guest@127.0.0.1:5672/"))
    assert isinstance(tcp.kwargs["transport_factory"], CoalescingTCPTransportFactory)
    tls = CoalescingConnection(URL("amqps://guest:guest@127.0.0.1:5671/"))
    assert "transport_factory" not in tls.kwargs  # aiormq keeps its TLS factory
