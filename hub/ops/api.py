"""The ops HTTP API and dashboard: `create_app(ops)` returns a FastAPI app.

Every `/api` route needs `Authorization: Bearer <token>` (401 without, 403 when the role is too
low), and `/metrics` an ops token or a metrics-only token; only `/health` and the dashboard's static
files (which hold no data) are open. Reads need viewer, replay and archive need operator plus a
reason, edit-and-replay and deciding on a request need admin (`hub.ops.approvals`).

Nothing is read before it is allowed: `hub.ops.guard` refuses an oversized body (413) and a
missing token (401) before the app runs, and each route checks the role before it reads and parses
its JSON body (`_body`: FastAPI would otherwise parse a body before any dependency runs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal, TypeVar, cast

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from hub.ops.actions import ActionResult, LetterNotFound
from hub.ops.approvals import (
    ApprovalClosed,
    ApprovalNotFound,
    Decided,
    OwnRequest,
    PendingBulkExists,
    view,
)
from hub.ops.auth import Principal, Role
from hub.ops.bulk import FilterBusy, NothingToReplay
from hub.ops.guard import PRINCIPAL, Guard
from hub.ops.models import (
    Acknowledgements,
    ApprovalDecided,
    ApprovalView,
    AuditCheckpoint,
    AuditLine,
    BrokerStatus,
    ConnectorView,
    DeadLetterDetail,
    DeadLetterPage,
    DeliveryAcks,
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


M = TypeVar("M", bound=BaseModel)


def _ops(request: Request) -> OpsService:
    return cast("OpsService", request.app.state.ops)


Ops = Annotated[OpsService, Depends(_ops)]


def _require(needed: Role) -> Callable[..., Principal]:
    def caller(request: Request) -> Principal:
        who = getattr(request.state, PRINCIPAL, None)  # put there by `Guard`, before the app
        if not isinstance(who, Principal):
            raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        if not who.may(needed):
            raise HTTPException(403, f"this needs the {needed.label} role")
        return who

    return caller


Viewer = Annotated[Principal, Depends(_require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(_require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(_require(Role.ADMIN))]


def _body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that reads and parses the JSON body as `model`: declared after the role's,
    it runs after it, so a caller without the role is refused before their body is read."""

    async def parse(request: Request) -> M:
        raw = await request.body()
        try:
            return model.model_validate_json(raw or b"null")
        except ValidationError as e:
            errors = e.errors(include_url=False, include_input=False)
            located = [{**err, "loc": ("body", *err["loc"])} for err in errors]
            raise RequestValidationError(located) from None

    return parse


Reasoned = Annotated[ReasonIn, Depends(_body(ReasonIn))]
Edited = Annotated[EditIn, Depends(_body(EditIn))]
Selected = Annotated[SelectionIn, Depends(_body(SelectionIn))]
LetterId = Annotated[int, PathParam(ge=1)]
Limit = Annotated[int, Query(ge=1, le=500)]


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
approvals = APIRouter(prefix="/api/approvals")


@open_routes.get("/health", responses={503: {"model": Health}})
async def health(ops: Ops, response: Response) -> Health:
    """Liveness: 200 when the database answers, 503 otherwise."""
    if await ops.healthy():
        return Health(status="ok")
    response.status_code = 503
    return Health(status="degraded")


@open_routes.get("/metrics")
async def prometheus(ops: Ops) -> Response:
    """Prometheus exposition: the hub's metrics and the ops gauges (an ops token or a
    metrics-only token is required: `hub.ops.guard`)."""
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
    return await ops.acknowledgements(who)


@reads.get("/delivery-acks")
async def delivery_acks(
    ops: Ops,
    who: Viewer,
    alerted: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryAcks:
    """Destinations not yet acknowledged (`alerted=true`: only those the reconciler gave up on,
    after publishing them again): counts by queue role, and the list, alerted first."""
    return await ops.delivery_acks(alerted_only=alerted, limit=limit)


@reads.get("/broker")
async def broker(ops: Ops, who: Viewer) -> BrokerStatus:
    """Whether RabbitMQ blocks the hub's publishing (a memory or disk alarm), and since when."""
    return await ops.broker()


@reads.get("/orders")
async def orders(
    ops: Ops,
    who: Viewer,
    state: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 100,
) -> list[OrderSummary]:
    """Release orders, latest first (no personal data; a viewer sees no secret one)."""
    return await ops.orders(who, state, limit)


@reads.get("/timeline/{subject}")
async def timeline(
    ops: Ops, who: Viewer, subject: Annotated[str, PathParam(max_length=200)]
) -> Timeline:
    """Everything that happened to one order or warrant (a secret one's is absent for a viewer)."""
    found = await ops.timeline(subject, who)
    if not found.found:
        raise HTTPException(404, f"nothing is known about {subject}")
    return found


@reads.get("/audit")
async def audit(
    ops: Ops,
    who: Viewer,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    everything: bool = False,
    limit: Limit = 100,
) -> list[AuditLine]:
    """The latest audit entries: operators' actions, or all of them with `everything=true` (a
    viewer's without secret documents' entries)."""
    return await ops.audit(who, operators_only=not everything, subject=subject, limit=limit)


@reads.get("/audit/checkpoints")
async def audit_checkpoints(
    ops: Ops,
    who: Viewer,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditCheckpoint]:
    """Signed checkpoints of the audit chain's head, oldest first (page with `after_seq`): keep
    them outside the database; `audit verify --checkpoints FILE` takes this answer as it is."""
    return await ops.checkpoints(after_seq=after_seq, limit=limit)


@letters.get("")
async def list_letters(
    ops: Ops,
    who: Viewer,
    selection: Selection,
    limit: Limit = 50,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> DeadLetterPage:
    """Dead letters matching the filter, newest first (page with `before_id`)."""
    return await ops.dead_letters(selection, who, limit, before_id)


@letters.get("/groups")
async def groups(ops: Ops, who: Viewer, selection: Selection) -> list[LetterGroup]:
    """Dead letters grouped by error type, reason, connector and kind."""
    return await ops.groups(selection, who)


@letters.get("/{letter_id}")
async def show_letter(ops: Ops, who: Viewer, letter_id: LetterId) -> DeadLetterDetail:
    """One dead letter: headers, error, trace, body (through the allowlist), replay verdict."""
    found = await ops.dead_letter(letter_id, who)
    if found is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    return found


@letters.post("/{letter_id}/reveal")
async def reveal_letter(
    ops: Ops, who: Admin, letter_id: LetterId, body: Reasoned
) -> DeadLetterDetail:
    """One dead letter as it is, body and error text included: admins only, with a reason,
    audited as `dead_letter.revealed`."""
    found = await ops.reveal(letter_id, who, body.reason)
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
    ops: Ops, who: Operator, letter_id: LetterId, body: Reasoned, response: Response
) -> ReplayAnswer:
    """Replay one dead letter; 409 with the reason when the business state refuses it."""
    try:
        result = await ops.actions.replay(letter_id, who, body.reason)
    except LetterNotFound:
        raise HTTPException(404, f"no dead letter {letter_id}") from None
    return _answer(result, response)


@letters.post(
    "/{letter_id}/edit-replay",
    status_code=202,
    response_model=ApprovalView,
    responses={409: {"model": ReplayAnswer}},
)
async def edit_replay(
    ops: Ops, who: Admin, letter_id: LetterId, body: Edited
) -> ApprovalView | JSONResponse:
    """Ask for an edited copy to be replayed (new message id, linked to the original): admins
    only, and it runs once a second admin approves (202 with the request); 409 when the edit or
    the business state refuses it now."""
    try:
        found = await ops.approvals.request_edit(letter_id, who, body.reason, body.body)
    except LetterNotFound:
        raise HTTPException(404, f"no dead letter {letter_id}") from None
    if isinstance(found, ActionResult):
        refused = Response()
        answer = _answer(found, refused)
        return JSONResponse(answer.model_dump(mode="json"), status_code=refused.status_code)
    return view(found)


async def _status(
    ops: OpsService, who: Principal, ids: list[int], reason: str, *, restore: bool
) -> StatusChanged:
    change = await ops.actions.set_status(ids, who, reason, restore=restore)
    if not change.changed and len(ids) == 1:
        raise HTTPException(409, change.skipped.get(ids[0], "nothing changed"))
    return StatusChanged(changed=list(change.changed), skipped=change.skipped)


@letters.post("/{letter_id}/archive")
async def archive(ops: Ops, who: Operator, letter_id: LetterId, body: Reasoned) -> StatusChanged:
    """Archive a parked dead letter (restorable)."""
    return await _status(ops, who, [letter_id], body.reason, restore=False)


@letters.post("/{letter_id}/restore")
async def restore(ops: Ops, who: Operator, letter_id: LetterId, body: Reasoned) -> StatusChanged:
    """Put an archived dead letter back among the parked ones."""
    return await _status(ops, who, [letter_id], body.reason, restore=True)


@letters.post("/archive")
async def archive_many(ops: Ops, who: Operator, body: Selected) -> StatusChanged:
    """Archive every parked dead letter the selection holds (it must narrow something)."""
    if not body.selection.narrowed():
        raise HTTPException(422, "a bulk archive needs a filter or ids")
    parked = body.selection.model_copy(update={"status": "parked"})
    page = await ops.dead_letters(parked, who, limit=500)
    ids = [item.id for item in page.items]
    return await _status(ops, who, ids, body.reason, restore=False)


def _busy(e: FilterBusy) -> HTTPException:
    return HTTPException(
        409, f"replay job {e.job_id} of the same filter is running: one at a time per filter"
    )


@jobs.post("", status_code=202)
async def start_job(ops: Ops, who: Operator, body: Selected) -> JobStarted:
    """Start a staged bulk replay (canary first, throttled, stops on repeated failure); above
    `approval_above` dead letters it waits for a second admin (`approval` in the answer)."""
    if not body.selection.narrowed():
        raise HTTPException(422, "a bulk replay needs a filter or ids")
    try:
        started = await ops.approvals.start_bulk(body.selection, who, body.reason, body.rate_per_s)
    except NothingToReplay as e:
        raise HTTPException(409, str(e)) from None
    except FilterBusy as e:
        raise _busy(e) from None
    except PendingBulkExists:
        waiting = "a bulk replay of this filter already waits for approval"
        raise HTTPException(409, waiting) from None
    if started.job_id is not None:
        ops.bulk.spawn(started.job_id, who, body.reason)
    return JobStarted(id=started.job_id, approval=started.approval_id)


@jobs.get("")
async def list_jobs(ops: Ops, who: Viewer, limit: Limit = 50) -> list[ReplayJob]:
    """The latest bulk replays and their progress."""
    return await ops.jobs(limit)


@jobs.get("/{job_id}")
async def show_job(ops: Ops, who: Viewer, job_id: Annotated[int, PathParam(ge=1)]) -> ReplayJob:
    """One bulk replay's progress."""
    found = await ops.job(job_id)
    if found is None:
        raise HTTPException(404, f"no replay job {job_id}")
    return found


@jobs.post("/{job_id}/cancel")
async def cancel_job(
    ops: Ops, who: Operator, job_id: Annotated[int, PathParam(ge=1)], body: Reasoned
) -> JobCancelling:
    """Stop a bulk replay before its next item."""
    if not await ops.bulk.cancel(job_id, who, body.reason):
        raise HTTPException(409, f"replay job {job_id} is not running")
    return JobCancelling(id=job_id, cancelling=True)


# ---------------------------------------------------------------- four-eyes approvals


@approvals.get("")
async def list_approvals(
    ops: Ops,
    who: Operator,
    state: Literal["pending", "approved", "rejected", "expired"] | None = None,
    limit: Limit = 100,
) -> list[ApprovalView]:
    """Requests waiting for (or decided by) a second admin, newest first."""
    return [view(a) for a in await ops.approvals.list(state, limit)]


@approvals.get("/{approval_id}")
async def show_approval(
    ops: Ops, who: Operator, approval_id: Annotated[int, PathParam(ge=1)]
) -> ApprovalView:
    """One request."""
    found = await ops.approvals.get(approval_id)
    if found is None:
        raise HTTPException(404, f"no request {approval_id}")
    return view(found)


async def _decide(
    ops: OpsService, who: Principal, approval_id: int, reason: str, *, approve: bool
) -> ApprovalDecided:
    try:
        decided: Decided = await ops.approvals.decide(approval_id, who, reason, approve=approve)
    except ApprovalNotFound:
        raise HTTPException(404, f"no request {approval_id}") from None
    except OwnRequest as e:
        raise HTTPException(403, str(e)) from None
    except ApprovalClosed as e:
        raise HTTPException(409, str(e)) from None
    except FilterBusy as e:
        raise _busy(e) from None
    except LetterNotFound:
        raise HTTPException(404, "the dead letter of this request is gone") from None
    if decided.job_id is not None and decided.runner is not None:
        ops.bulk.spawn(decided.job_id, decided.runner, decided.approval.request_reason)
    result = decided.replay
    return ApprovalDecided(
        approval=view(decided.approval),
        replay=_answer(result, Response()) if result is not None else None,
        job=JobStarted(id=decided.job_id) if decided.job_id is not None else None,
    )


@approvals.post("/{approval_id}/approve")
async def approve(
    ops: Ops, who: Admin, approval_id: Annotated[int, PathParam(ge=1)], body: Reasoned
) -> ApprovalDecided:
    """Approve another person's request, with a reason; it runs at once (an edit is checked
    again against the state of now)."""
    return await _decide(ops, who, approval_id, body.reason, approve=True)


@approvals.post("/{approval_id}/reject")
async def reject(
    ops: Ops, who: Admin, approval_id: Annotated[int, PathParam(ge=1)], body: Reasoned
) -> ApprovalDecided:
    """Reject another person's request, with a reason."""
    return await _decide(ops, who, approval_id, body.reason, approve=False)


def create_app(ops: OpsService) -> FastAPI:
    """The ops API and dashboard over `ops` (mount it in the hub or serve it with uvicorn),
    behind `Guard`: body size and token checked before anything is read."""
    # No interactive docs: every route but /health and the static shell needs a token.
    app = FastAPI(
        title="court–prison hub · operations", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.ops = ops
    for router in (open_routes, reads, letters, jobs, approvals):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, settings=lambda: ops.settings.ops)
    return app
