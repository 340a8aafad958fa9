"""SQL of the ops service for dead letters: filtered lists and groups, one letter, status changes,
and the business rows a replay is judged against (asyncpg, plain SQL, no decisions).

A dead-letter filter (`hub.ops.search.DeadLetterFilter`, or anything with its fields:
`LetterFilter`) becomes a parameterised `WHERE` clause here (`where`): what an operator types is
only ever an argument, never SQL. The same clause selects what the dashboard lists, what a group
is, and what a bulk replay or bulk archive covers, so "what you see is what you replay". Free text
matches identifiers and the error message only, never the body: searching bodies would let any
viewer probe for a CPF.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import UUID

from hub.store.pool import Conn

__all__ = [
    "LIST_COLUMNS",
    "DeadLetter",
    "LetterFilter",
    "LetterGroup",
    "LetterRef",
    "LetterSummary",
    "ReplayOrder",
    "ReplayRows",
    "ReplayWarrant",
    "SentCopy",
    "count_letters",
    "get_letter",
    "group_letters",
    "list_letters",
    "lock_letters",
    "mark_refused",
    "mark_replayed",
    "replay_rows",
    "secret_subject",
    "select_ids",
    "sent_copy",
    "set_status",
    "where",
]


# ---------------------------------------------------------------- filters


class LetterFilter(Protocol):
    """Which dead letters: a field left None (or empty) does not narrow; status "any" takes all."""

    @property
    def status(self) -> str: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def connector(self) -> str | None: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def process(self) -> str | None: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def search(self) -> str | None: ...
    @property
    def ids(self) -> Sequence[int]: ...


def _like(text: str) -> str:
    """`text` with LIKE's wildcards escaped (the default escape character is a backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_CLAUSES: Final[tuple[tuple[str, str, Callable[[Any], Any] | None], ...]] = (
    ("kind", "kind = $?", None),
    ("connector", "connector = $?", None),
    ("queue", "queue = $?", None),
    ("error", "(error_type = $? OR reason = $? OR reason LIKE '%:' || $?)", None),
    ("process", "correlation_id LIKE $? || '%'", _like),
    ("subject", "correlation_id = $?", None),
    ("since", "last_failed_at >= $?", None),
    ("until", "first_failed_at < $?", None),
    # a uuid has no wildcard, so the escaped text matches message ids too
    (
        "search",
        "(message_id::text = lower($?) OR correlation_id ILIKE '%' || $? || '%'"
        " OR error_message ILIKE '%' || $? || '%')",
        _like,
    ),
    ("ids", "id = ANY($?::bigint[])", list),
)


# Free text a viewer types matches identifiers only: searching error texts would let them probe
# for a name an upstream system echoed.
_SEARCH_IDS: Final = "(message_id::text = lower($?) OR correlation_id ILIKE '%' || $? || '%')"


def secret_subject(column: str) -> str:
    """SQL that is true when `column` (qualified) names a secret (sigiloso) document: a warrant or
    release order kept as secret, or one a secret dead letter is about (which may have no row)."""
    return (
        f"(EXISTS (SELECT 1 FROM warrants sw WHERE sw.warrant_number = {column}"
        " AND sw.secrecy = 'secret')"
        f" OR EXISTS (SELECT 1 FROM release_orders so WHERE so.order_number = {column}"
        " AND so.secrecy = 'secret')"
        f" OR EXISTS (SELECT 1 FROM dead_letters sd WHERE sd.correlation_id = {column}"
        " AND sd.secrecy = 'secret'))"
    )


def where(
    f: LetterFilter, *, hide_secret: bool = False, search_errors: bool = True
) -> tuple[str, list[Any]]:
    """The `WHERE` clause (without the keyword) and its arguments, numbered from $1 (pure).

    `hide_secret` leaves out secret documents' dead letters; without `search_errors` free text
    matches identifiers only (both for a viewer)."""
    pairs: list[tuple[str, Any]] = [] if f.status == "any" else [("status = $?", f.status)]
    for name, sql, convert in _CLAUSES:
        value = getattr(f, name)
        if value not in (None, ()):
            text = _SEARCH_IDS if name == "search" and not search_errors else sql
            pairs.append((text, convert(value) if convert else value))
    clauses = [sql.replace("$?", f"${n}") for n, (sql, _) in enumerate(pairs, 1)]
    if hide_secret:
        clauses.append(
            "coalesce(secrecy, '') <> 'secret'"
            f" AND NOT {secret_subject('dead_letters.correlation_id')}"
        )
    return " AND ".join(clauses) or "TRUE", [value for _, value in pairs]


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class LetterSummary:
    """A dead letter without its body, headers or trace: what a list shows."""

    id: int
    message_id: UUID | None
    connector: str
    queue: str
    kind: str | None
    correlation_id: str | None
    error_type: str
    reason: str
    error_message: str
    attempts: int
    failures: int
    first_failed_at: datetime
    last_failed_at: datetime
    status: str
    status_at: datetime
    status_by: str | None
    replayed_as: UUID | None
    replays: int
    refused_code: str | None
    refused_at: datetime | None


@dataclass(frozen=True)
class DeadLetter(LetterSummary):
    """A dead letter with everything: its trace, the original body and headers."""

    trace: str
    body: bytes
    headers: Mapping[str, Any]
    secrecy: str | None = None


@dataclass(frozen=True)
class LetterRef:
    """What an archive or restore reads of a dead letter: its status and what it is about."""

    id: int
    status: str
    message_id: UUID | None
    queue: str
    kind: str | None
    correlation_id: str | None


@dataclass(frozen=True)
class LetterGroup:
    """Dead letters of one error type, reason, connector and kind."""

    error_type: str
    reason: str
    connector: str
    kind: str | None
    count: int
    failures: int
    first_failed_at: datetime
    last_failed_at: datetime
    queues: list[str]


LIST_COLUMNS: Final = ", ".join(f.name for f in fields(LetterSummary))


# ---------------------------------------------------------------- reads


async def list_letters(
    conn: Conn,
    f: LetterFilter,
    limit: int,
    before_id: int | None = None,
    *,
    viewer: bool = False,
) -> list[LetterSummary]:
    """The dead letters `f` selects, newest first, without bodies or traces (as a viewer may see
    them, if `viewer`: no secret document's, free text matching identifiers only)."""
    clause, args = where(f, hide_secret=viewer, search_errors=not viewer)
    if before_id is not None:
        args.append(before_id)
        clause += f" AND id < ${len(args)}"
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {LIST_COLUMNS} FROM dead_letters WHERE {clause} ORDER BY id DESC"
        f" LIMIT ${len(args)}",
        *args,
    )
    return [LetterSummary(**dict(r)) for r in rows]


async def count_letters(conn: Conn, f: LetterFilter, *, viewer: bool = False) -> int:
    """How many dead letters `f` selects (that a viewer may see, if `viewer`)."""
    clause, args = where(f, hide_secret=viewer, search_errors=not viewer)
    return int(await conn.fetchval(f"SELECT count(*) FROM dead_letters WHERE {clause}", *args))


async def group_letters(conn: Conn, f: LetterFilter, *, viewer: bool = False) -> list[LetterGroup]:
    """Dead letters grouped by error type, reason, connector and kind, biggest group first (those
    a viewer may see, if `viewer`)."""
    clause, args = where(f, hide_secret=viewer, search_errors=not viewer)
    rows = await conn.fetch(
        "SELECT error_type, reason, connector, kind, count(*) AS count,"
        " sum(failures) AS failures, min(first_failed_at) AS first_failed_at,"
        " max(last_failed_at) AS last_failed_at, array_agg(DISTINCT queue) AS queues"
        f" FROM dead_letters WHERE {clause} GROUP BY error_type, reason, connector, kind"
        " ORDER BY count(*) DESC, max(last_failed_at) DESC LIMIT 200",
        *args,
    )
    return [LetterGroup(**dict(r)) for r in rows]


async def select_ids(conn: Conn, f: LetterFilter, limit: int) -> list[int]:
    """Ids of what `f` selects, oldest first (the order a bulk action takes them in)."""
    clause, args = where(f)
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT id FROM dead_letters WHERE {clause} ORDER BY id LIMIT ${len(args)}", *args
    )
    return [int(r["id"]) for r in rows]


async def get_letter(conn: Conn, letter_id: int, *, lock: bool = False) -> DeadLetter | None:
    """One dead letter with everything (body, headers, trace); locked for update if asked."""
    row = await conn.fetchrow(
        f"SELECT {LIST_COLUMNS}, trace, body, headers, secrecy FROM dead_letters WHERE id = $1"
        + (" FOR UPDATE" if lock else ""),
        letter_id,
    )
    return DeadLetter(**dict(row)) if row is not None else None


@dataclass(frozen=True)
class ReplayOrder:
    """What a replay's verdict needs of a release order row."""

    order_number: str
    state: str
    document: Mapping[str, Any]
    bnmp_id: str | None


@dataclass(frozen=True)
class ReplayWarrant:
    """What a replay's verdict needs of a warrant row."""

    warrant_number: str
    state: str
    bnmp_id: str | None


@dataclass(frozen=True)
class ReplayRows:
    """The order and warrant rows a message touches, and its subject's open deadlines."""

    orders: tuple[ReplayOrder, ...]
    warrants: tuple[ReplayWarrant, ...]
    open_deadlines: frozenset[tuple[str, str]]


async def replay_rows(
    conn: Conn,
    orders: Collection[str],
    warrants: Collection[str],
    subject: str,
    *,
    lock: bool = False,
) -> ReplayRows:
    """These orders and warrants (shared-locked if asked, so a transition waits for the replay)
    and the deadlines still open on `subject`."""
    suffix = " FOR SHARE" if lock else ""
    o = await conn.fetch(
        "SELECT order_number, state, document, bnmp_id FROM release_orders"
        f" WHERE order_number = ANY($1::text[]) ORDER BY order_number{suffix}",
        sorted(orders),
    )
    w = await conn.fetch(
        "SELECT warrant_number, state, bnmp_id FROM warrants"
        f" WHERE warrant_number = ANY($1::text[]) ORDER BY warrant_number{suffix}",
        sorted(warrants),
    )
    d = await conn.fetch(
        "SELECT subject, kind FROM deadlines WHERE satisfied_at IS NULL AND subject = $1",
        subject,
    )
    return ReplayRows(
        orders=tuple(ReplayOrder(**dict(r)) for r in o),
        warrants=tuple(ReplayWarrant(**dict(r)) for r in w),
        open_deadlines=frozenset((r["subject"], r["kind"]) for r in d),
    )


@dataclass(frozen=True)
class SentCopy:
    """What the hub's outbox holds of a message it sent: the body and where it went."""

    body: bytes
    routing_key: str
    cc: tuple[str, ...]


async def sent_copy(conn: Conn, message_id: UUID | str) -> SentCopy | None:
    """The outbox's record of the message the hub sent with this id, or None."""
    row = await conn.fetchrow(
        "SELECT body, routing_key, cc FROM outbox WHERE message_id = $1::uuid", str(message_id)
    )
    if row is None:
        return None
    return SentCopy(bytes(row["body"]), row["routing_key"], tuple(row["cc"] or ()))


# ---------------------------------------------------------------- writes


async def mark_replayed(
    conn: Conn, letter_id: int, by: str, now: datetime, replayed_as: str
) -> None:
    """The dead letter was published again (as `replayed_as`)."""
    await conn.execute(
        "UPDATE dead_letters SET status = 'replayed', status_at = $2, status_by = $3,"
        " replayed_as = $4::uuid, replays = replays + 1, refused_code = NULL WHERE id = $1",
        letter_id,
        now,
        by,
        replayed_as,
    )


async def mark_refused(conn: Conn, letter_id: int, code: str, now: datetime) -> None:
    """A replay of the dead letter was refused (it stays as it was)."""
    await conn.execute(
        "UPDATE dead_letters SET refused_code = $2, refused_at = $3 WHERE id = $1",
        letter_id,
        code,
        now,
    )


async def lock_letters(conn: Conn, ids: Sequence[int]) -> list[LetterRef]:
    """The dead letters among `ids` (missing ones absent), in id order, locked for update."""
    rows = await conn.fetch(
        "SELECT id, status, message_id, queue, kind, correlation_id FROM dead_letters"
        " WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
        list(ids),
    )
    return [LetterRef(**dict(r)) for r in rows]


async def set_status(conn: Conn, ids: Sequence[int], status: str, by: str, now: datetime) -> None:
    """Archive or restore dead letters."""
    await conn.execute(
        "UPDATE dead_letters SET status = $2, status_at = $3, status_by = $4"
        " WHERE id = ANY($1::bigint[])",
        list(ids),
        status,
        now,
        by,
    )
