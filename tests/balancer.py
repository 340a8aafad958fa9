"""A TCP load balancer for tests: in front of a cluster's nodes, or of one broker to cut it off."""

from __future__ import annotations

import asyncio
import contextlib
import time

__all__ = ["Balancer"]


class Balancer:
    """A TCP load balancer in front of the nodes, as production puts one (or a Kubernetes Service)
    before the cluster: each new connection goes to the first node, in `ports` order, that takes it.

    The hub has one broker URL; through this, a reconnect after its node died reaches another node.
    """

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.connections: list[tuple[float, int]] = []  # (time.monotonic(), node port) per client
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._silent = False

    def silence(self) -> None:
        """From now on forward nothing, either way, and answer no new connection, while every
        socket stays open: a network that drops packets (as against a node that refuses: `stop`)."""
        self._silent = True

    def cut(self) -> None:
        """Close every connection now, both sides, as a node's restart would: clients reconnect,
        and each new connection goes to the first node in `ports` order that takes it again."""
        for w in list(self._writers):
            w.close()

    async def start(self) -> int:
        """Listen on a free loopback port; return it."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def backends_since(self, t: float) -> list[int]:
        """The node ports of the connections made at or after `t`."""
        return [port for at, port in self.connections if at >= t]

    async def stop(self) -> None:
        """Stop listening and cut every connection."""
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 10)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._silent:
            await self._hold(reader, writer)
            return
        for port in self.ports:
            try:
                up = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 3)
            except (OSError, TimeoutError):
                continue
            self.connections.append((time.monotonic(), port))
            self._writers |= {writer, up[1]}
            try:
                await asyncio.gather(self._pipe(reader, up[1]), self._pipe(up[0], writer))
            finally:
                self._writers -= {writer, up[1]}
            return
        writer.close()  # no node takes connections

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read and drop until the client gives up or `stop` cuts it."""
        self._writers.add(writer)
        try:
            with contextlib.suppress(OSError):
                while await reader.read(65536):
                    pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until either side ends (dropping all once silenced); then close `writer`, which
        ends the other direction too."""
        try:
            while data := await reader.read(65536):
                if self._silent:
                    continue
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
