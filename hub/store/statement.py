"""One SQL statement made of data-modifying parts, so that many writes cost one round trip.

Every part is an INSERT, UPDATE or DELETE whose rows come as arrays, one per column (`unnest`); a
part with no rows is left out. All parts of a statement see the snapshot it started with, never
each other's rows, and PostgreSQL applies only one of two changes to the same row in one statement:
a caller gives every row at most one change (see `hub.state.deadline_changes`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hub.store.pool import Conn

__all__ = ["Statement", "as_json"]


def as_json(value: Any) -> str:
    """A jsonb value as the text PostgreSQL parses (arrays of jsonb go as text: asyncpg reads a
    list inside a list as a second dimension)."""
    return json.dumps(value, separators=(",", ":"))


class Statement:
    """Parts added one by one, executed together as `WITH p0 AS (...), p1 AS (...) SELECT 1`."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._args: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self._parts)

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
                params.append(self.param([as_json(v) for v in values], "text[]"))
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
    ) -> None:
        """Add `INSERT INTO table (columns) ... [on_conflict]` of these rows (nothing if none)."""
        if rows:
            names = ", ".join(columns)
            source = self.rows(columns, rows)
            self.add(f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} {on_conflict}")

    def add(self, sql: str) -> None:
        """Add one data-modifying part (its placeholders made by `param` or `rows`)."""
        self._parts.append(sql)

    async def execute(self, conn: Conn) -> None:
        """Run every part, in the caller's transaction, as one statement (nothing if empty)."""
        if not self._parts:
            return
        ctes = ", ".join(f"p{i} AS ({sql})" for i, sql in enumerate(self._parts))
        await conn.execute(f"WITH {ctes} SELECT 1", *self._args)


def _from_json(name: str, sql_type: str) -> str:
    if sql_type == "jsonb":
        return f"{name}::jsonb AS {name}"
    element = sql_type.removesuffix("[]")
    return (
        f"ARRAY(SELECT e::{element} FROM jsonb_array_elements_text({name}::jsonb) AS e) AS {name}"
    )
