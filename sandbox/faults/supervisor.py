"""Hub processes under a supervisor, as systemd or Kubernetes runs them: restarted when they exit.

Each slot runs `python -m hub run --no-dashboard` with the environment it is given, its output
appended to `hub-<slot>.log`. The suite kills a slot's process with SIGKILL; the supervisor starts a
new one after a short delay. An exit the suite did not cause is recorded (slot, code, time and the
log's last lines): that is a finding, not a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Exit", "HubProcesses"]

_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Exit:
    """A hub process that ended without being killed by the suite."""

    slot: int
    code: int | None
    at_s: float
    tail: str

    @property
    def reason(self) -> str:
        """The last line the process wrote (the exception, when it died of one)."""
        lines = [line.strip() for line in self.tail.splitlines() if line.strip()]
        return lines[-1][:160] if lines else "no output"


@dataclass
class HubProcesses:
    """`count` supervised hub processes."""

    count: int
    env: Mapping[str, str]
    log_dir: Path
    restart_delay_s: float = 1.0
    starts: int = 0
    kills: int = 0
    unexpected: list[Exit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._killed: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._t0 = time.monotonic()

    def stopping(self) -> bool:
        """Whether `stop` was called (then nothing is restarted)."""
        return self._stopping

    def log_of(self, slot: int) -> Path:
        """Where slot `slot` writes its output."""
        return self.log_dir / f"hub-{slot}.log"

    async def start(self) -> None:
        """Start every slot's supervisor."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._tasks = [
            asyncio.create_task(self._supervise(slot), name=f"hub-{slot}")
            for slot in range(self.count)
        ]

    async def _spawn(self, slot: int) -> asyncio.subprocess.Process:
        with self.log_of(slot).open("ab") as log:
            log.write(f"--- start at {time.monotonic() - self._t0:.1f} s ---\n".encode())
            log.flush()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hub",
                "run",
                "--no-dashboard",
                env=dict(self.env),
                cwd=_ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.starts += 1
        return proc

    async def _supervise(self, slot: int) -> None:
        while not self.stopping():
            proc = self._procs[slot] = await self._spawn(slot)
            code = await proc.wait()
            if self.stopping():
                return
            if proc.pid in self._killed:
                self._killed.discard(proc.pid)
            else:
                self.unexpected.append(
                    Exit(slot, code, round(time.monotonic() - self._t0, 1), self._tail(slot))
                )
            await asyncio.sleep(self.restart_delay_s)

    def _tail(self, slot: int, lines: int = 12) -> str:
        try:
            text = self.log_of(slot).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, slot: int) -> int | None:
        """SIGKILL slot `slot`'s process (the supervisor restarts it); return its pid."""
        proc = self._procs.get(slot % self.count)
        if proc is None or proc.returncode is not None:
            return None
        self._killed.add(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        self.kills += 1
        return proc.pid

    def pids(self) -> dict[int, int]:
        """The pid of each slot's live process."""
        return {s: p.pid for s, p in self._procs.items() if p.returncode is None}

    def running(self) -> int:
        """How many slots have a live process."""
        return sum(1 for p in self._procs.values() if p.returncode is None)

    async def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM every process (SIGKILL after `grace_s`) and stop supervising."""
        self._stopping = True
        live = [p for p in self._procs.values() if p.returncode is None]
        for p in live:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in live)), grace_s)
        except TimeoutError:
            for p in live:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
