"""The cluster test's helpers: its own directory, bounded calls to `deploy/cluster.sh` and
`deploy/private.sh`, the nodes' logs (the TCP load balancer in front of them: `tests.balancer`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
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
