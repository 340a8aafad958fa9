"""The cluster test's helpers: its own directory, bounded calls to `deploy/cluster.sh` and
`deploy/private.sh`, the nodes' logs, and a TCP load balancer in front of the nodes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CLUSTER_SH = DEPLOY / "cluster.sh"
PRIVATE_SH = DEPLOY / "private.sh"
# The test's own directory (cookie, data, logs, PostgreSQL), deleted at the end: apart from the
# fault suite's /tmp/hub-private and from a cluster started by hand (/tmp/hub-cluster).
CLUSTER_DIR = Path(os.environ.get("HUB_CLUSTER_TEST_DIR", "/tmp/hub-cluster-test"))
ENV = os.environ | {"HUB_CLUSTER_DIR": str(CLUSTER_DIR), "HUB_PRIVATE_DIR": str(CLUSTER_DIR)}


class ScriptFailed(RuntimeError):
    """A `deploy/` script failed or did not finish in time."""


def sh(*args: str, script: Path = CLUSTER_SH, timeout_s: float = 120.0) -> str:
    """Run `script ARGS` (blocking); its whole process group is killed after `timeout_s`."""
    proc = subprocess.Popen(
        ["bash", str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=ENV,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=10)
        raise ScriptFailed(f"{script.name} {' '.join(args)}: not done in {timeout_s} s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ScriptFailed(f"{script.name} {' '.join(args)} failed: {text.strip()[-1500:]}")
    return text


async def ash(*args: str, script: Path = CLUSTER_SH, timeout_s: float = 120.0) -> str:
    """`sh` without blocking the event loop (the hub goes on while a node is killed)."""
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=ENV,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        raise ScriptFailed(f"{script.name} {' '.join(args)}: not done in {timeout_s} s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ScriptFailed(f"{script.name} {' '.join(args)} failed: {text.strip()[-1500:]}")
    return text


def node_logs(lines: int = 60) -> str:
    """The tail of every node's logs (empty when there are none)."""
    try:
        return sh("logs", str(lines), timeout_s=30)
    except ScriptFailed as e:
        return str(e)


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
        for port in self.ports:
            try:
                up = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 3)
            except (OSError, TimeoutError):
                continue
            self.connections.append((time.monotonic(), port))
            self._writers |= {writer, up[1]}
            try:
                await asyncio.gather(_pipe(reader, up[1]), _pipe(up[0], writer))
            finally:
                self._writers -= {writer, up[1]}
            return
        writer.close()  # no node takes connections


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until either side ends; then close `writer` (which ends the other direction too)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
