"""The ops API declares a model for every answer; the models read the store rows as they are."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime
from uuid import UUID

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from hub.ops import models
from hub.ops.api import approvals, jobs, letters, open_routes, reads
from hub.store import ops_jobs, ops_letters, ops_stats

T = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)


def _model_of(annotation: object) -> object:
    """The model of a response annotation (`list[M]` -> M)."""
    args = typing.get_args(annotation)
    return args[0] if typing.get_origin(annotation) is list else annotation


def test_every_json_route_declares_a_response_model() -> None:
    """No route answers an undeclared dict: each one's JSON is a model (or a list of one)."""
    routes = [
        r
        for router in (open_routes, reads, letters, jobs, approvals)
        for r in router.routes
        if isinstance(r, APIRoute) and r.include_in_schema and r.path != "/metrics"
    ]
    assert len(routes) >= 20
    for route in routes:
        model = _model_of(route.response_model)
        assert isinstance(model, type), route.path
        assert issubclass(model, BaseModel), route.path


@pytest.mark.parametrize(
    ("row", "model"),
    [
        (ops_letters.LetterSummary, models.DeadLetterItem),
        (ops_letters.LetterGroup, models.LetterGroup),
        (ops_jobs.ReplayJob, models.ReplayJob),
        (ops_stats.DeadlineCounts, models.DeadlineCounts),
        (ops_stats.OrderSummary, models.OrderSummary),
        (ops_stats.WarrantSummary, models.WarrantSummary),
        (ops_stats.SubjectDeadline, models.SubjectDeadline),
        (ops_stats.SubjectLetter, models.SubjectLetter),
        (ops_stats.SentMessage, models.SentMessage),
        (ops_stats.AuditLine, models.AuditLine),
    ],
)
def test_a_model_has_the_fields_of_its_row_in_order(row: type, model: type[BaseModel]) -> None:
    """A column added to a query but not to its answer (or the reverse) is caught here; the order
    is the JSON's key order."""
    assert [f.name for f in dataclasses.fields(row)] == list(model.model_fields)


def test_a_dead_letter_goes_out_as_before() -> None:
    """Timestamps in ISO 8601 with `Z`, UUIDs as text, the detail's fields after the list's."""
    mid = UUID("e09f1c7b-89a8-56b6-800a-25ca2f63b8d4")
    row = ops_letters.LetterSummary(
        id=7, message_id=mid, connector="bnmp", queue="hub.bnmp.out", kind=None,
        correlation_id=None, error_type="UpstreamRejected", reason="upstream_rejected",
        error_message="refused", attempts=0, failures=1, first_failed_at=T, last_failed_at=T,
        status="parked", status_at=T, status_by=None, replayed_as=None, replays=0,
        refused_code=None, refused_at=None,
    )  # fmt: skip
    item = models.DeadLetterItem.model_validate(row)
    detail = models.DeadLetterDetail(
        **item.model_dump(),
        trace="",
        headers={"x-hub-attempt": 0},
        body=models.Body(format="opaque", masked=True, content=None, size=3, hidden_fields=0),
        verdict=models.VerdictView(allowed=False, code="unparseable", why="not a message"),
    )
    doc = json.loads(detail.model_dump_json())
    assert list(doc)[:3] == ["id", "message_id", "connector"]
    assert list(doc)[-4:] == ["trace", "headers", "body", "verdict"]
    assert doc["message_id"] == str(mid)
    assert doc["first_failed_at"] == "2024-03-01T13:00:00Z"
    assert doc["body"] == {
        "format": "opaque", "masked": True, "content": None, "size": 3, "hidden_fields": 0
    }  # fmt: skip
