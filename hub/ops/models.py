"""What the ops API answers, one model per JSON shape (the dashboard, `static/app.js`, reads them).

Field names, types, nesting and order are those of the JSON on the wire: a field added, renamed
or retyped here changes what the dashboard and scripts receive. Timestamps go out as ISO 8601 (UTC
as `Z`), UUIDs as text, dates as `YYYY-MM-DD`. The CLI's `--json` prints the same models.

Models read rows by attribute (`from_attributes`), so `Model.model_validate(row)` takes a store row
whose fields carry the same names.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, JsonValue

__all__ = [
    "AckItem",
    "Acknowledgements",
    "ApprovalChange",
    "ApprovalDecided",
    "ApprovalView",
    "AuditCheckpoint",
    "AuditLine",
    "Body",
    "BrokerStatus",
    "BucketCount",
    "ConnectorView",
    "DeadLetterDetail",
    "DeadLetterItem",
    "DeadLetterPage",
    "DeadlineCounts",
    "DeliveryAcks",
    "Distribution",
    "EventDetail",
    "Health",
    "JobCancelling",
    "JobStarted",
    "JsonObject",
    "LetterGroup",
    "Me",
    "NoProbe",
    "OrderSummary",
    "OverdueDeadline",
    "Overview",
    "ProbeResult",
    "QueueTotals",
    "QueueView",
    "Queues",
    "ReplayAnswer",
    "ReplayJob",
    "SentMessage",
    "StatusChanged",
    "SubjectDeadline",
    "SubjectLetter",
    "Timeline",
    "TimelineEvent",
    "VerdictView",
    "WarrantSummary",
]

JsonObject = dict[str, JsonValue]
# A timeline event's detail: an audit entry's (JSON) or the hub's own, which holds timestamps.
EventDetail = dict[str, JsonValue | datetime]


class _Out(BaseModel):
    """A response shape: read from attributes as well as from keywords, no unknown field."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


# ---------------------------------------------------------------- session and health


class Health(_Out):
    """`/health`: "ok" when the database answers (200), else "degraded" (503)."""

    status: Literal["ok", "degraded"]


class Me(_Out):
    """Who the token belongs to."""

    user: str
    role: str


# ---------------------------------------------------------------- overview, queues, connectors


class Overview(_Out):
    """The numbers of the dashboard's top cards."""

    dead_letters_parked: int
    deadlines_open: int
    deadlines_overdue: int
    orders: dict[str, int]  # state -> count
    outbox_backlog: int
    outbox_oldest_s: float
    replay_jobs_active: int
    acks_open: int  # destinations not yet acknowledged (`hub.domain.acks`)
    acks_alerted: int  # ... and still not after the reconciler's tries: someone must look


class BrokerStatus(_Out):
    """Whether RabbitMQ lets the hub publish: the hub's own connection blocked (None when this
    ops service runs apart from a hub), since when, and the nodes' resource alarms (None when
    the management API does not answer)."""

    blocked: bool | None
    blocked_since: datetime | None
    alarms: list[str] | None


class AckItem(_Out):
    """One destination not yet acknowledged: the message, its queue, how often it was sent again,
    when the reconciler looks next, and when it gave up and alerted (None while it still tries)."""

    message_id: UUID
    queue: str
    kind: str
    subject: str
    sent_at: datetime
    tries: int
    next_at: datetime | None
    alerted_at: datetime | None


class DeliveryAcks(_Out):
    """The technical acknowledgements still open, by queue role ("hub": queues the hub delivers
    from; "unit": the units' queues), those alerted, and the list (alerted first, oldest first)."""

    open: dict[str, int]
    alerted: dict[str, int]
    oldest_open_s: float
    items: list[AckItem]


class QueueView(_Out):
    """One queue; None is "not known from this source" (rates and unacked without management)."""

    name: str
    role: str
    ready: int | None
    unacked: int | None
    consumers: int | None
    publish_rate: float | None
    deliver_rate: float | None


class QueueTotals(_Out):
    """Messages ready in all queues, and unacknowledged (None unless from the management API)."""

    ready: int
    unacked: int | None


class Queues(_Out):
    """Every queue, the retry ladder's, the totals, and where the numbers came from."""

    source: Literal["management", "amqp", "none"]
    problem: str | None
    queues: list[QueueView]
    ladder: list[QueueView]
    totals: QueueTotals


class ProbeResult(_Out):
    """A connector's synthetic round trip: answered or not, when, how fast, what failed."""

    ok: bool
    at: datetime
    latency_ms: float | None
    error: str | None


class NoProbe(_Out):
    """The connector offers no probe."""

    configured: Literal[False] = False


class ConnectorView(_Out):
    """One connector: activity in the last hour, circuit, probe, and its queues."""

    name: str
    last_success: datetime | None
    processed_1h: int
    dead_lettered_1h: int
    error_rate_1h: float
    parked: int
    circuit: str
    down_since: datetime | None
    deferred: int
    retried_here: int
    probe: ProbeResult | NoProbe
    queues: list[QueueView]


# ---------------------------------------------------------------- deadlines and orders


class DeadlineCounts(_Out):
    """One kind of deadline: open, overdue, met, met late."""

    kind: str
    open: int
    overdue: int
    met: int
    met_late: int


class OverdueDeadline(_Out):
    """A deadline past due, by how long, with its order's state and unit (None for a warrant's)."""

    subject: str
    kind: str
    started_at: datetime
    due_at: datetime
    state: str | None
    custodial_unit: str | None
    late_s: float


class BucketCount(_Out):
    """One bar of a histogram in hours: its label, lower bound and count."""

    label: str
    low_h: float
    count: int


class Distribution(_Out):
    """How long something took, in hours: count, percentiles, maximum, histogram."""

    count: int
    p50_h: float | None
    p90_h: float | None
    max_h: float | None
    buckets: list[BucketCount]


class Acknowledgements(_Out):
    """Orders by state, deadlines by kind, the overdue ones, and the time to compliance."""

    orders_by_state: dict[str, int]
    deadlines: list[DeadlineCounts]
    overdue: list[OverdueDeadline]
    time_to_compliance: Distribution


class OrderSummary(_Out):
    """A release order without its document (which names the person)."""

    order_number: str
    process_number: str
    state: str
    custodial_unit: str | None
    issuing_court: str
    secrecy: str
    contingency: bool
    issued_at: datetime
    received_at: datetime | None
    validated_at: datetime | None
    complied_at: datetime | None
    released: bool | None
    bnmp_id: str | None
    version: int
    updated_at: datetime


class WarrantSummary(_Out):
    """A warrant without its person key."""

    warrant_number: str
    process_number: str
    state: str
    species: str | None
    valid_until: date | None
    issuing_court: str | None
    secrecy: str
    bnmp_id: str | None
    version: int
    updated_at: datetime


# ---------------------------------------------------------------- timeline and audit


class SubjectDeadline(_Out):
    """One deadline of the subject."""

    kind: str
    started_at: datetime
    due_at: datetime
    satisfied_at: datetime | None
    alerted: list[int]


class SubjectLetter(_Out):
    """One dead letter of the subject."""

    id: int
    queue: str
    kind: str | None
    reason: str
    status: str
    failures: int
    first_failed_at: datetime
    last_failed_at: datetime


class SentMessage(_Out):
    """One message the hub sent about the subject (once, to `routing_key` and the `cc` queues)."""

    message_id: UUID
    routing_key: str
    cc: list[str]
    kind: str
    created_at: datetime
    confirmed_at: datetime | None


class TimelineEvent(_Out):
    """One line of a subject's timeline: when, who (an actor or "hub"), what, and its detail."""

    at: datetime
    source: str
    label: str
    detail: EventDetail


class Timeline(_Out):
    """An order's or warrant's rows and everything that happened to it, in time order."""

    subject: str
    found: bool
    order: OrderSummary | None
    warrant: WarrantSummary | None
    deadlines: list[SubjectDeadline]
    dead_letters: list[SubjectLetter]
    outbox: list[SentMessage]
    events: list[TimelineEvent]


class AuditLine(_Out):
    """One audit log entry (its detail never holds personal data)."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: JsonObject


class AuditCheckpoint(_Out):
    """A signed checkpoint of the audit chain's head (`hub.domain.checkpoint`), as the hub's
    checkpoint file holds it: keep it outside the database, and `python -m hub audit verify
    --checkpoints FILE` checks the chain against it. `at` is the signed text, kept as it is."""

    seq: int
    hash: str
    at: str
    key_id: str
    signature: str


# ---------------------------------------------------------------- dead letters


class DeadLetterItem(_Out):
    """A dead letter as lists show it (no body, headers or trace; the error message scrubbed)."""

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


class DeadLetterPage(_Out):
    """A page of dead letters (newest first) and how many match in all."""

    total: int
    items: list[DeadLetterItem]


class LetterGroup(_Out):
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


class Body(_Out):
    """A dead letter's body: the allowlisted fields of a JSON message (`masked`, with how many
    values were withheld), else its size only; revealed to an admin: JSON, text or base64."""

    format: Literal["json", "opaque", "text", "base64"]
    masked: bool
    content: JsonValue
    size: int
    hidden_fields: int


class VerdictView(_Out):
    """Whether a plain replay would be allowed now, the reason code and a sentence."""

    allowed: bool
    code: str
    why: str


class DeadLetterDetail(DeadLetterItem):
    """One dead letter with its trace, headers, body and replay verdict (masked below admin)."""

    trace: str
    headers: JsonObject
    body: Body
    verdict: VerdictView


class ReplayAnswer(_Out):
    """What a replay did: replayed (as `message_id`) or not, with the reason code and why."""

    id: int
    replayed: bool
    code: str
    why: str
    message_id: str | None


class StatusChanged(_Out):
    """What an archive or restore changed, and what it left alone (id -> why)."""

    changed: list[int]
    skipped: dict[int, str]


# ---------------------------------------------------------------- replay jobs


class JobStarted(_Out):
    """A bulk replay was created and started (`id`), or waits for a second admin's approval
    (`approval`: the request's id) because it covers more dead letters than the setting allows."""

    id: int | None
    approval: int | None = None


class JobCancelling(_Out):
    """A running bulk replay was asked to stop before its next item."""

    id: int
    cancelling: bool


class ReplayJob(_Out):
    """A bulk replay: who started it why, over what, its pace and state, and items by state."""

    id: int
    created_at: datetime
    created_by: str
    reason: str
    selection: JsonObject
    state: str
    rate_per_s: float
    max_failures: int
    total: int
    stop_reason: str | None
    updated_at: datetime
    finished_at: datetime | None
    items: dict[str, int]


# ---------------------------------------------------------------- four-eyes approvals


class ApprovalChange(_Out):
    """One path an edit changes, with both values as the allowlist shows them."""

    path: str
    before: JsonValue
    after: JsonValue


class ApprovalView(_Out):
    """A request for a second admin's approval: what, by whom and why; the decision when made."""

    id: int
    action: Literal["edit_replay", "bulk_replay"]
    state: Literal["pending", "approved", "rejected", "expired"]
    requested_at: datetime
    requested_by: str
    requester_role: str
    request_reason: str
    subject: str | None
    dead_letter_id: int | None
    changes: list[ApprovalChange]
    selection: JsonObject | None
    count: int
    rate_per_s: float | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    outcome: JsonObject | None


class ApprovalDecided(_Out):
    """A decision on a request, and what the approved action did (a replay, or a job started)."""

    approval: ApprovalView
    replay: ReplayAnswer | None
    job: JobStarted | None
