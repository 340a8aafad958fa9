"""The operator's shell: `python -m hub dlq …`, `status`, `timeline`, `ops` (same rules as the web).

Writes need a token of the operator role or higher (`--token` or `HUB_OPS_TOKEN`), exactly as the
API does, and always a `--reason`; what the token's user does is audited under their name. Without
a token the commands read as a viewer does: bodies through the allowlist, no error text, no secret
document. Bulk replays are staged as on the web (canary first, throttled, stop on repeated
failure) and run in the foreground; an edit-and-replay, and a bulk replay above
`ops.approval_above` dead letters, wait for a second admin (`dlq approve`).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from hub.ops.auth import Principal, Role, resolve
from hub.ops.models import Overview, Queues
from hub.ops.search import DeadLetterFilter
from hub.ops.service import OpsService
from hub.settings import HubSettings

__all__ = ["dlq_app", "ops_app"]

T = TypeVar("T")

ops_app = typer.Typer(no_args_is_help=True, add_completion=False)
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: list, show, replay, archive.")
ops_app.add_typer(dlq_app, name="dlq")

# Tables stay readable when piped: at least 140 columns, more if the terminal is wider.
console = Console(highlight=False, width=max(shutil.get_terminal_size((140, 24)).columns, 140))

Token = Annotated[
    str | None, typer.Option(envvar="HUB_OPS_TOKEN", help="ops token (operator+ for writes)")
]
ReasonOpt = Annotated[str, typer.Option(help="why: kept in the audit log (5+ characters)")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]
Status = Annotated[str, typer.Option(help="parked | replayed | archived | any")]
Opt = Annotated[str | None, typer.Option()]
Ids = Annotated[list[int] | None, typer.Argument(help="dead-letter ids")]


def _settings(ctx: typer.Context) -> HubSettings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, HubSettings) else HubSettings()


def _who(settings: HubSettings, token: str | None, needed: Role = Role.VIEWER) -> Principal:
    who = resolve(settings.ops.tokens, token)
    if who is None and needed is Role.VIEWER:
        return Principal(f"shell:{getpass.getuser()}", Role.VIEWER)
    if who is None or not who.may(needed):
        console.print(f"[red]this needs a token of the {needed.label} role (--token)[/red]")
        raise typer.Exit(3)
    return who


def _run(settings: HubSettings, job: Callable[[OpsService], Awaitable[T]]) -> T:
    async def main() -> T:
        async with OpsService.standalone(settings) as ops:
            return await job(ops)

    return asyncio.run(main())


def _reason(reason: str) -> str:
    if len(reason.strip()) < 5:
        console.print("[red]--reason must say why (5 characters or more)[/red]")
        raise typer.Exit(2)
    return reason.strip()


def _plain(data: object) -> object:
    """Models as Python values (timestamps stay datetimes: `default=str` prints them)."""
    if isinstance(data, BaseModel):
        return data.model_dump()
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(_plain(data), indent=2, default=str, ensure_ascii=False))


def _filter(status: str, ids: list[int] | None = None, **fields: str | None) -> DeadLetterFilter:
    chosen = {k: v for k, v in fields.items() if v}
    try:
        return DeadLetterFilter.model_validate({"status": status, "ids": ids or (), **chosen})
    except ValueError as e:
        console.print(f"[red]bad filter: {e}[/red]")
        raise typer.Exit(2) from None


@dlq_app.command("list")
def list_(
    ctx: typer.Context,
    status: Status = "parked",
    kind: Opt = None,
    connector: Opt = None,
    error: Opt = None,
    process: Opt = None,
    subject: Opt = None,
    since: Opt = None,
    until: Opt = None,
    search: Opt = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """List dead letters, newest first (filters as on the dashboard)."""
    f = _filter(status, kind=kind, connector=connector, error=error, process=process,
                subject=subject, since=since, until=until, search=search)  # fmt: skip
    settings = _settings(ctx)
    who = _who(settings, token)
    page = _run(settings, lambda ops: ops.dead_letters(f, who, limit))
    if as_json:
        return _echo_json(page)
    table = Table("id", "last failed", "connector", "queue", "kind", "subject", "reason", "×")
    for d in page.items:
        when = d.last_failed_at.strftime("%Y-%m-%d %H:%M:%S")
        row = (d.id, when, d.connector, d.queue, d.kind, d.correlation_id)
        table.add_row(*map(str, row), d.reason, str(d.failures))
    console.print(table)
    console.print(f"{len(page.items)} shown of {page.total} ({status})")
    return None


@dlq_app.command("groups")
def groups(
    ctx: typer.Context, status: Status = "parked", token: Token = None, as_json: AsJson = False
) -> None:
    """Dead letters grouped by error type, reason, connector and kind."""
    settings = _settings(ctx)
    who = _who(settings, token)
    found = _run(settings, lambda ops: ops.groups(_filter(status), who))
    if as_json:
        return _echo_json(found)
    table = Table("count", "error type", "reason", "connector", "kind", "last failed")
    for g in found:
        last = g.last_failed_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(g.count), g.error_type, g.reason, g.connector, str(g.kind), last)
    console.print(table)
    return None


@dlq_app.command("show")
def show(
    ctx: typer.Context,
    letter_id: int,
    token: Token = None,
    reveal: Annotated[bool, typer.Option(help="as it is (admin, with --reason; audited)")] = False,
    reason: ReasonOpt = "",
    as_json: AsJson = False,
) -> None:
    """One dead letter: error, headers, trace, body (through the allowlist; `--reveal` shows an
    admin everything, with a reason, and the audit log records it)."""
    settings = _settings(ctx)
    if reveal:
        why = _reason(reason)
        admin = _who(settings, token, Role.ADMIN)
        found = _run(settings, lambda ops: ops.reveal(letter_id, admin, why))
    else:
        who = _who(settings, token)
        found = _run(settings, lambda ops: ops.dead_letter(letter_id, who))
    if found is None:
        console.print(f"[red]no dead letter {letter_id}[/red]")
        raise typer.Exit(1)
    if as_json:
        return _echo_json(found)
    v = found.verdict
    console.print(f"[bold]dead letter {letter_id}[/bold] {found.status} · {found.queue}")
    console.print(f"{found.error_type}: {found.reason} · {found.error_message}")
    colour = "green" if v.allowed else "red"
    console.print(f"[{colour}]replay: {v.code} – {v.why}[/{colour}]")
    console.print_json(json.dumps(found.headers, default=str))
    console.print_json(json.dumps(found.body.model_dump(), default=str))
    return None


async def _replay_one(ops: OpsService, letter_id: int, who: Principal, reason: str) -> int:
    from hub.ops.actions import LetterNotFound

    try:
        result = await ops.actions.replay(letter_id, who, reason)
    except LetterNotFound:
        console.print(f"[red]no dead letter {letter_id}[/red]")
        return 1
    colour = "green" if result.done else "red"
    console.print(f"[{colour}]{result.code}: {result.why}[/{colour}]")
    return 0 if result.done else 2


async def _replay_bulk(
    ops: OpsService, f: DeadLetterFilter, who: Principal, reason: str, rate: float | None
) -> int:
    from hub.ops.approvals import PendingBulkExists
    from hub.ops.bulk import FilterBusy, NothingToReplay

    try:
        started = await ops.approvals.start_bulk(f, who, reason, rate)
    except (NothingToReplay, FilterBusy, PendingBulkExists) as e:
        console.print(f"[yellow]{type(e).__name__}: {e}[/yellow]")
        return 1
    if started.job_id is None:
        console.print(
            f"more than {ops.settings.ops.approval_above} dead letters: request "
            f"{started.approval_id} waits for a second admin (dlq approve {started.approval_id})"
        )
        return 0
    return await _run_job(ops, started.job_id, who, reason)


async def _run_job(ops: OpsService, job_id: int, who: Principal, reason: str) -> int:
    started = time.perf_counter()
    console.print(f"replay job {job_id}: canary first…")
    progress = await ops.bulk.run(job_id, who, reason)
    took = time.perf_counter() - started
    done = progress.ok + progress.failed + progress.refused + progress.unconfirmed
    console.print(
        f"job {job_id} {progress.phase}: {progress.ok} ok, {progress.failed} failed, "
        f"{progress.refused} refused, {progress.unconfirmed} unconfirmed in {took:.2f} s "
        f"({done / took if took else 0:.0f}/s)"
        + (f" · stopped: {progress.stop_reason}" if progress.stop_reason else "")
    )
    return 0 if progress.phase == "done" else 2


@dlq_app.command("replay")
def replay(
    ctx: typer.Context,
    ids: Ids = None,
    reason: ReasonOpt = "",
    kind: Opt = None,
    connector: Opt = None,
    error: Opt = None,
    process: Opt = None,
    subject: Opt = None,
    since: Opt = None,
    until: Opt = None,
    rate: Annotated[float | None, typer.Option(help="replays per second")] = None,
    token: Token = None,
) -> None:
    """Replay one dead letter by id, or stage a bulk replay of several ids or of a filter."""
    settings, why = _settings(ctx), _reason(reason)
    who = _who(settings, token, Role.OPERATOR)
    f = _filter("parked", ids, kind=kind, connector=connector, error=error, process=process,
                subject=subject, since=since, until=until)  # fmt: skip
    if not f.narrowed():
        console.print("[red]name ids or a filter: replaying everything needs a filter[/red]")
        raise typer.Exit(2)
    if ids and len(ids) == 1 and f.model_dump(exclude_defaults=True).keys() == {"ids"}:
        raise typer.Exit(_run(settings, lambda ops: _replay_one(ops, ids[0], who, why)))
    raise typer.Exit(_run(settings, lambda ops: _replay_bulk(ops, f, who, why, rate)))


@dlq_app.command("edit-replay")
def edit_replay(
    ctx: typer.Context,
    letter_id: int,
    body_file: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="edited JSON")],
    reason: ReasonOpt = "",
    token: Token = None,
) -> None:
    """Ask for an edited copy of a dead letter to be replayed (admin): new message id, linked to
    the original; it runs once a second admin approves it (`dlq approve`)."""
    settings, why = _settings(ctx), _reason(reason)
    who = _who(settings, token, Role.ADMIN)
    text = body_file.read_text(encoding="utf-8")

    async def job(ops: OpsService) -> int:
        from hub.ops.actions import ActionResult

        found = await ops.approvals.request_edit(letter_id, who, why, text)
        if isinstance(found, ActionResult):
            console.print(f"[red]{found.code}: {found.why}[/red]")
            return 2
        console.print(f"request {found.id} waits for a second admin (dlq approve {found.id})")
        return 0

    raise typer.Exit(_run(settings, job))


@dlq_app.command("approvals")
def approvals(
    ctx: typer.Context, state: Opt = "pending", token: Token = None, as_json: AsJson = False
) -> None:
    """Requests waiting for a second admin (`--state any` for all)."""
    from hub.ops.approvals import view

    settings = _settings(ctx)
    _who(settings, token, Role.OPERATOR)
    wanted = None if state in (None, "any") else state
    found = [view(a) for a in _run(settings, lambda ops: ops.approvals.list(wanted))]
    if as_json:
        return _echo_json(found)
    table = Table("id", "action", "state", "by", "reason", "letters", "changes", "decided by")
    for a in found:
        paths = ", ".join(c.path for c in a.changes)
        table.add_row(str(a.id), a.action, a.state, a.requested_by, a.request_reason,
                      str(a.count), paths, a.decided_by or "")  # fmt: skip
    console.print(table)
    return None


def _decide(
    ctx: typer.Context, approval_id: int, reason: str, token: str | None, *, approve: bool
) -> None:
    from hub.ops.approvals import ApprovalClosed, ApprovalNotFound, OwnRequest
    from hub.ops.bulk import FilterBusy

    settings, why = _settings(ctx), _reason(reason)
    who = _who(settings, token, Role.ADMIN)

    async def job(ops: OpsService) -> int:
        try:
            decided = await ops.approvals.decide(approval_id, who, why, approve=approve)
        except (ApprovalNotFound, ApprovalClosed, OwnRequest, FilterBusy) as e:
            console.print(f"[red]{type(e).__name__}: {e}[/red]")
            return 2
        console.print(f"request {approval_id} {decided.approval.state}")
        if decided.replay is not None:
            colour = "green" if decided.replay.done else "red"
            console.print(f"[{colour}]{decided.replay.code}: {decided.replay.why}[/{colour}]")
            return 0 if decided.replay.done else 2
        if decided.job_id is not None and decided.runner is not None:
            why_asked = decided.approval.request_reason
            return await _run_job(ops, decided.job_id, decided.runner, why_asked)
        return 0

    raise typer.Exit(_run(settings, job))


@dlq_app.command("approve")
def approve(
    ctx: typer.Context, approval_id: int, reason: ReasonOpt = "", token: Token = None
) -> None:
    """Approve another person's request (admin), with a reason: it runs now."""
    _decide(ctx, approval_id, reason, token, approve=True)


@dlq_app.command("reject")
def reject(
    ctx: typer.Context, approval_id: int, reason: ReasonOpt = "", token: Token = None
) -> None:
    """Reject another person's request (admin), with a reason."""
    _decide(ctx, approval_id, reason, token, approve=False)


def _status_change(
    ctx: typer.Context, ids: list[int], reason: str, token: str | None, *, restore: bool
) -> None:
    settings, why = _settings(ctx), _reason(reason)
    who = _who(settings, token, Role.OPERATOR)
    change = _run(settings, lambda ops: ops.actions.set_status(ids, who, why, restore=restore))
    verb = "restored" if restore else "archived"
    console.print(f"{verb}: {', '.join(map(str, change.changed)) or 'none'}")
    for letter, why_not in change.skipped.items():
        console.print(f"[yellow]{letter}: not {verb}, {why_not}[/yellow]")
    raise typer.Exit(0 if change.changed else 2)


@dlq_app.command("archive")
def archive(
    ctx: typer.Context, ids: list[int], reason: ReasonOpt = "", token: Token = None
) -> None:
    """Archive parked dead letters (restorable with `dlq restore`)."""
    _status_change(ctx, ids, reason, token, restore=False)


@dlq_app.command("restore")
def restore(
    ctx: typer.Context, ids: list[int], reason: ReasonOpt = "", token: Token = None
) -> None:
    """Put archived dead letters back among the parked ones."""
    _status_change(ctx, ids, reason, token, restore=True)


@dlq_app.command("jobs")
def jobs(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The latest bulk replays and their progress."""
    found = _run(_settings(ctx), lambda ops: ops.jobs())
    if as_json:
        return _echo_json(found)
    table = Table("job", "state", "by", "total", "items", "stop reason")
    for j in found:
        items = ", ".join(f"{k} {n}" for k, n in sorted(j.items.items()))
        table.add_row(str(j.id), j.state, j.created_by, str(j.total), items, j.stop_reason or "")
    console.print(table)
    return None


def _status_table(queues: Queues, overview: Overview) -> Table:
    table = Table("queue", "role", "ready", "unacked", "consumers", "in/s", "out/s",
                  title=f"queues (from {queues.source})")  # fmt: skip

    def show(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)

    for q in queues.queues:
        cells = (q.ready, q.unacked, q.consumers, q.publish_rate, q.deliver_rate)
        table.add_row(q.name, q.role, *map(show, cells))
    table.caption = (
        f"dead letters parked: {overview.dead_letters_parked} · deadlines open "
        f"{overview.deadlines_open}, overdue {overview.deadlines_overdue} · outbox backlog "
        f"{overview.outbox_backlog}"
    )
    return table


@ops_app.command("status")
def status(
    ctx: typer.Context,
    watch: Annotated[float, typer.Option(help="refresh every N seconds (0: once)")] = 0,
    as_json: AsJson = False,
) -> None:
    """The queues in the terminal: depth, consumers, rates, and the hub's backlog."""

    async def job(ops: OpsService) -> None:
        while True:
            queues, overview = await ops.queues(), await ops.overview()
            if as_json:
                return _echo_json({"queues": queues, "overview": overview})
            if watch:
                console.clear()
            console.print(_status_table(queues, overview))
            if queues.problem:
                console.print(f"[yellow]{queues.problem}[/yellow]")
            if not watch:
                return None
            await asyncio.sleep(watch)

    _run(_settings(ctx), job)


@ops_app.command("timeline")
def timeline(
    ctx: typer.Context, subject: str, token: Token = None, as_json: AsJson = False
) -> None:
    """The timeline of one release order or warrant."""
    settings = _settings(ctx)
    who = _who(settings, token)
    found = _run(settings, lambda ops: ops.timeline(subject, who))
    if as_json:
        return _echo_json(found)
    if not found.found:
        console.print(f"[red]nothing is known about {subject}[/red]")
        raise typer.Exit(1)
    row = found.order or found.warrant
    console.print(f"[bold]{subject}[/bold] state: [bold]{row.state if row else '–'}[/bold]")
    for d in found.deadlines:
        met = d.satisfied_at or "open"
        console.print(f"  deadline {d.kind}: due {d.due_at}, met {met}")
    for e in found.events:
        console.print(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.label}  [dim]{e.source}[/dim]")
    return None


@ops_app.command("ops")
def serve(ctx: typer.Context, host: Opt = None, port: int | None = None) -> None:
    """Serve the ops API and dashboard (standalone: its own pool and broker connection)."""
    import uvicorn

    from hub.ops.api import create_app

    settings = _settings(ctx)

    async def job(ops: OpsService) -> None:
        app, listen = create_app(ops), host or settings.ops.host
        config = uvicorn.Config(app, listen, port or settings.ops.port, lifespan="off", ws="none")
        await uvicorn.Server(config).serve()

    _run(settings, job)
