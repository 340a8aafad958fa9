"""The store on the real database: a batch is five round trips whatever its size, its one-statement
writes keep the sequential meaning, and the declared column types match the schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from bench.messages import WarrantFactory
from contracts import parse_envelope
from hub.domain.audit import AuditEntry
from hub.domain.authority import Actor
from hub.domain.decide import Directory, decide
from hub.domain.rows import Changes, DeadlineRow, WarrantRow
from hub.pipeline.engine import Engine, Job
from hub.settings import EngineSettings, PostgresSettings
from hub.store import audit_repo, state_repo
from hub.store.pool import create_pool, migrate
from hub.store.statement import RowsChanged, Statement
from tests.conftest import PG_DSN
from tests.integration.harness import ConfirmingPublisher

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
# The tables' owner tampering with the chain disables its append-only trigger first (0007).
_UNGUARD = "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"

ANY = Actor("court:test", ("*",))  # these tests are about the store, not authority


@pytest.fixture
async def pool(schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool of one connection in the test's schema."""
    p = await create_pool(PostgresSettings(dsn=PG_DSN, schema=schema, pool_min=1, pool_max=1))
    try:
        yield p
    finally:
        await p.close()


_RESET = "RESET ALL"  # the pool's reset of a connection it takes back, off the ack's path


async def _statements_per_batch(pool: asyncpg.Pool, jobs: int) -> tuple[int, list[str]]:
    """Run `jobs` new warrants through one engine batch (after a first batch that warms the
    connection's statement cache up); (batches, statements the second one sent)."""
    logged: list[str] = []
    engine = Engine(
        pool,
        ConfirmingPublisher(),
        EngineSettings(max_batch=256, max_wait_ms=20),
        lambda: NOW,
        lambda env, view, now, _actor: decide(env, view, now, Directory(units=frozenset()), ANY),
    )
    factory = WarrantFactory()
    envelopes = [parse_envelope(factory.make(i)[1]) for i in range(jobs + 1)]
    async with pool.acquire() as conn:  # the pool's one connection
        conn.add_query_logger(lambda q: logged.append(q.query))
    await engine.start()
    try:
        for batch in (envelopes[:1], envelopes[1:]):
            logged.clear()
            work = [Job("hub.court.in", env.message_id, (env,)) for env in batch]
            await asyncio.gather(*(engine.run(job) for job in work))
    finally:
        await engine.stop()
    # The confirms are recorded later, off the ack's path, many batches' worth at once.
    return engine.stats.batches, [
        q for q in logged if "confirmed_at = now()" not in q and _RESET not in q
    ]


@pytest.mark.parametrize("jobs", [1, 40])
async def test_a_batch_is_five_round_trips_whatever_its_size(pool: asyncpg.Pool, jobs: int) -> None:
    batches, statements = await _statements_per_batch(pool, jobs)
    assert batches == 2
    # BEGIN, read, audit head, write, COMMIT
    assert len(statements) == 5, "\n---\n".join(s[:150] for s in statements)
    assert statements[0] == "BEGIN;"
    assert statements[-1] == "COMMIT;"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM warrants") == jobs + 1
        assert await conn.fetchval("SELECT count(*) FROM outbox") == jobs + 1
        assert await audit_repo.verify(conn) == (3 * (jobs + 1), None)


async def test_the_declared_column_types_are_the_schemas(pool: asyncpg.Pool) -> None:
    declared = {**state_repo.DECLARED, "audit_log": audit_repo.COLUMNS}
    async with pool.acquire() as conn:
        for table, columns in declared.items():
            for column, sql_type in columns.items():
                row = await conn.fetchrow(
                    "SELECT a.atttypid::regtype::text, $3::regtype::text FROM pg_attribute a"
                    " WHERE a.attrelid = $1::regclass AND a.attname = $2",
                    table,
                    column,
                    sql_type,
                )
                assert row is not None, (table, column)
                assert row[0] == row[1], (table, column)


def _deadline(subject: str) -> DeadlineRow:
    return DeadlineRow(subject, "receipt", NOW, NOW + timedelta(hours=1))


async def _write(conn: Any, changes: Changes) -> None:
    async with conn.transaction():
        stmt = Statement()
        state_repo.add_changes(stmt, changes)
        await stmt.execute(conn)


async def test_one_statement_keeps_the_meaning_of_writes_in_sequence(pool: asyncpg.Pool) -> None:
    """Each row gets one change, so nothing is lost where two parts touch the same deadline."""
    later = NOW + timedelta(minutes=5)
    async with pool.acquire() as conn:
        await _write(conn, Changes(open_deadlines=[_deadline("old")]))
        await _write(
            conn,
            Changes(
                # opened and satisfied in the same batch: the new row is satisfied
                # an open deadline satisfied and alerted twice in the same batch: all of it kept
                open_deadlines=[_deadline("new"), _deadline("old")],
                satisfied=[("new", "receipt", later), ("old", "receipt", later)],
                alerted=[("old", "receipt", 90), ("old", "receipt", 50), ("new", "receipt", 50)],
            ),
        )
        await _write(
            conn,
            Changes(
                open_deadlines=[_deadline("old")],  # an open deadline keeps its start
                satisfied=[("old", "receipt", later + timedelta(hours=1))],  # the first stays
                alerted=[("old", "receipt", 90), ("old", "receipt", 100)],
            ),
        )
        rows = {
            r["subject"]: (r["satisfied_at"], r["alerted"])
            for r in await conn.fetch("SELECT subject, satisfied_at, alerted FROM deadlines")
        }
    assert rows == {"new": (later, [50]), "old": (later, [50, 90, 100])}


async def test_a_failed_jobs_inbox_claim_is_given_back(pool: asyncpg.Pool) -> None:
    kept, failed = ("q", uuid4()), ("q", uuid4())
    async with pool.acquire() as conn:
        async with conn.transaction():
            loaded = await state_repo.claim_and_load(conn, [kept, failed], (), (), None)
            assert loaded.fresh == {kept, failed}
            stmt = Statement()
            state_repo.add_changes(stmt, Changes(released=[failed]))
            await stmt.execute(conn)
        assert await state_repo.seen_in_inbox(conn, [kept, failed]) == {kept}
        again = await state_repo.claim_and_load(conn, [kept, failed], (), (), None)
        assert again.fresh == {failed}


async def test_appends_in_parallel_make_one_chain(pool: asyncpg.Pool, schema: str) -> None:
    """Writers that wait on the chain's head each get the head the one before committed."""

    async def append(i: int) -> None:
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": schema})
        try:
            for j in range(5):
                async with conn.transaction():
                    entries = [AuditEntry(NOW, "t", "a", f"{i}.{j}.{k}") for k in range(3)]
                    await audit_repo.append(conn, entries)
        finally:
            await conn.close()

    await asyncio.gather(*(append(i) for i in range(6)))
    async with pool.acquire() as conn:
        assert await audit_repo.verify(conn) == (90, None)


async def test_verify_catches_rows_cut_off_the_end(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        async with conn.transaction():
            await audit_repo.append(conn, [AuditEntry(NOW, "t", "a", str(i)) for i in range(4)])
        assert await audit_repo.verify(conn) == (4, None)
        await conn.execute(_UNGUARD)
        await conn.execute("DELETE FROM audit_log WHERE seq >= 3")
        count, broken = await audit_repo.verify(conn)
        assert count == 2
        assert broken is not None
        assert (broken.seq, broken.problem) == (3, "rows 3 to 4 are missing (the head is 4)")


async def test_audit_verify_prints_the_head_to_keep_elsewhere(
    pool: asyncpg.Pool, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hub.__main__ import app

    async with pool.acquire() as conn:
        async with conn.transaction():
            await audit_repo.append(conn, [AuditEntry(NOW, "t", "a", str(i)) for i in range(3)])
        count, broken, head = await audit_repo.verify_with_head(conn)
    assert (count, broken) == (3, None)
    assert head is not None
    seq, last = head
    monkeypatch.setenv("HUB_POSTGRES__DSN", PG_DSN)
    monkeypatch.setenv("HUB_POSTGRES__SCHEMA", schema)
    runner = CliRunner()
    verified = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert f"verifies: 3 rows, head {seq}:{last.hex()}" in verified.output
    assert seq == 3
    async with pool.acquire() as conn:
        await conn.execute(_UNGUARD)
        await conn.execute("DELETE FROM audit_log WHERE seq = 3")
    cut = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"])
    assert cut.exit_code == 1
    assert "rows 3 to 3 are missing" in cut.output
    async with pool.acquire() as conn:  # the head rewritten to match: only a kept head shows it
        await conn.execute(
            "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)"
        )
    rewritten = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"])
    assert rewritten.exit_code == 0, rewritten.output
    kept = ["audit", "verify", "--kept-head", f"{seq}:{last.hex()}"]
    caught = await asyncio.to_thread(runner.invoke, app, kept)
    assert caught.exit_code == 1
    assert "a head kept elsewhere is 3" in caught.output
    for bad in ("3:xyz", f"-3:{last.hex()}", f"3:{last.hex()[:-2]}"):
        refused = await asyncio.to_thread(
            runner.invoke, app, ["audit", "verify", "--kept-head", bad]
        )
        assert refused.exit_code == 2, bad


def _warrant(state: str = "issued") -> WarrantRow:
    return WarrantRow("W-1", "P-1", "k" * 40, state, None, None, None, "public", None)


async def test_a_row_created_since_the_read_is_not_overwritten(
    pool: asyncpg.Pool, schema: str
) -> None:
    """A statement keeps the snapshot it started with, even after waiting for a lock: a batch
    that read a warrant as absent must not overwrite one created meanwhile; it is read again."""
    async with pool.acquire() as conn, conn.transaction():
        loaded = await state_repo.claim_and_load(conn, [("q", uuid4())], (), ["W-1"], None)
        assert loaded.warrants == {}
        other = await asyncpg.connect(PG_DSN, server_settings={"search_path": schema})
        try:
            created = Statement()
            state_repo.add_changes(created, Changes(warrants={"W-1": _warrant("registered")}))
            await created.execute(other)
        finally:
            await other.close()
        stale = Statement()
        state_repo.add_changes(stale, Changes(warrants={"W-1": _warrant()}))
        with pytest.raises(RowsChanged, match="new rows of warrants: 1 created"):
            await stale.execute(conn)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT state FROM warrants") == "registered"
        # read (and locked) first, the same row is updated
        async with conn.transaction():
            loaded = await state_repo.claim_and_load(conn, [], (), ["W-1"], None)
            changes = Changes(warrants={"W-1": _warrant("revoked")}, read_warrants={"W-1"})
            stmt = Statement()
            state_repo.add_changes(stmt, changes)
            await stmt.execute(conn)
        assert await conn.fetchval("SELECT state FROM warrants") == "revoked"


async def test_a_failed_decision_gives_its_inbox_claim_back(pool: asyncpg.Pool) -> None:
    """In a batch of three, the job whose decision fails is set aside and can come again."""
    factory = WarrantFactory()
    envelopes = [parse_envelope(factory.make(i)[1]) for i in range(3)]
    poison = envelopes[1].message_id

    def decider(env: Any, view: Any, now: datetime, _actor: Actor) -> Any:
        if env.message_id == poison:
            raise ValueError("this one cannot be decided")
        return decide(env, view, now, Directory(units=frozenset()), ANY)

    engine = Engine(
        pool, ConfirmingPublisher(), EngineSettings(max_wait_ms=20), lambda: NOW, decider
    )
    jobs = [Job("hub.court.in", env.message_id, (env,)) for env in envelopes]
    await engine.start()
    try:
        results = await asyncio.gather(*(engine.run(j) for j in jobs), return_exceptions=True)
    finally:
        await engine.stop()
    assert engine.stats.batches == 1
    assert [type(r).__name__ for r in results] == ["NoneType", "ValueError", "NoneType"]
    async with pool.acquire() as conn:
        seen = await state_repo.seen_in_inbox(conn, [(j.consumer, j.message_id) for j in jobs])
        assert seen == {(j.consumer, j.message_id) for j in (jobs[0], jobs[2])}
        assert await conn.fetchval("SELECT count(*) FROM warrants") == 2


async def test_migration_0005_starts_the_head_at_the_chains_last_row(
    pool: asyncpg.Pool, schema: str
) -> None:
    async with pool.acquire() as conn:
        async with conn.transaction():
            await audit_repo.append(conn, [AuditEntry(NOW, "t", "a", str(i)) for i in range(4)])
        last = await conn.fetchval("SELECT hash FROM audit_log WHERE seq = 4")
        await conn.execute("DROP TABLE audit_head")  # the chain as an earlier version left it
        await conn.execute("DELETE FROM schema_migrations WHERE version = '0005_audit_head'")
    migrator = await asyncpg.connect(PG_DSN)
    try:
        assert await migrate(migrator, schema) == ["0005_audit_head"]
    finally:
        await migrator.close()
    async with pool.acquire() as conn:
        head = await conn.fetchrow("SELECT seq, hash FROM audit_head")
        assert head is not None
        assert tuple(head) == (4, last)
        assert await audit_repo.verify(conn) == (4, None)


async def test_a_head_left_behind_goes_on_from_the_chains_last_row(pool: asyncpg.Pool) -> None:
    """Rows appended by a hub of an earlier version (which does not move the head)."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            await audit_repo.append(conn, [AuditEntry(NOW, "t", "a", str(i)) for i in range(3)])
        await conn.execute(
            "UPDATE audit_head SET seq = 1, hash = (SELECT hash FROM audit_log WHERE seq = 1)"
        )
        async with conn.transaction():
            await audit_repo.append(conn, [AuditEntry(NOW, "t", "b", str(i)) for i in range(2)])
        assert await audit_repo.verify(conn) == (5, None)
