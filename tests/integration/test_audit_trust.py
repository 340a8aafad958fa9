"""An audit chain that someone who can write to the database cannot rewrite unseen.

* Signed checkpoints: a superuser deletes an operator's row, renumbers and rehashes the rest,
  rewrites the head and deletes the checkpoints kept in the database; `audit verify` alone passes,
  against the checkpoint file (kept outside the database) it fails.
* The audit log and its checkpoints take only INSERTs, even from the tables' owner (a trigger).
* The process roles of migration 0007, made by a migration run as a superuser: a hub running as
  the writers' role settles messages and signs checkpoints but cannot UPDATE, DELETE or TRUNCATE
  the audit log; the ops service running as its role replays, archives and is audited, and can
  change no order, warrant or outbox row.

PostgreSQL's superuser is reached as `postgres` with trust auth on 127.0.0.1 (the test machine's
set-up; `HUB_TEST_SUPERUSER_DSN` names another). Roles made here are dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from hub.__main__ import app
from hub.app import Hub
from hub.domain.audit import AuditEntry, seal
from hub.domain.checkpoint import (
    CheckpointSigner,
    load_checkpoints,
    public_text,
    trusted_heads,
    trusted_keys,
)
from hub.ops import OpsService, create_app
from hub.pipeline.checkpoints import checkpoint_once
from hub.settings import AuditSettings, HubSettings, PostgresSettings
from hub.store import audit_repo, connect, create_pool, migrate
from tests.conftest import PG_DSN
from tests.factories import ORDER, make_release_order
from tests.ops.scenario import ADMIN, OPERATOR, FakeBnmp, ops_settings_of, publish, running

from .harness import database, wait_for
from .test_delivery import COURT

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
REASON = {"reason": "BNMP fixed the signature check"}


def _as_user(dsn: str, user: str) -> str:
    """`dsn` for another role, without a password (trust auth on the test machine)."""
    parts = urlsplit(dsn)
    netloc = f"{user}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


SUPERUSER_DSN = os.environ.get("HUB_TEST_SUPERUSER_DSN") or _as_user(PG_DSN, "postgres")


async def _superuser(schema: str) -> asyncpg.Connection[Any]:
    """A superuser's connection in `schema`; skip (locally) or fail (CI) if there is none."""
    try:
        conn = await connect(PostgresSettings(dsn=SUPERUSER_DSN, schema=schema))
    except (OSError, asyncpg.PostgresError) as e:
        reason = f"no PostgreSQL superuser at {SUPERUSER_DSN}: {e}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        await conn.close()
        pytest.fail(f"{SUPERUSER_DSN} is not a superuser")
    return conn


@pytest.fixture
async def pool(schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool in the test's schema, as the hub's (owner) role."""
    p = await create_pool(PostgresSettings(dsn=PG_DSN, schema=schema, pool_min=1, pool_max=2))
    try:
        yield p
    finally:
        await p.close()


async def _append(pool: asyncpg.Pool, actor: str, action: str, subject: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await audit_repo.append(conn, [AuditEntry(NOW, actor, action, subject)])


async def _rewrite_without_row(schema: str, seq: int) -> None:
    """A superuser's rewrite: delete row `seq`, renumber and rehash the rows after it, rewrite the
    head, and delete every checkpoint kept in the database."""
    su = await _superuser(schema)
    try:
        async with su.transaction():
            await su.execute("SET LOCAL session_replication_role = replica")  # no triggers
            rows = await su.fetch("SELECT * FROM audit_log ORDER BY seq")
            before = rows[seq - 2]
            after = [
                AuditEntry(r["at"], r["actor"], r["action"], r["subject"], r["detail"])
                for r in rows[seq:]
            ]
            sealed = seal(seq - 1, bytes(before["hash"]), after)
            await su.execute("DELETE FROM audit_log WHERE seq >= $1", seq)
            await su.executemany(
                "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [
                    (
                        s.seq,
                        s.entry.at,
                        s.entry.actor,
                        s.entry.action,
                        s.entry.subject,
                        dict(s.entry.detail),
                        s.prev_hash,
                        s.hash,
                    )
                    for s in sealed
                ],
            )
            await su.execute(
                "UPDATE audit_head SET seq = $1, hash = $2", sealed[-1].seq, sealed[-1].hash
            )
            await su.execute("DELETE FROM audit_checkpoints")
    finally:
        await su.close()


async def _verify(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, app, ["audit", "verify", *args])


async def test_a_superusers_rewrite_is_caught_against_the_signed_checkpoints(
    pool: asyncpg.Pool, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = CheckpointSigner.generate()
    file = tmp_path / "checkpoints.jsonl"
    clock = iter(NOW + timedelta(minutes=i) for i in range(10))
    await _append(pool, "hub", "order.transition", "A-1")
    await _append(pool, "ops:otto", "dead_letter.replayed", "A-1")  # the operator's action
    assert await checkpoint_once(pool, signer, lambda: next(clock), file) is not None  # seq 2
    for subject in ("A-2", "A-3"):
        await _append(pool, "hub", "order.transition", subject)
    assert await checkpoint_once(pool, signer, lambda: next(clock), file) is not None  # seq 4
    assert await checkpoint_once(pool, signer, lambda: next(clock), file) is None  # head unmoved
    kept = load_checkpoints(file.read_text())
    assert [cp.seq for cp in kept] == [2, 4]
    async with pool.acquire() as conn:
        assert [cp.seq for cp in await audit_repo.checkpoints(conn)] == [2, 4]

    monkeypatch.setenv("HUB_POSTGRES__DSN", PG_DSN)
    monkeypatch.setenv("HUB_POSTGRES__SCHEMA", schema)
    key = public_text(signer.public_key)
    before = await _verify("--checkpoints", str(file), "--public-key", key)
    assert before.exit_code == 0, before.output
    assert "signed checkpoints checked: 2 from files, 2 kept in the database" in before.output

    await _rewrite_without_row(schema, 2)  # the operator's action is gone

    plain = await _verify()
    assert plain.exit_code == 0, plain.output
    assert "audit chain verifies: 3 rows, head 3:" in plain.output
    assert "no signed checkpoints checked" in plain.output
    with_key = await _verify("--public-key", key)  # the database's checkpoints are gone too
    assert with_key.exit_code == 0, with_key.output
    caught = await _verify("--checkpoints", str(file), "--public-key", key)
    assert caught.exit_code == 1, caught.output
    assert "BROKEN" in caught.output
    assert "seq=2, problem='row differs from the signed checkpoint'" in caught.output
    monkeypatch.setenv("HUB_AUDIT__PUBLIC_KEYS", f'["{key}"]')  # the key from the settings
    last_only = tmp_path / "last.json"
    last_only.write_text(file.read_text().splitlines()[-1])
    cut = await _verify("--checkpoints", str(last_only))
    assert cut.exit_code == 1, cut.output
    assert "rows 4 to 4 are missing (a signed checkpoint is 4)" in cut.output


async def test_a_forged_or_foreign_checkpoint_is_not_trusted(
    pool: asyncpg.Pool, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer, stranger = CheckpointSigner.generate(), CheckpointSigner.generate()
    file = tmp_path / "checkpoints.jsonl"
    await _append(pool, "hub", "order.transition", "A-1")
    assert await checkpoint_once(pool, signer, lambda: NOW, file) is not None
    head = load_checkpoints(file.read_text())[0]
    forged = stranger.sign(head.seq, head.hash, NOW)
    (tmp_path / "foreign.jsonl").write_text(file.read_text().replace(head.key_id, forged.key_id))
    monkeypatch.setenv("HUB_POSTGRES__DSN", PG_DSN)
    monkeypatch.setenv("HUB_POSTGRES__SCHEMA", schema)
    key = public_text(signer.public_key)
    good = await _verify("--checkpoints", str(file), "--public-key", key)
    assert good.exit_code == 0, good.output
    bad = await _verify("--checkpoints", str(tmp_path / "foreign.jsonl"), "--public-key", key)
    assert bad.exit_code == 1
    assert f"signed with key {forged.key_id}, which is not trusted here" in bad.output
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("{not json}\n")
    refused = await _verify("--checkpoints", str(garbage), "--public-key", key)
    assert refused.exit_code == 2
    no_key = await _verify("--checkpoints", str(file))
    assert no_key.exit_code == 2
    assert "no public key" in no_key.output


async def test_the_audit_log_takes_only_inserts_even_from_its_owner(pool: asyncpg.Pool) -> None:
    await _append(pool, "hub", "order.transition", "A-1")
    async with pool.acquire() as conn:
        assert await checkpoint_once(pool, CheckpointSigner.generate(), lambda: NOW, None)
        for table in ("audit_log", "audit_checkpoints"):
            for sql in (
                f"UPDATE {table} SET seq = seq",
                f"DELETE FROM {table}",
                f"DELETE FROM {table} WHERE false",  # refused even when it would touch nothing
                f"TRUNCATE {table}",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    await conn.execute(sql)
        assert await audit_repo.verify(conn) == (1, None)


async def test_a_running_hub_signs_its_head_into_the_file(
    settings: HubSettings, tmp_path: Path
) -> None:
    """Every few seconds while it runs, and once more when it stops; the file verifies."""
    signer = CheckpointSigner.generate()
    file = tmp_path / "kept-elsewhere" / "checkpoints.jsonl"
    audit = AuditSettings(
        checkpoint_key=signer.private_text(), checkpoint_file=file, checkpoint_every_s=0.2
    )
    s = settings.model_copy(update={"audit": audit})

    async def head() -> tuple[int, bytes] | None:
        async with hub.pool.acquire() as conn:
            return await audit_repo.read_head(conn)

    def signed() -> list[int]:
        return [cp.seq for cp in load_checkpoints(file.read_text())] if file.exists() else []

    async with Hub(s, specs=[COURT]) as hub:
        await publish(s, "hub.court.in", make_release_order())

        async def caught_up() -> bool:
            now = await head()
            return now is not None and now[0] > 0 and signed()[-1:] == [now[0]]

        await wait_for(caught_up, what="a checkpoint of the head in the file")
        (loop,) = [t for t in hub._tasks if t.get_name() == "audit-checkpoints"]
        loop.cancel()  # from here on only the stop's own checkpoint can sign
        before = signed()[-1]
        await publish(s, "hub.court.in", make_release_order(order_number=f"{ORDER[:-1]}9"))
        await wait_for(lambda: _more_than(head, before), what="the second order audited")
        assert signed()[-1] == before
    last = (await _read_head(s))[0]
    assert signed()[-1] == last  # signed at the stop
    assert signed() == sorted(set(signed()))
    heads, problems = trusted_heads(
        load_checkpoints(file.read_text()), trusted_keys([signer.public_key])
    )
    assert problems == []
    async with database(s) as db:
        assert await audit_repo.verify_with_head(db, None, heads) == (
            last,
            None,
            (last, heads[-1][1]),
        )


async def _more_than(head: Any, seq: int) -> bool:
    now = await head()
    return now is not None and now[0] > seq


async def _read_head(s: HubSettings) -> tuple[int, bytes]:
    async with database(s) as db:
        found = await audit_repo.read_head(db)
    assert found is not None
    return found


# ---------------------------------------------------------------- the process roles


@pytest.fixture
async def roles(schema: str) -> AsyncIterator[tuple[str, str]]:
    """The schema migrated by a superuser (so migration 0007 makes its roles), and a login role
    in each of them: (writer's DSN, ops' DSN). Schema and roles are dropped at the end."""
    su = await _superuser(schema)
    writer, ops = f"{schema}_writer", f"{schema}_ops"
    logins = {writer: f"{schema}_w", ops: f"{schema}_o"}
    try:
        assert "0007_audit_trust" in await migrate(su, schema)
        for group, login in logins.items():
            await su.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE "{group}"')
        yield _as_user(PG_DSN, logins[writer]), _as_user(PG_DSN, logins[ops])
    finally:
        await su.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for role in [*logins.values(), writer, ops]:
            await su.execute(
                f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN"
                f' DROP OWNED BY "{role}"; DROP ROLE "{role}"; END IF; END $$'
            )
        await su.close()


async def _answers(dsn: str, schema: str, *statements: str) -> dict[str, str]:
    """Run each statement as the role of `dsn` (rolled back); what PostgreSQL answered."""
    conn = await connect(PostgresSettings(dsn=dsn, schema=schema))
    answers = {}
    try:
        for sql in statements:
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    answers[sql] = "done"
                    raise _RollBack
            except _RollBack:
                pass
            except asyncpg.PostgresError as e:
                answers[sql] = str(e)
    finally:
        await conn.close()
    return answers


class _RollBack(Exception):
    """Undo a statement that was allowed."""


WRITER_MAY_NOT = (
    "UPDATE audit_log SET seq = seq",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "UPDATE audit_checkpoints SET seq = seq",
    "DELETE FROM audit_checkpoints",
    "TRUNCATE outbox",
    "INSERT INTO schema_migrations (version) VALUES ('9999_mine')",
    "CREATE TABLE mine (x int)",
)
OPS_MAY_NOT = (
    "UPDATE release_orders SET state = 'released'",
    "UPDATE deadlines SET satisfied_at = now()",
    "INSERT INTO outbox (message_id, exchange, routing_key, body, kind, correlation_id)"
    " VALUES (gen_random_uuid(), 'x', 'x', '', 'x', 'x')",
    "DELETE FROM inbox",
    "DELETE FROM dead_letters",
    "UPDATE dead_letters SET body = ''",
    "UPDATE audit_log SET seq = seq",
    "DELETE FROM audit_checkpoints",
    "INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)"
    " VALUES (99, '', now(), 'x', '')",
)


async def test_each_process_runs_with_the_least_rights_it_needs(
    settings: HubSettings, schema: str, roles: tuple[str, str]
) -> None:
    writer_dsn, ops_dsn = roles
    signer = CheckpointSigner.generate()
    as_writer = ops_settings_of(settings).model_copy(
        update={
            "postgres": PostgresSettings(dsn=writer_dsn, schema=schema, pool_min=1, pool_max=4),
            "audit": AuditSettings(checkpoint_key=signer.private_text()),
        }
    )
    bnmp = FakeBnmp()
    async with running(as_writer, bnmp) as r:  # the hub as the writers' role
        await publish(as_writer, "hub.court.in", make_release_order())
        letter = (await wait_for(r.parked, what="a parked dead letter"))[0]
        signed = await checkpoint_once(r.hub.pool, signer, lambda: NOW, None)
        assert signed is not None
        ops_pool = await create_pool(PostgresSettings(dsn=ops_dsn, schema=schema, pool_max=2))
        ops = OpsService(as_writer, ops_pool, r.hub.publisher, r.hub.topology)
        transport = httpx.ASGITransport(app=create_app(ops))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
                why = {"reason": "check what BNMP was sent"}
                reveal = f"/api/dead-letters/{letter['id']}/reveal"
                shown = await client.post(reveal, json=why, headers=ADMIN)
                assert shown.status_code == 200, shown.text  # an admin's reveal: audited
                bnmp.accept_all()
                replay = f"/api/dead-letters/{letter['id']}/replay"
                answer = await client.post(replay, json=REASON, headers=OPERATOR)
                assert answer.status_code == 200, answer.text
                kept = await client.get("/api/audit/checkpoints", headers=ADMIN)
                assert kept.status_code == 200, kept.text
                assert load_checkpoints(kept.text) == [signed]

            async def registered() -> bool:
                async with r.hub.pool.acquire() as conn:
                    return bool(
                        await conn.fetchval(
                            "SELECT bnmp_id FROM release_orders WHERE order_number = $1", ORDER
                        )
                    )

            await wait_for(registered, what="the replayed order registered")
        finally:
            await ops.aclose()
            await ops_pool.close()
        entries = await r.audit("dead_letter.replayed") + await r.audit("dead_letter.revealed")
        assert len(entries) == 2
        async with r.hub.pool.acquire() as conn:
            count, broken = await audit_repo.verify(conn)
        assert broken is None
        assert count >= 5
    for dsn, denied in ((writer_dsn, WRITER_MAY_NOT), (ops_dsn, OPS_MAY_NOT)):
        answers = await _answers(dsn, schema, *denied)
        assert {sql: a for sql, a in answers.items() if "permission denied" not in a} == {}
    # ... and what each may do (the owner's tables, the writers' rows), as a control.
    allowed = await _answers(
        writer_dsn, schema, "UPDATE outbox SET kind = kind", "DELETE FROM inbox"
    )
    assert set(allowed.values()) == {"done"}
