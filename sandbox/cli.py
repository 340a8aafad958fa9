"""The sandbox's commands: `demo` and `faults`, added to `python -m hub` when run from a clone.

Also runnable on their own: `python -m sandbox demo`, `python -m sandbox faults --short`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["commands", "register"]

commands = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@commands.command()
def demo(
    orders: Annotated[int, typer.Option(help="release orders the courts send")] = 300,
    warrants: Annotated[int, typer.Option(help="warrants issued before them")] = 100,
    factor: Annotated[float, typer.Option(help="hub seconds per real second")] = 600.0,
    port: Annotated[int, typer.Option(help="ops dashboard port")] = 8080,
    keep_running: Annotated[bool, typer.Option(help="keep serving after the summary")] = False,
) -> None:
    """Run the hub with its four simulated systems through a compressed-time day (the main job)."""
    from sandbox.demo.run import DemoOptions, run_demo

    opts = DemoOptions(
        orders=orders,
        warrants=warrants,
        factor=factor,
        dashboard_port=port,
        keep_running=keep_running,
    )
    raise typer.Exit(asyncio.run(run_demo(opts)))


@commands.command()
def faults(
    long: Annotated[
        bool, typer.Option("--long/--short", help="the long run, or CI's short one")
    ] = False,
    hubs: Annotated[int | None, typer.Option(help="hub processes (default: the profile's)")] = None,
    seed: Annotated[int | None, typer.Option(help="another seed for the plan")] = None,
    out: Annotated[Path, typer.Option(help="logs and JSON report")] = Path("/tmp/hub-faults"),
    keep_services: Annotated[bool, typer.Option(help="leave the private services running")] = False,
) -> None:
    """Run a scenario while faults are injected, then check the invariants."""
    from sandbox.faults import LONG, SHORT, FaultOptions, run_faults
    from sandbox.faults.runner import log_to

    log_to(out / "runner.log")
    profile = LONG if long else SHORT
    if seed is not None:
        profile = dataclasses.replace(profile, seed=seed)
    opts = FaultOptions(profile, out, hubs=hubs, keep_services=keep_services)
    raise typer.Exit(0 if asyncio.run(run_faults(opts)).ok else 1)


def register(app: typer.Typer) -> None:
    """Add the sandbox's commands to `python -m hub`."""
    for info in commands.registered_commands:
        app.registered_commands.append(info)
