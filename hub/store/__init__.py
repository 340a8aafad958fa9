"""PostgreSQL access: the pool, migrations and the SQL of each table (asyncpg, plain SQL)."""

from hub.store.pool import connect, create_pool, migrate

__all__ = ["connect", "create_pool", "migrate"]
