"""One SQL statement made of data-modifying parts, so that many writes cost one round trip.

Every part is an INSERT, UPDATE or DELETE whose rows come as arrays, one per column (`unnest`); a
part with no rows is left out. All parts of a statement see the snapshot it started with, never
each other's rows, and PostgreSQL applies only one of two changes to the same row in one statement:
a caller gives every row at most one change (see `hub.domain.rows.deadline_changes`).

A part can say how many rows it must write: an insert of rows its caller read as absent (`ON
CONFLICT DO NOTHING`) writes fewer if another transaction created one since. The statement then
raises `RowsChanged`, and the caller's transaction, rolled back, is run again on fresh reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hub.store.pool import Conn

__all__ = ["RowsChanged", "Statement"]


def _as_json(value: Any) -> str | None:
    """A jsonb value as the text PostgreSQL parses (arrays of jsonb go as text: asyncpg reads a
    list inside a list as a second dimension); None stays NULL."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


class RowsChanged(Exception):
    """A part wrote fewer rows than its caller expected: rows it read have changed since."""


class Statement:
    """Parts added one by one, executed together as `WITH p0 AS (...), p1 AS (...) SELECT 1`."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._args: list[Any] = []
        self._expected: dict[int, tuple[int, str]] = {}  # part -> (rows, what they are)

    def param(self, value: Any, sql_type: str) -> str:
        """A placeholder for one value."""
        self._args.append(value)
        return f"${len(self._args)}::{sql_type}"

    def rows(self, columns: Mapping[str, str], rows: Sequence[Sequence[Any]]) -> str:
        """A FROM item `(SELECT ...) AS u` giving these rows, typed as `columns` says.

        A column is one array parameter. jsonb values and array values (a `text[]` column, say)
        go as their JSON text and are turned back here: asyncpg would read an array inside the
        parameter's array as a second dimension.
        """
        params: list[str] = []
        selected: list[str] = []
        for i, (name, sql_type) in enumerate(columns.items()):
            values = [r[i] for r in rows]
            if sql_type == "jsonb" or sql_type.endswith("[]"):
                params.append(self.param([_as_json(v) for v in values], "text[]"))
                selected.append(_from_json(name, sql_type))
            else:
                params.append(self.param(values, f"{sql_type}[]"))
                selected.append(name)
        names = ", ".join(columns)
        return f"(SELECT {', '.join(selected)} FROM unnest({', '.join(params)}) AS u({names})) AS u"

    def insert(
        self,
        table: str,
        columns: Mapping[str, str],
        rows: Sequence[Sequence[Any]],
        on_conflict: str = "",
        *,
        all_new: bool = False,
    ) -> None:
        """Add `INSERT INTO table (columns) ... [on_conflict]` of these rows (nothing if none).

        `all_new`: the rows were read as absent and must all be written (`on_conflict` should be
        `ON CONFLICT DO NOTHING`); `execute` raises `RowsChanged` if any was created meanwhile.
        """
        if rows:
            names = ", ".join(columns)
            source = self.rows(columns, rows)
            sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} {on_conflict}"
            if all_new:
                self.add(f"{sql} RETURNING 1", expect=(len(rows), f"new rows of {table}"))
            else:
                self.add(sql)

    def add(self, sql: str, expect: tuple[int, str] | None = None) -> None:
        """Add one data-modifying part (its placeholders made by `param` or `rows`); `expect`:
        (rows it must return, what they are), for a part ending in `RETURNING`."""
        if expect is not None:
            self._expected[len(self._parts)] = expect
        self._parts.append(sql)

    async def execute(self, conn: Conn) -> None:
        """Run every part, in the caller's transaction, as one statement (nothing if empty);
        raise `RowsChanged` if a part wrote fewer rows than it expected."""
        if not self._parts:
            return
        ctes = ", ".join(f"p{i} AS ({sql})" for i, sql in enumerate(self._parts))
        counts = ", ".join(f"(SELECT count(*) FROM p{i})" for i in self._expected) or "1"
        row = await conn.fetchrow(f"WITH {ctes} SELECT {counts}", *self._args)
        assert row is not None  # a SELECT without FROM returns one row
        if not self._expected:
            return
        for got, (wanted, what) in zip(row, self._expected.values(), strict=True):
            if got != wanted:
                raise RowsChanged(f"{what}: {wanted - got} created by another transaction")


def _from_json(name: str, sql_type: str) -> str:
    if sql_type == "jsonb":
        return f"{name}::jsonb AS {name}"
    element = sql_type.removesuffix("[]")
    items = f"jsonb_array_elements_text({name}::jsonb) WITH ORDINALITY AS x(e, i)"
    return f"ARRAY(SELECT e::{element} FROM {items} ORDER BY i) AS {name}"
