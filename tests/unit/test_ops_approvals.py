"""Four eyes, the rules: who may decide a request, when a bulk replay waits, what the approver
reads of an edit, and when two filters are the same one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.ops.approvals import edit_changes, needs_approval, refusal, requester
from hub.ops.auth import Principal, Role
from hub.ops.search import DeadLetterFilter, selection_key
from hub.ops.views import HIDDEN
from hub.store.ops_approvals import Approval
from tests.factories import CPF, make_envelope, make_receipt

T = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
TTL_S = 3600.0
ADA = Principal("ada", Role.ADMIN)
BEA = Principal("bea", Role.ADMIN)
OTTO = Principal("otto", Role.OPERATOR)


def request(state: str = "pending", by: str = "ops:ada", age_s: float = 60) -> Approval:
    """A request made `age_s` seconds before T."""
    return Approval(
        id=1, action="edit_replay", state=state, requested_at=T - timedelta(seconds=age_s),
        requested_by=by, requester_role="admin", request_reason="fix the schema version",
        subject=None, dead_letter_id=7, changes=[], selection=None, letter_ids=[],
        rate_per_s=None, decided_at=None, decided_by=None, decision_reason=None, outcome=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("approval", "who", "expected"),
    [
        (request(), BEA, None),
        (request(), ADA, "own"),
        (request(), OTTO, "not_admin"),
        (request(state="approved"), BEA, "closed"),
        (request(state="rejected"), BEA, "closed"),
        (request(age_s=TTL_S + 1), BEA, "expired"),
        (request(by="ops:otto"), ADA, None),
    ],
    ids=["another admin", "the same admin", "an operator", "approved", "rejected", "too old",
         "an operator's bulk request"],
)  # fmt: skip
def test_who_may_decide(approval: Approval, who: Principal, expected: str | None) -> None:
    """Only an admin other than the one who asked decides, on a pending, fresh request."""
    assert refusal(approval, who, T, TTL_S) == expected


@pytest.mark.parametrize(("count", "waits"), [(1, False), (50, False), (51, True)])
def test_a_bulk_replay_above_the_setting_waits(count: int, waits: bool) -> None:
    """Up to `approval_above` dead letters one person replays; above, a second admin approves."""
    assert needs_approval(count, 50) is waits


def test_the_request_runs_under_the_name_of_who_asked() -> None:
    """The action's audit entry is by the one who asked, with their role."""
    assert requester(request(by="ops:otto")) == Principal("otto", Role.ADMIN)


def test_the_approver_reads_the_changes_through_the_allowlist() -> None:
    """Each changed path with both values; a value the allowlist withholds shows as hidden."""
    original = json.loads(make_envelope(make_receipt()).to_bytes())
    original["schema_version"] = 9
    original["payload"]["nome"] = f"Fulano {CPF}"
    edited = make_envelope(make_receipt()).to_bytes()
    changes = edit_changes(
        json.dumps(original).encode(), edited, ["payload.nome", "schema_version"]
    )
    assert changes == [
        {"path": "payload.nome", "before": HIDDEN, "after": None},
        {"path": "schema_version", "before": 9, "after": 1},
    ]
    assert CPF not in json.dumps(changes)


def test_the_same_filter_written_another_way_is_the_same_filter() -> None:
    """Ids reordered or repeated, a default spelled out: one key; another filter: another."""
    a = DeadLetterFilter(connector="bnmp", ids=(3, 1, 2))
    b = DeadLetterFilter(status="parked", ids=(1, 2, 3, 3), connector="bnmp")
    c = DeadLetterFilter(connector="bnmp", ids=(1, 2))
    assert selection_key(a) == selection_key(b)
    assert selection_key(a) != selection_key(c)
