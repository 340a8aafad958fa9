"""The ops HTTP API and dashboard: `create_app(ops)` returns a FastAPI app.

Every `/api` route needs `Authorization: Bearer <token>` (401 without, 403 when the role is too
low); only `/health`, `/metrics` and the dashboard's static files (which hold no data) are open.
Reads need viewer, replay and archive need operator plus a reason, edit-and-replay needs admin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from hub.ops.actions import ActionResult, LetterNotFound
from hub.ops.auth import Principal, Role, bearer_token, resolve
from hub.ops.bulk import NothingToReplay
from hub.ops.models import (
    Acknowledgements,
    AuditLine,
    ConnectorView,
    DeadLetterDetail,
    DeadLetterPage,
    Health,
    JobCancelling,
    JobStarted,
    LetterGroup,
    Me,
    OrderSummary,
    Overview,
    Queues,
    ReplayAnswer,
    ReplayJob,
    StatusChanged,
    Timeline,
)
from hub.ops.search import DeadLetterFilter
from hub.ops.service import OpsService

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=500)]


class ReasonIn(BaseModel):
    """An operator action's mandatory reason (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")
    reason: Reason


class EditIn(ReasonIn):
    """An admin's edited message body (JSON text) and the reason for the edit."""

    body: str = Field(min_length=2, max_length=1_000_000)


class SelectionIn(ReasonIn):
    """A bulk action over the dead letters a filter selects (or listed ids)."""

    selection: DeadLetterFilter
    rate_per_s: float | None = Field(default=None, gt=0)


def _ops(request: Request) -> OpsService:
    return cast("OpsService", request.app.state.ops)


Ops = Annotated[OpsService, Depends(_ops)]


def _require(needed: Role) -> Callable[..., Principal]:
    def caller(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        who = resolve(_ops(request).settings.ops.tokens, bearer_token(authorization))
        if who is None:
            raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        if not who.may(needed):
            raise HTTPException(403, f"this needs the {needed.label} role")
        return who

    return caller


Viewer = Annotated[Principal, Depends(_require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(_require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(_require(Role.ADMIN))]


def _selection(
    status: Literal["parked", "replayed", "archived", "any"] = "parked",
    kind: str | None = None,
    connector: str | None = None,
    queue: str | None = None,
    error: str | None = None,
    process: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
) -> DeadLetterFilter:
    try:
        return DeadLetterFilter(
            status=status,
            kind=kind or None,
            connector=connector or None,
            queue=queue or None,
            error=error or None,
            process=process or None,
            subject=subject or None,
            since=since,
            until=until,
            search=search or None,
        )
    except ValidationError as e:
        raise HTTPException(422, e.errors(include_url=False, include_input=False)) from None


Selection = Annotated[DeadLetterFilter, Depends(_selection)]

open_routes = APIRouter()
reads = APIRouter(prefix="/api")
letters = APIRouter(prefix="/api/dead-letters")
jobs = APIRouter(prefix="/api/replay-jobs")


@open_routes.get("/health", responses={503: {"model": Health}})
async def health(ops: Ops, response: Response) -> Health:
    """Liveness: 200 when the database answers, 503 otherwise."""
    if await ops.healthy():
        return Health(status="ok")
    response.status_code = 503
    return Health(status="degraded")


@open_routes.get("/metrics")
async def prometheus(ops: Ops) -> Response:
    """Prometheus exposition: the hub's metrics and the ops gauges."""
    return Response(await ops.metrics_text(), media_type=CONTENT_TYPE_LATEST)


@open_routes.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    """The dashboard page (it asks for a token before it loads any data)."""
    return FileResponse(STATIC / "index.html")


@reads.get("/me")
async def me(who: Viewer) -> Me:
    """Who the token belongs to."""
    return Me(user=who.user, role=who.role.label)


@reads.get("/overview")
async def overview(ops: Ops, who: Viewer) -> Overview:
    """Top-line numbers: parked dead letters, open and overdue deadlines, orders, outbox."""
    return await ops.overview()


@reads.get("/queues")
async def queues(ops: Ops, who: Viewer) -> Queues:
    """Queue depths, consumers, rates and the retry ladder."""
    return await ops.queues()


@reads.get("/connectors")
async def connectors(ops: Ops, who: Viewer, probe: bool = False) -> list[ConnectorView]:
    """Per connector: last success, error rate, backlog, circuit, probe (`probe=true` re-runs)."""
    return await ops.connectors(force_probe=probe)


@reads.get("/acknowledgements")
async def acknowledgements(ops: Ops, who: Viewer) -> Acknowledgements:
    """Orders by state, pending and overdue deadlines, time-to-compliance distribution."""
    return await ops.acknowledgements()


@reads.get("/orders")
async def orders(
    ops: Ops, who: Viewer, state: str | None = None, limit: Annotated[int, Query(le=500)] = 100
) -> list[OrderSummary]:
    """Release orders, latest first (no personal data)."""
    return await ops.orders(state, limit)


@reads.get("/timeline/{subject}")
async def timeline(ops: Ops, who: Viewer, subject: str) -> Timeline:
    """Everything that happened to one order or warrant."""
    found = await ops.timeline(subject)
    if not found.found:
        raise HTTPException(404, f"nothing is known about {subject}")
    return found


@reads.get("/audit")
async def audit(
    ops: Ops,
    who: Viewer,
    subject: str | None = None,
    everything: bool = False,
    limit: Annotated[int, Query(le=500)] = 100,
) -> list[AuditLine]:
    """The latest audit entries: operators' actions, or all of them with `everything=true`."""
    return await ops.audit(operators_only=not everything, subject=subject, limit=limit)


@letters.get("")
async def list_letters(
    ops: Ops,
    who: Viewer,
    selection: Selection,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> DeadLetterPage:
    """Dead letters matching the filter, newest first (page with `before_id`)."""
    return await ops.dead_letters(selection, limit, before_id)


@letters.get("/groups")
async def groups(ops: Ops, who: Viewer, selection: Selection) -> list[LetterGroup]:
    """Dead letters grouped by error type, reason, connector and kind."""
    return await ops.groups(selection)


@letters.get("/{letter_id}")
async def show_letter(ops: Ops, who: Viewer, letter_id: int) -> DeadLetterDetail:
    """One dead letter: headers, error, trace, body (masked below admin), replay verdict."""
    found = await ops.dead_letter(letter_id, who)
    if found is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    return found


# A replay that did not happen answers with the same body: 409 refused, 502 publish failed.
_NOT_REPLAYED: dict[int | str, dict[str, object]] = {
    409: {"model": ReplayAnswer},
    502: {"model": ReplayAnswer},
}


def _answer(result: ActionResult, response: Response) -> ReplayAnswer:
    if not result.done:
        response.status_code = 502 if result.code == "publish_failed" else 409
    return ReplayAnswer(
        id=result.letter_id,
        replayed=result.done,
        code=result.code,
        why=result.why,
        message_id=result.message_id,
    )


@letters.post("/{letter_id}/replay", responses=_NOT_REPLAYED)
async def replay(
    ops: Ops, who: Operator, letter_id: int, body: ReasonIn, response: Response
) -> ReplayAnswer:
    """Replay one dead letter; 409 with the reason when the business state refuses it."""
    try:
        result = await ops.actions.replay(letter_id, who, body.reason)
    except LetterNotFound:
        raise HTTPException(404, f"no dead letter {letter_id}") from None
    return _answer(result, response)


@letters.post("/{letter_id}/edit-replay", responses=_NOT_REPLAYED)
async def edit_replay(
    ops: Ops, who: Admin, letter_id: int, body: EditIn, response: Response
) -> ReplayAnswer:
    """Replay an edited copy (new message id, linked to the original); admins only."""
    try:
        result = await ops.actions.replay(letter_id, who, body.reason, edited=body.body)
    except LetterNotFound:
        raise HTTPException(404, f"no dead letter {letter_id}") from None
    return _answer(result, response)


async def _status(
    ops: OpsService, who: Principal, ids: list[int], reason: str, *, restore: bool
) -> StatusChanged:
    change = await ops.actions.set_status(ids, who, reason, restore=restore)
    if not change.changed and len(ids) == 1:
        raise HTTPException(409, change.skipped.get(ids[0], "nothing changed"))
    return StatusChanged(changed=list(change.changed), skipped=change.skipped)


@letters.post("/{letter_id}/archive")
async def archive(ops: Ops, who: Operator, letter_id: int, body: ReasonIn) -> StatusChanged:
    """Archive a parked dead letter (restorable)."""
    return await _status(ops, who, [letter_id], body.reason, restore=False)


@letters.post("/{letter_id}/restore")
async def restore(ops: Ops, who: Operator, letter_id: int, body: ReasonIn) -> StatusChanged:
    """Put an archived dead letter back among the parked ones."""
    return await _status(ops, who, [letter_id], body.reason, restore=True)


@letters.post("/archive")
async def archive_many(ops: Ops, who: Operator, body: SelectionIn) -> StatusChanged:
    """Archive every parked dead letter the selection holds (it must narrow something)."""
    if not body.selection.narrowed():
        raise HTTPException(422, "a bulk archive needs a filter or ids")
    parked = body.selection.model_copy(update={"status": "parked"})
    page = await ops.dead_letters(parked, limit=500)
    ids = [item.id for item in page.items]
    return await _status(ops, who, ids, body.reason, restore=False)


@jobs.post("", status_code=202)
async def start_job(ops: Ops, who: Operator, body: SelectionIn) -> JobStarted:
    """Start a staged bulk replay (canary first, throttled, stops on repeated failure)."""
    if not body.selection.narrowed():
        raise HTTPException(422, "a bulk replay needs a filter or ids")
    try:
        job_id = await ops.bulk.create(body.selection, who, body.reason, body.rate_per_s)
    except NothingToReplay as e:
        raise HTTPException(409, str(e)) from None
    ops.bulk.spawn(job_id, who, body.reason)
    return JobStarted(id=job_id)


@jobs.get("")
async def list_jobs(ops: Ops, who: Viewer) -> list[ReplayJob]:
    """The latest bulk replays and their progress."""
    return await ops.jobs()


@jobs.get("/{job_id}")
async def show_job(ops: Ops, who: Viewer, job_id: int) -> ReplayJob:
    """One bulk replay's progress."""
    found = await ops.job(job_id)
    if found is None:
        raise HTTPException(404, f"no replay job {job_id}")
    return found


@jobs.post("/{job_id}/cancel")
async def cancel_job(ops: Ops, who: Operator, job_id: int, body: ReasonIn) -> JobCancelling:
    """Stop a bulk replay before its next item."""
    if not await ops.bulk.cancel(job_id, who, body.reason):
        raise HTTPException(409, f"replay job {job_id} is not running")
    return JobCancelling(id=job_id, cancelling=True)


def create_app(ops: OpsService) -> FastAPI:
    """The ops API and dashboard over `ops` (mount it in the hub or serve it with uvicorn)."""
    # No interactive docs: every route but /health, /metrics and the static shell needs a token.
    app = FastAPI(
        title="court–prison hub · operations", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.ops = ops
    for router in (open_routes, reads, letters, jobs):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
