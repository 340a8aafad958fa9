"""One settings object, built once from `HUB_*` environment variables and passed down."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr
from pydantic_core import to_jsonable_python
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that exist so a clone runs the demo at once; `python -m hub run` refuses them
# (`demo_settings_in_use`) unless `HUB_DEMO=true` says this is a demo.
DEMO_BNMP_SECRET = "hub-secret"
DEMO_PERSON_KEY = "hub-demo-secret"
_MIN_TOKEN = 24

__all__ = [
    "AcksSettings",
    "AuditSettings",
    "BnmpSettings",
    "CourtKey",
    "CourtSettings",
    "CourtWebhook",
    "EngineSettings",
    "HubSettings",
    "OpsSettings",
    "OpsUser",
    "PostgresSettings",
    "RabbitSettings",
    "RetrySettings",
    "SecuritySettings",
    "SetarimSettings",
    "TlsSettings",
    "revealed_json",
]


class RabbitSettings(BaseModel):
    """Where the broker is, and how the hub talks to it."""

    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    management_url: str = "http://guest:guest@127.0.0.1:15672/"
    prefetch: int = Field(default=256, ge=1, le=65535)
    delivery_limit: int = Field(default=5, ge=1)
    confirm_timeout_s: float = Field(default=10.0, gt=0)
    # The largest message the hub parses (court documents are a few kB): a larger one is refused
    # before parsing and its dead letter keeps only this many bytes of it.
    max_message_bytes: int = Field(default=1_048_576, ge=4096)
    # How soon aio-pika tries again to reconnect, or to consume a queue whose consumer the broker
    # cancelled (a queue deleted by hand and declared again: `hub.amqp.heal`).
    reconnect_interval_s: float = Field(default=1.0, gt=0)

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
    # A request body larger than this is refused (413) before it is read: by its Content-Length,
    # or as it streams in. An edit-and-replay's body is the largest thing the API takes.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Tokens that may read `/metrics` and nothing else (Prometheus' bearer token); any ops token
    # may read it too. Without a token `/metrics` answers 401.
    metrics_tokens: tuple[str, ...] = ()
    # Four eyes: a bulk replay of more dead letters than this, and every edit-and-replay, waits
    # for a second admin's approval; a request not decided within `approval_ttl_s` expires.
    approval_above: int = Field(default=50, ge=1)
    approval_ttl_s: float = Field(default=24 * 3600.0, gt=0)


class BnmpSettings(BaseModel):
    """BNMP 3.0's API as the hub calls it (OAuth2 client credentials, acting-unit header)."""

    url: str = "http://127.0.0.1:8101"
    client_id: str = "hub"
    client_secret: SecretStr = SecretStr(DEMO_BNMP_SECRET)
    acting_unit: str = "tjmg"
    timeout_s: float = Field(default=5.0, gt=0)
    poll_every_s: float = Field(default=2.0, gt=0)
    # Reconciliation with the register (S003 ch. IV, art. 5): how often, over what window.
    reconcile_every_s: float = Field(default=600.0, gt=0)
    reconcile_window_days: int = Field(default=30, ge=1)


class SetarimSettings(BaseModel):
    """SETARIM's validation API."""

    url: str = "http://127.0.0.1:8102"
    timeout_s: float = Field(default=5.0, gt=0)


class CourtWebhook(BaseModel):
    """One court system's webhook, and the secret only it shares with the hub."""

    url: str
    secret: SecretStr = Field(min_length=16)


class CourtSettings(BaseModel):
    """Where each court's system takes the hub's notifications, each with its own secret.

    Keyed by court: a unit (`tjmg.vep-bh`), a tribunal's units (`tjmg.*`) or `*`; the most
    specific wins. A court matched by none has no webhook: its notifications are held (dead-letter
    `no_webhook`, alerted, replayable once configured), never sent to another court's system. E.g.
    `HUB_COURT__WEBHOOKS='{"tjmg.*": {"url": "https://rupe.tjmg.jus.br/hub", "secret": "…"}}'`.
    """

    webhooks: dict[str, CourtWebhook] = Field(default_factory=dict)
    timeout_s: float = Field(default=5.0, gt=0)

    def webhook_for(self, court: str | None) -> CourtWebhook | None:
        """The webhook of `court`'s system: its own, its tribunal's, or the catch-all `*`."""
        if court is None:
            return self.webhooks.get("*")
        tribunal = court.split(".", 1)[0] + ".*"
        for key in (court, tribunal, "*"):
            if key in self.webhooks:
                return self.webhooks[key]
        return None


class CourtKey(BaseModel):
    """A court system's public signing key: Ed25519, raw 32 bytes in base64."""

    system: str = Field(min_length=1, max_length=32)  # `source.system` it may sign for, e.g. RUPE
    public_key: str = Field(pattern=r"^[A-Za-z0-9+/]{43}=$")
    # The courts it speaks for (`hub.domain.authority`): court units (`tjmg.vep-bh`), a tribunal's
    # units (`tjmg.*`), or `*`. None by default: a key signs, but has no authority until given it.
    courts: tuple[str, ...] = ()


class SecuritySettings(BaseModel):
    """Who may send what: court signing keys, custodial-unit identity, RabbitMQ user names.

    Secure by default: unsigned court documents and unit messages without the unit's own AMQP
    user are refused. Keys come as JSON, e.g.
    `HUB_SECURITY__COURT_KEYS='{"rupe-2026": {"system": "RUPE", "public_key": "…=",
    "courts": ["tjmg.*"]}}'`.
    """

    require_signatures: bool = True
    court_keys: dict[str, CourtKey] = Field(default_factory=dict)  # key id -> key
    require_unit_identity: bool = True
    # Prefix of every RabbitMQ user the hub defines: empty in production; tests use a random one,
    # because users are broker-wide and several test runs share one broker.
    user_prefix: str = Field(default="", pattern=r"^[a-z0-9-]{0,20}$")
    court_systems: tuple[str, ...] = ("rupe", "saj", "pje")
    # The key of the CPF pseudonyms the hub joins people on (`Directory.person_key`): keep it
    # secret and stable (changing it splits every person's warrants from their orders).
    person_key_secret: SecretStr = SecretStr(DEMO_PERSON_KEY)
    # Logins besides the hub's own (`RabbitSettings.login`) whose messages are the hub's: e.g. an
    # ops service that connects as a user of its own and replays dead letters.
    hub_logins: tuple[str, ...] = ()
    # Courts competent over other courts' warrants (R417 art.6 §1: higher courts), e.g.
    # `{"tjmg.orgao-especial": ["tjmg.*"]}`: a court unit -> the court patterns it may act for.
    competence: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def court_user(self, system: str) -> str:
        """The RabbitMQ user of court system `system` (e.g. `court-rupe`)."""
        return f"{self.user_prefix}court-{system.lower()}"

    def unit_user(self, unit: str) -> str:
        """The RabbitMQ user of custodial unit `unit`."""
        return f"{self.user_prefix}unit-{unit}"

    def unit_of(self, user: str | None) -> str | None:
        """The custodial unit whose RabbitMQ user is `user`, or None if it is no unit's user."""
        prefix = self.unit_user("")
        if user is None or not user.startswith(prefix) or len(user) == len(prefix):
            return None
        return user[len(prefix) :]


class AuditSettings(BaseModel):
    """Signed checkpoints of the audit chain's head (`hub.domain.checkpoint`).

    The private key is the hub workers' alone, never the database's: Ed25519, given as base64 of
    its 32 raw bytes (`checkpoint_key`) or as a file holding that or unencrypted PKCS#8 PEM
    (`checkpoint_key_file`); `python -m hub audit keygen` makes one. Without it no checkpoint is
    signed (an error in the log at start-up). Each checkpoint is appended to `checkpoint_file`
    (JSON Lines; keep it, or ship it, off the database's machines) and kept in the database for
    the ops API. Verifiers hold the public keys: `public_keys`, e.g.
    `HUB_AUDIT__PUBLIC_KEYS='["…="]'` (`audit verify --public-key` adds one).
    """

    checkpoint_key: SecretStr | None = None
    checkpoint_key_file: Path | None = None
    checkpoint_file: Path | None = None
    checkpoint_every_s: float = Field(default=60.0, gt=0)
    public_keys: tuple[str, ...] = ()


class TlsSettings(BaseModel):
    """TLS of the hub's own connections: to RabbitMQ with an `amqps://` URL, and to BNMP, SETARIM,
    the courts and RabbitMQ's management API with `https://` URLs. Certificates are always
    verified, host names included; `ca_file` adds CAs (a PEM bundle) to the system's, or replaces
    them with `system_roots` false; `cert_file` (and `key_file`, unless the key is in it) is the
    hub's client certificate where the other side asks for one (mutual TLS)."""

    ca_file: Path | None = None
    system_roots: bool = True
    cert_file: Path | None = None
    key_file: Path | None = None

    def client_context(self) -> ssl.SSLContext:
        """The TLS context of every connection the hub opens (reads the files named here)."""
        if self.system_roots:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ca_file is not None:
            ctx.load_verify_locations(cafile=self.ca_file)
        if self.cert_file is not None:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


class AcksSettings(BaseModel):
    """Every destination acknowledges, or someone is told; the topology heals; the broker's
    resource alarms pause the hub (`hub.domain.acks`, `hub.pipeline.reconciler`,
    `hub.amqp.heal`, `hub.amqp.flow`).

    A destination not acknowledged within its window is published again to that queue alone, up
    to `max_tries` times, then alerted: `hub_window_s` for the queues the hub consumes (BNMP,
    SETARIM, the courts' webhooks), `receipt_window_s` for a unit's receipt of a release order,
    `answer_window_s` for the rest of what a unit answers with its compliance certificate.
    """

    hub_window_s: float = Field(default=60.0, gt=0)
    receipt_window_s: float = Field(default=300.0, gt=0)
    answer_window_s: float = Field(default=1800.0, gt=0)
    max_tries: int = Field(default=3, ge=0)
    reconcile_every_s: float = Field(default=5.0, gt=0)
    reconcile_limit: int = Field(default=500, ge=1)
    # The topology is declared again at once when the broker cancels a consumer, and this often.
    heal_every_s: float = Field(default=10.0, gt=0)
    # How often the hub looks whether the broker blocks its connection (a resource alarm).
    blocked_poll_s: float = Field(default=0.2, gt=0)


class HubSettings(BaseSettings):
    """Everything the hub needs to start; read from `HUB_…` variables (nested with `__`)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="ignore")

    units: tuple[str, ...] = ("mg.ceresp-bh", "mg.presidio-contagem", "mg.penitenciaria-nh")
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")
    log_json: bool = False
    demo: bool = False  # a demo or test world: `run` then accepts the demo's secrets and users
    rabbit: RabbitSettings = RabbitSettings()
    postgres: PostgresSettings = PostgresSettings()
    retry: RetrySettings = RetrySettings()
    bnmp: BnmpSettings = BnmpSettings()
    setarim: SetarimSettings = SetarimSettings()
    court: CourtSettings = CourtSettings()
    engine: EngineSettings = EngineSettings()
    ops: OpsSettings = OpsSettings()
    security: SecuritySettings = SecuritySettings()
    audit: AuditSettings = AuditSettings()
    tls: TlsSettings = TlsSettings()
    acks: AcksSettings = AcksSettings()

    @property
    def hub_logins(self) -> frozenset[str]:
        """The RabbitMQ logins whose messages are the hub's own (`hub.domain.sender`)."""
        return frozenset({self.rabbit.login, *self.security.hub_logins})

    def demo_settings_in_use(self) -> list[str]:
        """What in these settings is only fit for a demo: `python -m hub run` refuses to start
        with any of it unless `demo` is on."""
        found = []
        if self.rabbit.login == "guest":
            found.append("the broker login is guest, whose password is public (HUB_RABBIT__URL)")
        if self.bnmp.client_secret.get_secret_value() == DEMO_BNMP_SECRET:
            found.append("BNMP's client secret is the demo's (HUB_BNMP__CLIENT_SECRET)")
        if self.security.person_key_secret.get_secret_value() == DEMO_PERSON_KEY:
            found.append("the CPF pseudonym key is the demo's (HUB_SECURITY__PERSON_KEY_SECRET)")
        short = [u.user for t, u in self.ops.tokens.items() if len(t) < _MIN_TOKEN]
        if short:
            found.append(f"ops tokens shorter than {_MIN_TOKEN} characters: {', '.join(short)}")
        if not self.security.require_signatures or not self.security.require_unit_identity:
            found.append("court signatures or unit identity are not required (HUB_SECURITY__…)")
        return found


def revealed_json(model: BaseModel) -> str:
    """`model` as JSON with its secrets in clear, to hand settings to a child process through its
    environment (pydantic writes a `SecretStr` as stars). Never log what this returns."""
    return json.dumps(to_jsonable_python(_reveal(model.model_dump(mode="python", by_alias=True))))


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(v) for v in value]
    return value
