"""`python -m bench`: run the scenarios in rounds, print the table, save the JSON document."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.messages import SIGNER
from bench.options import DEFAULT_SCENARIOS, Options
from bench.plan import scenario
from bench.report import NOTE, table, write_json
from bench.runner import TARGETS, ratios, run_rounds, summarise
from bench.sandbox import management
from hub.settings import HubSettings

__all__ = ["main", "parse"]


def parse(argv: list[str]) -> Options:
    """Options from the command line (`--help` lists them)."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--messages", type=int, help="messages per throughput scenario (20000)")
    p.add_argument("--backlog", type=int, help="messages queued in hub.bnmp.out (50000)")
    p.add_argument("--outage", type=int, help="messages deferred while BNMP is down (50000)")
    p.add_argument("--orders", type=int, help="release orders in the flow scenario (2000; 100)")
    p.add_argument("--in-flight", type=int, help="flow: orders open at once, closed loop (25)")
    p.add_argument("--quick", action="store_true", help="CI-sized: one round, 2000 messages")
    p.add_argument("--scenarios", help="comma-separated: " + ",".join(DEFAULT_SCENARIOS))
    p.add_argument("--repeat", type=int, help="rounds (3; 1 with --quick)")
    p.add_argument("--heavy-rounds", type=int, help="rounds with backlog, outage, flow (1)")
    p.add_argument("--duration", type=float, help="seconds of each steady load (20)")
    p.add_argument("--out", type=Path, help="JSON file (bench/results/<timestamp>.json)")
    p.add_argument("--profile", action="store_true", help="then profile each scenario once more")
    a = p.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = a.out or Path("bench/results") / f"{stamp}.json"
    names = tuple(a.scenarios.split(",")) if a.scenarios else DEFAULT_SCENARIOS
    for name in names:
        scenario(name)  # fail early on a typo
    opts = (
        Options.quick(a.messages or 2000, out, names)
        if a.quick
        else Options(out=out, scenarios=names)
    )
    changes: dict[str, Any] = {"profile": a.profile}
    for key, value in (
        ("messages", a.messages),
        ("backlog", a.backlog),
        ("outage", a.outage),
        ("orders", a.orders),
        ("in_flight", a.in_flight),
        ("repeat", a.repeat),
        ("heavy_rounds", a.heavy_rounds),
        ("duration_s", a.duration),
    ):
        if value is not None:
            changes[key] = value
    return Options(**{**opts.__dict__, **changes})


async def _machine(base: HubSettings) -> dict[str, Any]:
    async with management(base) as api:
        overview = (await api.get("/overview")).json()
        node = (await api.get(f"/nodes/{overview['node']}")).json()
    pid = node.get("os_pid")
    local = pid is not None and _is_local(int(pid))
    return {
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "python": platform.python_version(),
        "rabbitmq": overview.get("rabbitmq_version"),
        "erlang": overview.get("erlang_version"),
        "rabbitmq_node": overview["node"],
        "rabbitmq_os_pid": int(pid) if local else None,
    }


def _is_local(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "beam.smp"
    except OSError:
        return False


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _profile(opts: Options, base: HubSettings) -> dict[str, Any]:
    found = {}
    opts = dataclasses.replace(opts, backlog=opts.messages, outage=opts.messages)
    for name in opts.scenarios:
        if name != "flow":
            path = str(opts.out.with_suffix("")) + f"-{name}.profile"
            _say(f"profiling {name} (py-spy, an extra run not in the table) ...")
            await scenario(name).run(opts, base, path)
            found[name] = _read_breakdown(path)
    return found


def _read_breakdown(path: str) -> dict[str, Any]:
    return {"files": path, **json.loads(Path(path + ".json").read_text())}


def _print_profiles(profiles: dict[str, Any], top: int = 12) -> None:
    for name, p in profiles.items():
        print(f"\nprofile of {name}: {p['samples']} CPU samples ({p['files']}.*)")
        for view in ("by_phase_pct", "by_package_pct", "ours_inclusive_pct"):
            items = list(p[view].items())[:top]
            print(f"  {view}: " + ", ".join(f"{k} {v}%" for k, v in items))


async def _run(opts: Options) -> dict[str, Any]:
    base = HubSettings()
    keys = {SIGNER.key_id: SIGNER.court_key(("tjmg.*",))}  # production's checks, the bench's court
    base = base.model_copy(
        update={"security": base.security.model_copy(update={"court_keys": keys})}
    )
    machine = await _machine(base)
    opts = dataclasses.replace(opts, broker_pid=machine["rabbitmq_os_pid"])
    rounds = await run_rounds(opts, base, _say)
    machine["loadavg_after"] = os.getloadavg()
    rows, rs = summarise(rounds, opts.scenarios), ratios(rounds)
    doc = {
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "started_at": opts.out.stem,
        "options": {k: str(v) for k, v in opts.__dict__.items()},
        "machine": machine,
        "summary": rows,
        "ratios": rs,
        "targets": TARGETS,
        "rounds": [{n: r.model_dump() for n, r in rd.items()} for rd in rounds],
    }
    if opts.profile:
        doc["profiles"] = await _profile(opts, base)
    return doc


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print the table and the ratios; write the JSON document."""
    opts = parse(sys.argv[1:] if argv is None else argv)
    doc = asyncio.run(_run(opts))
    write_json(opts.out, doc)
    print(table(doc["summary"], doc["ratios"]))
    print()
    for label, r in doc["ratios"].items():
        print(f"{label}: {r['median']:.2f} (per round: {r['per_round']}; target {TARGETS[label]})")
    print("\n" + NOTE)
    _print_profiles(doc.get("profiles", {}))
    print(f"saved {opts.out}")
    return 0
