"""`python -m hub …`: run the hub, the demo, and the operator's commands (a thin typer shell)."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from hub.domain.grants import grants, user_definitions
from hub.domain.topology import build_topology, to_definitions
from hub.ops.cli import ops_app
from hub.settings import HubSettings

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.")
app.add_typer(audit_app, name="audit")
app.add_typer(ops_app)  # dlq …, status, timeline, ops (hub/ops/cli.py)

ROOT = Path(__file__).resolve().parents[1]


def _dump(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@app.command()
def topology(
    out: Annotated[Path, typer.Option(help="where to write")] = ROOT
    / "deploy/rabbitmq/definitions.json",
) -> None:
    """Write the RabbitMQ definitions generated from `hub.domain.topology` and the settings.

    Users are written without passwords (`hub.domain.grants`); `deploy/rabbitmq/users.sh` sets them.
    """
    s = HubSettings()
    topo = build_topology(s.units, s.retry.ladder_s, s.rabbit.delivery_limit)
    doc = to_definitions(topo) | user_definitions(grants(s.units, s.security))
    out.write_text(_dump(doc))
    typer.echo(f"wrote {out}")


@app.command()
def schemas(
    out: Annotated[Path, typer.Option(help="folder to write")] = ROOT / "contracts/schemas",
) -> None:
    """Write the JSON Schema of every message (one file per kind, plus the envelope)."""
    from contracts.schema import message_schemas, render_schema, schema_filename

    out.mkdir(parents=True, exist_ok=True)
    docs = message_schemas()
    for name, doc in docs.items():
        (out / schema_filename(name)).write_text(render_schema(doc), encoding="utf-8")
    typer.echo(f"wrote {len(docs)} schemas to {out}")


@app.command()
def run(
    dashboard: Annotated[bool, typer.Option(help="serve the ops API and dashboard too")] = True,
) -> None:
    """Run the hub as a service (all connectors) until SIGTERM or Ctrl-C."""
    from hub.service import serve

    raise typer.Exit(asyncio.run(serve(HubSettings(), dashboard=dashboard)))


@app.command()
def asyncapi(
    out: Annotated[Path, typer.Option(help="where to write")] = ROOT / "contracts/asyncapi.json",
) -> None:
    """Write the AsyncAPI document of every channel and message (FastStream generates it)."""
    from hub.asyncapi import render

    out.write_text(render(), encoding="utf-8")
    typer.echo(f"wrote {out}")


@app.command()
def migrate() -> None:
    """Apply the database migrations (the hub also does this at start-up)."""
    from hub.store import connect
    from hub.store import migrate as apply

    async def _run() -> list[str]:
        s = HubSettings()
        conn = await connect(s.postgres)
        try:
            return await apply(conn, s.postgres.schema_)
        finally:
            await conn.close()

    applied = asyncio.run(_run())
    typer.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


def _head(text: str | None) -> tuple[int, bytes] | None:
    """SEQ:HASH (or SEQ HASH) as `audit verify` prints a head."""
    if text is None:
        return None
    found = re.fullmatch(r"([0-9]+)[: ]([0-9a-fA-F]{64})", text.strip(), flags=re.ASCII)
    if found is None:
        raise typer.BadParameter(
            "expected SEQ:HASH as `audit verify` prints it", param_hint="--kept-head"
        )
    return int(found[1]), bytes.fromhex(found[2])


@audit_app.command("verify")
def audit_verify(
    kept: Annotated[
        str | None,
        typer.Option(
            "--kept-head",
            help="SEQ:HASH printed by an earlier run and kept elsewhere: the chain must still"
            " hold that row (catches a chain cut short whose head row was rewritten too)",
        ),
    ] = None,
) -> None:
    """Walk the whole audit chain; exit 1 at the first row that does not verify."""
    from hub.store import audit_repo, connect

    expected = _head(kept)

    async def _run() -> tuple[int, object, tuple[int, bytes] | None]:
        s = HubSettings()
        conn = await connect(s.postgres)
        try:
            return await audit_repo.verify_with_head(conn, expected)
        finally:
            await conn.close()

    count, broken, head = asyncio.run(_run())
    if broken is not None or head is None:
        typer.echo(f"audit chain BROKEN after {count} rows: {broken}", err=True)
        raise typer.Exit(1)
    # Keep the head elsewhere too: a truncated chain with a rewritten head verifies here.
    typer.echo(f"audit chain verifies: {count} rows, head {head[0]}:{head[1].hex()}")
    if expected is not None:
        typer.echo(f"the head kept elsewhere ({expected[0]}) is in the chain")


def _sandbox_commands() -> None:
    """In a clone, the sandbox (the simulated world; not packaged) adds `demo` and `faults`.

    Imported by name at run time, so the product never depends on it: an installed hub, or one run
    outside the clone, simply has neither command.
    """
    if importlib.util.find_spec("sandbox") is not None:
        importlib.import_module("sandbox.cli").register(app)


def main() -> None:
    """Entry point of `python -m hub` and the `hub` script."""
    from hub.logs import configure_logging

    s = HubSettings()
    configure_logging(s.log_level, json=s.log_json)
    _sandbox_commands()
    app(args=sys.argv[1:], prog_name="python -m hub")


if __name__ == "__main__":
    main()
