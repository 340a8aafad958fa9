"""Serving an ASGI app (the ops service, a simulator) with uvicorn inside the running event loop,
over HTTP or, given a certificate and its key, HTTPS."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI

__all__ = ["HttpServer", "listening_socket"]


def listening_socket(port: int | None = None) -> socket.socket:
    """A socket bound on 127.0.0.1 (`port`, or one the kernel picks), kept until the server takes
    it: a port found free and bound later can be taken in between by any connection's local port."""
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port or 0))
    except OSError:
        sock.close()
        raise
    return sock


class HttpServer:
    """An ASGI app served by uvicorn on 127.0.0.1 inside this event loop; over HTTPS with
    `certfile` (PEM, the chain) and `keyfile`."""

    def __init__(
        self,
        app: FastAPI,
        port: int | None = None,
        *,
        certfile: Path | None = None,
        keyfile: Path | None = None,
    ) -> None:
        self._socket = listening_socket(port)
        self.port = int(self._socket.getsockname()[1])
        self.url = f"{'https' if certfile else 'http'}://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve, and return once the socket listens."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises the start-up error
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()  # uvicorn closed it if it served; not if it never started
