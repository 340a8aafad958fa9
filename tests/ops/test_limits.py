"""A client gone wrong against the real ops server (uvicorn on loopback, real hub and database):
the answer comes before the body is read, and the server's memory does not grow with it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from hub.http.server import HttpServer
from hub.ops import create_app
from hub.settings import HubSettings

from .scenario import Running, ops_settings_of, running

GIB = 1024**3
MIB = 1024**2
REPLAY = "/api/dead-letters/1/replay"


def _rss() -> int:
    """This process's resident memory in bytes (the server runs in it)."""
    status = Path("/proc/self/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1)) * 1024


@asynccontextmanager
async def served(r: Running) -> AsyncIterator[int]:
    """The ops app of `r` served by uvicorn on a loopback port; yields the port."""
    server = HttpServer(create_app(r.ops))
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop()


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _status(reader: asyncio.StreamReader) -> int:
    """The status code of the answer on `reader` (waits at most 5 s for it)."""
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line.startswith(b"HTTP/1.1 "), line
    return int(line.split()[1])


async def _send_until_closed(writer: asyncio.StreamWriter, total: int, chunk: int = MIB) -> int:
    """Send up to `total` more body bytes; stop when the server has closed; return how many went."""
    block, sent = b"x" * chunk, 0
    try:
        while sent < total:
            writer.write(block)
            await asyncio.wait_for(writer.drain(), 5)
            sent += chunk
    except (ConnectionError, TimeoutError):
        pass
    return sent


async def test_a_gigabyte_announced_without_a_token_is_refused_unread(
    settings: HubSettings,
) -> None:
    """A POST that declares 1 GB is answered 413 after its headers and a few kilobytes: the
    server does not wait for the body, closes the connection, and its memory stays put while the
    client goes on sending."""
    s = ops_settings_of(settings)
    async with running(s) as r, served(r) as port:
        before = _rss()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = {"Content-Type": "application/json", "Content-Length": str(GIB)}
        writer.write(_head("POST", REPLAY, head) + b"{" + b" " * 16 * 1024)
        await writer.drain()
        started = time.monotonic()
        assert await _status(reader) == 413
        assert time.monotonic() - started < 5
        sent = await _send_until_closed(writer, 64 * MIB)
        writer.close()
        grew = _rss() - before
    assert sent < 64 * MIB  # the server closed the connection: nothing more is taken
    assert grew < 32 * MIB, f"the server's memory grew by {grew / MIB:.1f} MiB"


async def test_no_token_is_answered_before_the_body_is_sent(settings: HubSettings) -> None:
    """A body of an allowed size is not read either without a token: the 401 comes while the
    client has sent nothing but its headers."""
    s = ops_settings_of(settings)
    async with running(s) as r, served(r) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = {"Content-Type": "application/json", "Content-Length": "1000"}
        writer.write(_head("POST", REPLAY, head))
        await writer.drain()
        assert await _status(reader) == 401
        writer.close()


async def test_a_role_too_low_is_answered_before_the_body_is_sent(settings: HubSettings) -> None:
    """A viewer posting to an operator's route gets 403 with their body unsent: the role is
    checked before the JSON is read, let alone parsed."""
    s = ops_settings_of(settings)
    async with running(s) as r, served(r) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = {
            "Content-Type": "application/json",
            "Content-Length": "1000",
            "Authorization": "Bearer t-viewer",
        }
        writer.write(_head("POST", REPLAY, head))
        await writer.drain()
        assert await _status(reader) == 403
        writer.close()


async def test_a_chunked_body_is_cut_off_at_the_limit(settings: HubSettings) -> None:
    """Without a Content-Length the body is counted as it streams in: past the limit the answer
    is 413, long before the client is done sending."""
    s = ops_settings_of(settings, max_body_bytes=64 * 1024)
    async with running(s) as r, served(r) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = {
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
            "Authorization": "Bearer t-operator",
        }
        writer.write(_head("POST", REPLAY, head))
        chunk = b" " * 16 * 1024
        sent = 0
        answer = asyncio.ensure_future(_status(reader))
        while not answer.done() and sent < 64 * MIB:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except ConnectionError:
                break
            sent += len(chunk)
            await asyncio.sleep(0)  # let the answer be read as soon as it comes
        assert await answer == 413
        writer.close()
    assert 64 * 1024 < sent < 8 * MIB


async def test_a_request_within_the_limits_is_served(settings: HubSettings) -> None:
    """The guard lets an authorised, reasonable request through to the route."""
    s = ops_settings_of(settings)
    async with running(s) as r, served(r) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b'{"reason": "BNMP is back after the outage"}'
        head = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Authorization": "Bearer t-operator",
        }
        writer.write(_head("POST", REPLAY, head) + body)
        await writer.drain()
        assert await _status(reader) == 404  # no dead letter 1: the route itself answered
        writer.close()
