"""One settings object, built once from `HUB_*` environment variables and passed down."""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "BnmpSettings",
    "CourtKey",
    "CourtSettings",
    "EngineSettings",
    "HubSettings",
    "OpsSettings",
    "OpsUser",
    "PostgresSettings",
    "RabbitSettings",
    "RetrySettings",
    "SecuritySettings",
    "SetarimSettings",
]


class RabbitSettings(BaseModel):
    """Where the broker is, and how the hub talks to it."""

    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    management_url: str = "http://guest:guest@127.0.0.1:15672/"
    prefetch: int = Field(default=256, ge=1, le=65535)
    delivery_limit: int = Field(default=5, ge=1)
    confirm_timeout_s: float = Field(default=10.0, gt=0)

    @property
    def login(self) -> str:
        """The RabbitMQ user the hub logs in as: the `user_id` of everything it publishes."""
        return unquote(urlsplit(self.url).username or "guest")


class PostgresSettings(BaseModel):
    """Where the database is; `schema_` lets tests and several hubs share one database."""

    dsn: str = "postgresql://hub:hub@127.0.0.1:5432/hub"
    schema_: str = Field(default="hub", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    pool_min: int = 2
    pool_max: int = 10

    model_config = {"populate_by_name": True}


class RetrySettings(BaseModel):
    """The delayed-retry ladder (seconds per rung) and the short in-process tries before it."""

    ladder_s: tuple[float, ...] = (5, 30, 120, 600, 3600)
    immediate_attempts: int = Field(default=3, ge=1)
    immediate_wait_s: float = Field(default=0.2, ge=0)


class EngineSettings(BaseModel):
    """How the consume path batches: at most `max_batch` messages per transaction."""

    max_batch: int = Field(default=256, ge=1)
    max_wait_ms: float = Field(default=2.0, ge=0)
    flush_concurrency: int = Field(default=2, ge=1)
    # Confirms are recorded in the outbox off the ack's path, gathered this long (see the grace).
    confirm_record_ms: float = Field(default=100.0, ge=0)
    outbox_sweep_s: float = Field(default=1.0, gt=0)
    # The relay is for crash recovery: rows the engine published are recorded as confirmed off the
    # ack's path, and under a burst that record can lag by seconds; a short grace re-sends them
    # (harmless, consumers dedup, but BNMP and SETARIM see repeat calls). 24 h deadlines allow 30 s.
    outbox_grace_s: float = Field(default=30.0, ge=0)


class OpsUser(BaseModel):
    """Who holds an ops token, and what the token lets them do."""

    user: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Literal["viewer", "operator", "admin"]


class OpsSettings(BaseModel):
    """The ops service: where it listens, who may use it, and how fast bulk replay goes.

    Tokens come as JSON, e.g. `HUB_OPS__TOKENS='{"s3cret": {"user": "ana", "role": "operator"}}'`.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    tokens: dict[str, OpsUser] = Field(default_factory=dict)
    replay_rate_per_s: float = Field(default=20.0, gt=0)
    replay_canary_timeout_s: float = Field(default=30.0, gt=0)
    replay_settle_s: float = Field(default=30.0, gt=0)
    replay_max_failures: int = Field(default=3, ge=1)
    probe_every_s: float = Field(default=30.0, gt=0)


class BnmpSettings(BaseModel):
    """BNMP 3.0's API as the hub calls it (OAuth2 client credentials, acting-unit header)."""

    url: str = "http://127.0.0.1:8101"
    client_id: str = "hub"
    client_secret: str = "hub-secret"
    acting_unit: str = "tjmg"
    timeout_s: float = Field(default=5.0, gt=0)
    poll_every_s: float = Field(default=2.0, gt=0)


class SetarimSettings(BaseModel):
    """SETARIM's validation API."""

    url: str = "http://127.0.0.1:8102"
    timeout_s: float = Field(default=5.0, gt=0)


class CourtSettings(BaseModel):
    """Where each court's system takes the hub's notifications, and the key that signs them."""

    webhook_url: str = "http://127.0.0.1:8103/notifications"
    webhooks: dict[str, str] = Field(default_factory=dict)  # court unit id -> URL, else the default
    webhook_secret: str = "demo-webhook-secret"
    timeout_s: float = Field(default=5.0, gt=0)


class CourtKey(BaseModel):
    """A court system's public signing key: Ed25519, raw 32 bytes in base64."""

    system: str = Field(min_length=1, max_length=32)  # `source.system` it may sign for, e.g. RUPE
    public_key: str = Field(pattern=r"^[A-Za-z0-9+/]{43}=$")


class SecuritySettings(BaseModel):
    """Who may send what: court signing keys, custodial-unit identity, RabbitMQ user names.

    Secure by default: unsigned court documents and unit messages without the unit's own AMQP
    user are refused. Keys come as JSON, e.g.
    `HUB_SECURITY__COURT_KEYS='{"rupe-2026": {"system": "RUPE", "public_key": "…="}}'`.
    """

    require_signatures: bool = True
    court_keys: dict[str, CourtKey] = Field(default_factory=dict)  # key id -> key
    require_unit_identity: bool = True
    # Prefix of every RabbitMQ user the hub defines: empty in production; tests use a random one,
    # because users are broker-wide and several test runs share one broker.
    user_prefix: str = Field(default="", pattern=r"^[a-z0-9-]{0,20}$")
    court_systems: tuple[str, ...] = ("rupe", "saj", "pje")
    # Logins besides the hub's own (`RabbitSettings.login`) whose messages are the hub's: e.g. an
    # ops service that connects as a user of its own and replays dead letters.
    hub_logins: tuple[str, ...] = ()

    def unit_user(self, unit: str) -> str:
        """The RabbitMQ user of custodial unit `unit`."""
        return f"{self.user_prefix}unit-{unit}"

    def unit_of(self, user: str | None) -> str | None:
        """The custodial unit whose RabbitMQ user is `user`, or None if it is no unit's user."""
        prefix = self.unit_user("")
        if user is None or not user.startswith(prefix) or len(user) == len(prefix):
            return None
        return user[len(prefix) :]


class HubSettings(BaseSettings):
    """Everything the hub needs to start; read from `HUB_…` variables (nested with `__`)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="ignore")

    units: tuple[str, ...] = ("mg.ceresp-bh", "mg.presidio-contagem", "mg.penitenciaria-nh")
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")
    log_json: bool = False
    rabbit: RabbitSettings = RabbitSettings()
    postgres: PostgresSettings = PostgresSettings()
    retry: RetrySettings = RetrySettings()
    bnmp: BnmpSettings = BnmpSettings()
    setarim: SetarimSettings = SetarimSettings()
    court: CourtSettings = CourtSettings()
    engine: EngineSettings = EngineSettings()
    ops: OpsSettings = OpsSettings()
    security: SecuritySettings = SecuritySettings()

    @property
    def hub_logins(self) -> frozenset[str]:
        """The RabbitMQ logins whose messages are the hub's own (`hub.domain.sender`)."""
        return frozenset({self.rabbit.login, *self.security.hub_logins})
