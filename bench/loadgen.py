"""`python -m bench.loadgen JOB RESULT`: the steady load generator and sink, as its own process.

JOB is a JSON object (url, target, rate, duration_s, warmup_s); the result is written as JSON to
the file RESULT. A line "sending" on stdout tells the parent the generator is connected.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path
from typing import Any

from bench.traffic import Target, offer

__all__ = ["main"]


def _ready() -> None:
    print("sending", flush=True)


async def _run(job: dict[str, Any]) -> dict[str, Any]:
    target = Target(**job["target"])
    return await offer(
        job["url"], target, job["rate"], job["duration_s"], job["warmup_s"], on_ready=_ready
    )


def main(argv: list[str]) -> int:
    """Run the job in argv[0] and write its result to argv[1]."""
    # No cyclic collection in the instrument: a full one paused this process for up to 18 ms
    # (measured), which the sink would have charged to the system under test. A run keeps a few
    # thousand small records.
    gc.disable()
    result = asyncio.run(_run(json.loads(argv[0])))
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
