"""`python -m hub …`: run the hub, the demo, and the operator's commands (a thin typer shell)."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.domain.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    load_checkpoints,
    public_key,
    public_text,
    trusted_heads,
    trusted_keys,
)
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


@app.command()
def reconcile(
    days: Annotated[
        int | None, typer.Option(help="window of changes (default: bnmp.reconcile_window_days)")
    ] = None,
) -> None:
    """Reconcile the hub's records with BNMP's, the register of record (S003 ch. IV, art. 5), and
    report the drift per court; exit 1 when there is any."""
    from datetime import timedelta

    import httpx

    from connectors.bnmp.reconcile import fetcher
    from hub.clock import utc_now
    from hub.domain.reconcile import Drift, report
    from hub.pipeline.bnmp_reconcile import reconcile_once
    from hub.store import create_pool

    s = HubSettings()
    window = timedelta(days=days or s.bnmp.reconcile_window_days)

    async def _run() -> list[Drift]:
        pool = await create_pool(s.postgres)
        try:
            async with httpx.AsyncClient() as http:
                return await reconcile_once(pool, fetcher(s.bnmp, http), utc_now, window)
        finally:
            await pool.close()

    drift = asyncio.run(_run())
    for line in report(drift):
        typer.echo(line)
    raise typer.Exit(1 if drift else 0)


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


def _trusted_keys(settings: HubSettings, given: list[str]) -> dict[str, Ed25519PublicKey]:
    """The checkpoint public keys a verification trusts: the settings', those given, and the
    public half of the hub's own checkpoint key if this environment holds it."""
    from hub.pipeline.checkpoints import load_signer

    try:
        keys = [public_key(k) for k in (*settings.audit.public_keys, *given)]
        signer = load_signer(settings.audit)
    except (ValueError, OSError) as e:
        raise typer.BadParameter(str(e), param_hint="--public-key") from None
    if signer is not None:
        keys.append(signer.public_key)
    return trusted_keys(keys)


def _checkpoint_files(paths: list[Path]) -> list[Checkpoint]:
    """Every checkpoint in the files given to `audit verify`."""
    found: list[Checkpoint] = []
    for path in paths:
        try:
            found += load_checkpoints(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as e:
            raise typer.BadParameter(f"{path}: {e}", param_hint="--checkpoints") from None
    return found


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
    checkpoint_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoints",
            help="a file of signed checkpoints kept outside the database (the hub's"
            " HUB_AUDIT__CHECKPOINT_FILE, or what GET /api/audit/checkpoints returned): every"
            " one must verify with a trusted key, and the chain must hold each checkpointed row",
        ),
    ] = None,
    given_keys: Annotated[
        list[str] | None,
        typer.Option(
            "--public-key",
            help="a checkpoint public key to trust (base64 of its 32 bytes, or PEM), besides"
            " HUB_AUDIT__PUBLIC_KEYS",
        ),
    ] = None,
) -> None:
    """Walk the whole audit chain; exit 1 at the first row that does not verify, or if a signed
    checkpoint (from the files given and the database) is not trusted or not in the chain."""
    from hub.store import audit_repo, connect

    expected = _head(kept)
    s = HubSettings()
    keys = _trusted_keys(s, given_keys or [])
    from_files = _checkpoint_files(checkpoint_files or [])
    if from_files and not keys:
        raise typer.BadParameter(
            "no public key to check the checkpoints with (HUB_AUDIT__PUBLIC_KEYS)",
            param_hint="--public-key",
        )

    async def _run() -> tuple[int, object, tuple[int, bytes] | None, int, list[str]]:
        conn = await connect(s.postgres)
        try:
            stored = await audit_repo.checkpoints(conn) if keys else []
            heads, problems = trusted_heads([*from_files, *stored], keys)
            count, broken, head = await audit_repo.verify_with_head(conn, expected, heads)
            return count, broken, head, len(stored), problems
        finally:
            await conn.close()

    count, broken, head, stored, problems = asyncio.run(_run())
    for problem in problems:
        typer.echo(f"untrusted checkpoint: {problem}", err=True)
    if broken is not None or head is None:
        typer.echo(f"audit chain BROKEN after {count} rows: {broken}", err=True)
        raise typer.Exit(1)
    # Keep the head elsewhere too: a truncated chain with a rewritten head verifies here.
    typer.echo(f"audit chain verifies: {count} rows, head {head[0]}:{head[1].hex()}")
    if expected is not None:
        typer.echo(f"the head kept elsewhere ({expected[0]}) is in the chain")
    if keys:
        typer.echo(
            f"signed checkpoints checked: {len(from_files)} from files, {stored} kept in the"
            f" database ({len(problems)} untrusted)"
        )
    else:
        typer.echo(
            "no signed checkpoints checked: no public key (HUB_AUDIT__PUBLIC_KEYS or"
            " --public-key); a rewrite by someone who can write to the database would verify"
        )
    if problems:
        raise typer.Exit(1)


@audit_app.command("keygen")
def audit_keygen(
    out: Annotated[
        Path, typer.Option(help="where to write the private key (created, never overwritten)")
    ],
) -> None:
    """Make a checkpoint key pair: the private key to a new file (mode 0600) for the hub workers
    (HUB_AUDIT__CHECKPOINT_KEY_FILE), the public key printed for verifiers."""
    signer = CheckpointSigner.generate()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise typer.BadParameter(f"{out}: {e.strerror}", param_hint="--out") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(signer.private_text() + "\n")
    typer.echo(f"private key written to {out} (key id {signer.key_id})")
    typer.echo(f"public key, for HUB_AUDIT__PUBLIC_KEYS: {public_text(signer.public_key)}")


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
