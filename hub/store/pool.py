"""Connections to PostgreSQL, all in the hub's own schema, and the migrations that shape it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from hub.settings import PostgresSettings

__all__ = ["Conn", "connect", "create_pool", "migrate"]

# A plain connection or one borrowed from a pool: the SQL functions take either.
Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

_MIGRATION_LOCK = 0x4855_4230  # "HUB0": serialises concurrent migrators


def _jsonb_encode(value: Any) -> bytes:
    return b"\x01" + json.dumps(value, separators=(",", ":")).encode()


def _jsonb_decode(data: bytes) -> Any:
    return json.loads(data[1:])


async def _init(conn: asyncpg.Connection[Any]) -> None:
    # jsonb and json as Python values (jsonb in the binary format, which COPY speaks too).
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def _server_settings(settings: PostgresSettings) -> dict[str, str]:
    return {"search_path": settings.schema_, "application_name": "court-prison-hub"}


async def create_pool(settings: PostgresSettings, *, apply_migrations: bool = True) -> asyncpg.Pool:
    """Open a pool whose connections use the hub's schema; migrate it first unless told not to."""
    if apply_migrations:
        conn = await connect(settings)
        try:
            await migrate(conn, settings.schema_)
        finally:
            await conn.close()
    return await asyncpg.create_pool(
        settings.dsn,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        server_settings=_server_settings(settings),
        init=_init,
    )


async def connect(settings: PostgresSettings) -> asyncpg.Connection[Any]:
    """One connection in the hub's schema (for commands and migrations)."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(
        settings.dsn, server_settings=_server_settings(settings)
    )
    await _init(conn)
    return conn


def _migrations() -> list[tuple[str, str]]:
    folder = resources.files("hub.store") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


async def _applied(conn: asyncpg.Connection[Any], schema: str) -> set[str]:
    """The versions already applied to `schema` (none if it has no record yet)."""
    record = f'"{schema}".schema_migrations'
    if await conn.fetchval("SELECT to_regclass($1)", record) is None:
        return set()
    return {r["version"] for r in await conn.fetch(f"SELECT version FROM {record}")}


async def migrate(conn: asyncpg.Connection[Any], schema: str) -> list[str]:
    """Apply the migrations not yet applied to `schema`, in order; return the versions applied.

    A schema that is up to date is only read: the hub's processes, which migrate at start-up, may
    then run as roles that cannot create anything (migration 0007, `deploy/CLUSTER.md`).
    """
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        if {v for v, _sql in _migrations()} <= await _applied(conn, schema):
            return applied
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in _migrations():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
    return applied
