"""Where the time goes: py-spy samples the step's process during the measured window only.

py-spy runs outside the process (it reads its memory), so it costs the process under test almost
nothing, and with `--nonblocking` it never pauses it. Only CPU samples are kept (idle ones are
dropped), so the shares are shares of CPU. Two views come out of the folded stacks:

* by phase: each sample goes to the first phase (in `PHASES` order) whose pattern its stack
  matches, so the shares add up to 100 %;
* by package: where the leaf frame of each sample is (pydantic, asyncpg, aiormq, asyncio, ...);
* by our function: every function of `hub`, `contracts` and `bench` on the stack, inclusive.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PHASES", "PySpy", "breakdown"]

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")
_OURS = ("/hub/", "/contracts/", "/bench/", "hub/", "contracts/", "bench/")
_PACKAGES = (
    "pydantic_core", "pydantic", "asyncpg", "aiormq", "pamqp", "aio_pika", "faststream",
    "fast_depends", "prometheus_client", "structlog", "asyncio", "json", "uuid", "hashlib",
    "contracts", "hub", "bench",
)  # fmt: skip


# (phase, pattern on the folded stack), first match wins.
PHASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("FastStream DI: message resolved in a worker thread",
         r"WorkerThread|run_in_threadpool|run_sync_in_worker|to_thread|_read_from_self|_write_to_self"),
        ("validate envelope (parse_envelope)", r"parse_envelope"),
        ("decide (hub.core: decision, routing, forwards)", r"hub/core|hub/routing"),
        ("audit chain (seal, rows)", r"audit_repo|hub/audit"),
        ("engine SQL (inbox, rows, outbox, confirms)", r"state_repo|Engine\._write|Engine\._load"),
        ("engine, other", r"hub/engine"),
        ("publish (basic.publish, pamqp marshal)", r"RabbitPublisher|basic_publish"),
        ("AMQP socket writes", r"Connection.__writer|StreamWriter.write"),
        ("AMQP frames in (deliveries, confirms)",
         r"Connection.__reader|Channel._reader|_on_deliver|_on_confirm|FrameReceiver|_read_ready"),
        ("hub.consumer, metrics", r"hub/consumer|prometheus"),
        ("delivery, drainer", r"hub/delivery"),
        ("consume/ack machinery (FastStream, aio-pika)",
         r"faststream|fast_depends|aio_pika/queue|aio_pika/message"),
        ("asyncpg (pool, transactions, INSERT)", r"asyncpg"),
        ("bench probes", r"bench/measure|bench/probes|bench/profile"),
        ("asyncio event loop", r"asyncio|selectors"),
    )
)  # fmt: skip


def _phase(stack: str) -> str:
    for name, pattern in PHASES:
        if pattern.search(stack):
            return name
    return "other"


@dataclass
class PySpy:
    """A py-spy recorder attached to one process while it runs."""

    pid: int
    out: Path
    rate: int = 250
    _proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start sampling (raises `RuntimeError` when py-spy is not installed)."""
        exe = _executable()
        self._proc = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(self.pid), "--format", "raw", "--rate", str(self.rate),
            "--nonblocking", "--output", str(self.out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(0.3)  # attaching takes a moment

    async def stop(self) -> None:
        """Stop sampling and let py-spy write its folded stacks."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGINT)
            await self._proc.wait()


def _executable() -> str:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    return exe


def _parse(line: str) -> tuple[list[tuple[str, str]], int]:
    stack, _, count = line.rstrip().rpartition(" ")
    frames = []
    for raw in stack.split(";"):
        m = _FRAME.match(raw.strip())
        frames.append((m["fn"], m["file"]) if m else (raw.strip(), ""))
    return frames, int(count)


def _package(file: str) -> str:
    for name in _PACKAGES:
        if f"/{name}/" in file or file.startswith(f"{name}/") or file.endswith(f"/{name}.py"):
            return name
    return Path(file).stem or "other"


def _ours(file: str) -> str | None:
    for marker in _OURS:
        i = file.find(marker)
        if i >= 0 and "site-packages" not in file:
            return file[i:].lstrip("/")
    return None


def breakdown(folded: Path, top: int = 25) -> dict[str, Any]:
    """Shares of CPU samples by leaf package, and by our functions (inclusive)."""
    by_phase: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        if not line.strip():
            continue
        frames, n = _parse(line)
        total += n
        by_phase[_phase(line.rpartition(" ")[0])] += n
        by_package[_package(frames[-1][1])] += n
        seen = {f"{path}:{fn}" for fn, file in frames if (path := _ours(file)) is not None}
        for key in seen:
            by_function[key] += n

    def share(c: Counter[str]) -> dict[str, float]:
        """The `top` most frequent keys, as percentages of all samples."""
        return {k: round(100 * v / max(total, 1), 1) for k, v in c.most_common(top)}

    return {
        "samples": total,
        "by_phase_pct": share(by_phase),
        "by_package_pct": share(by_package),
        "ours_inclusive_pct": share(by_function),
    }
