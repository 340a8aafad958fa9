"""The fault suite's own RabbitMQ node and PostgreSQL instance, driven through `deploy/private.sh`.

They run beside the shared services, on their own ports and data directories, and are removed at
the end. Restarting or crashing them is part of the suite's faults.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["CLUSTER_SH", "PRIVATE_SH", "PrivateServices", "ServicesUnavailable", "run_script"]

PRIVATE_SH: Final = Path(__file__).resolve().parents[2] / "deploy" / "private.sh"
CLUSTER_SH: Final = PRIVATE_SH.with_name("cluster.sh")


class ServicesUnavailable(RuntimeError):
    """The private RabbitMQ node or PostgreSQL instance could not be started here."""


async def run_script(*args: str, script: Path = PRIVATE_SH, timeout_s: float = 180.0) -> str:
    """Run `deploy/private.sh ARGS` (or another script); return its output, or raise
    `ServicesUnavailable`."""
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ServicesUnavailable(
            f"{script.name} {' '.join(args)}: no answer in {timeout_s} s"
        ) from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ServicesUnavailable(f"{script.name} {' '.join(args)} failed: {text.strip()[-600:]}")
    return text


@dataclass
class PrivateServices:
    """The suite's own RabbitMQ node and PostgreSQL instance (see `deploy/private.sh`)."""

    node: str = "hubfault"
    amqp_port: int = 5690
    pg_name: str = "hubfault"
    pg_port: int = 5442
    durations: dict[str, list[float]] = field(default_factory=dict)

    @property
    def amqp_url(self) -> str:
        """The node's AMQP URL (default vhost)."""
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def management_url(self) -> str:
        """The node's management API."""
        return f"http://guest:guest@127.0.0.1:{self.amqp_port + 10000}/"

    @property
    def dsn(self) -> str:
        """The instance's `hub` database."""
        return f"postgresql://hub:hub@127.0.0.1:{self.pg_port}/hub"

    async def start(self) -> None:
        """Start both (reusing them when they already answer); raise the first failure."""
        results = await asyncio.gather(
            self.rabbit("start"), self.postgres("start"), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def remove(self) -> None:
        """Stop both and delete their files."""
        await asyncio.gather(self.rabbit("remove"), self.postgres("remove"), return_exceptions=True)

    async def rabbit(self, action: str) -> None:
        """`start`, `stop`, `restart`, `kill` or `remove` the RabbitMQ node."""
        await self._timed(f"rabbit_{action}", "rabbit", action, self.node, str(self.amqp_port))

    async def postgres(self, action: str) -> None:
        """`start`, `stop`, `restart`, `crash` or `remove` the PostgreSQL instance."""
        await self._timed(f"pg_{action}", "postgres", action, self.pg_name, str(self.pg_port))

    async def _timed(self, label: str, *args: str) -> None:
        t0 = time.monotonic()
        await run_script(*args)
        self.durations.setdefault(label, []).append(round(time.monotonic() - t0, 2))
