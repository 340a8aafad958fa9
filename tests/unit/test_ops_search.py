"""Dead-letter filters become a parameterised WHERE clause; user text never becomes SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.ops.search import DeadLetterFilter
from hub.store.ops_letters import where

T = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "sql", "args"),
    [
        ({}, "status = $1", ["parked"]),
        ({"status": "any"}, "TRUE", []),
        ({"kind": "k", "connector": "bnmp"}, "status = $1 AND kind = $2 AND connector = $3",
         ["parked", "k", "bnmp"]),
        ({"status": "any", "error": "upstream_rejected"},
         "(error_type = $1 OR reason = $1 OR reason LIKE '%:' || $1)", ["upstream_rejected"]),
        ({"status": "any", "process": "0001234-05.2023.8.13.0024"},
         "correlation_id LIKE $1 || '%'", ["0001234-05.2023.8.13.0024"]),
        ({"status": "any", "search": "50%_off"},
         "(message_id::text = lower($1) OR correlation_id ILIKE '%' || $1 || '%'"
         " OR error_message ILIKE '%' || $1 || '%')", ["50\\%\\_off"]),
        ({"status": "any", "since": T, "until": T},
         "last_failed_at >= $1 AND first_failed_at < $2", [T, T]),
        ({"status": "archived", "ids": (3, 4)}, "status = $1 AND id = ANY($2::bigint[])",
         ["archived", [3, 4]]),
    ],
)  # fmt: skip
def test_where_clause(fields: dict[str, Any], sql: str, args: list[Any]) -> None:
    """Each filter field adds one clause with numbered parameters."""
    assert where(DeadLetterFilter(**fields)) == (sql, args)


def test_a_date_without_zone_is_read_as_utc() -> None:
    """A date typed by a person is taken as UTC midnight rather than refused."""
    f = DeadLetterFilter.model_validate({"since": "2024-03-01"})
    assert f.since == T


@pytest.mark.parametrize(
    ("fields", "narrowed"),
    [({}, False), ({"status": "any"}, False), ({"kind": "x"}, True), ({"ids": (1,)}, True)],
)
def test_bulk_actions_need_a_narrowing_filter(fields: dict[str, Any], narrowed: bool) -> None:
    """Only a filter that narrows beyond the status may drive a bulk action."""
    assert DeadLetterFilter(**fields).narrowed() is narrowed


def test_unknown_filter_fields_are_refused() -> None:
    """A misspelt filter is an error, not a silently wider selection."""
    with pytest.raises(ValueError, match="extra"):
        DeadLetterFilter.model_validate({"knid": "x"})
