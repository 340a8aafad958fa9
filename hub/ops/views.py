"""What the ops service shows, shaped in pure functions: dead letters, statistics, timelines.

Personal data never leaves through a response below an admin's reveal. A dead letter's body is
shown through an allowlist (`shown_body`): only fields known to hold no personal data, and each
value only when it has the shape that field should have (an order number shaped as a CNJ number,
a unit id, a timestamp...). Masking by field name would miss what a malformed body holds: `CPF` or
`nome` keys, a CPF written with spaces, a name in an identifier's place. Everything else is left
out and counted. Headers go through the same kind of allowlist (`shown_headers`). Free text (error
messages and traces, which may echo what an upstream system was sent) is hidden from viewers and
scrubbed of CPF-shaped text for operators (`scrub`). An admin sees a body as it is only by
revealing it with a reason, and the service audits it.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from contracts.envelope import KINDS
from hub.ops.models import Body, BucketCount, Distribution, JsonObject, TimelineEvent

__all__ = [
    "COMPLIANCE_BUCKETS_H",
    "FREE_TEXT_HIDDEN",
    "HIDDEN",
    "Bucket",
    "TimelineEvent",
    "audit_event",
    "distribution",
    "present_body",
    "scrub",
    "scrub_headers",
    "shown_body",
    "shown_headers",
    "sorted_timeline",
]

_CPF: Final = re.compile(r"(?<!\d)\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?!\d)")

HIDDEN: Final = "(hidden)"
FREE_TEXT_HIDDEN: Final = "(free text, hidden from viewers)"


def scrub(text: str) -> str:
    """Hide anything in free text shaped like a CPF (error texts should carry none anyway)."""
    return _CPF.sub("***.***.***-**", text)


def scrub_headers(headers: Mapping[str, Any]) -> JsonObject:
    """Headers with every string value scrubbed."""
    return {k: scrub(v) if isinstance(v, str) else v for k, v in headers.items()}


# ---------------------------------------------------------------- the allowlist

Shape = Callable[[object], bool]


def _pattern(regex: str) -> Shape:
    compiled = re.compile(regex)
    return lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None


def _one_of(*values: str) -> Shape:
    allowed = frozenset(values)
    return lambda v: isinstance(v, str) and v in allowed


def _boolean(v: object) -> bool:
    return isinstance(v, bool)


def _small_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 100_000


_CNJ: Final = r"[0-9]{7}-[0-9]{2}\.[0-9]{4}\.[0-9]\.[0-9]{2}\.[0-9]{4}"
NUMBER: Final = _pattern(_CNJ + r"(\.[0-9]{4}|\.[0-9]{2}\.[0-9]{4}-[0-9]{2})?")
UNIT: Final = _pattern(r"[a-z][a-z0-9]{1,5}\.[a-z0-9][a-z0-9-]{1,40}")
CODE: Final = _pattern(r"[a-z][a-z0-9_]{0,39}")
TIME: Final = _pattern(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
DATE: Final = _pattern(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
UUID_TEXT: Final = _pattern(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# An id issued by another system: it has a digit (a name has none) and no space.
EXTERNAL_ID: Final = _pattern(r"(?=[^ ]*[0-9])[A-Za-z0-9][A-Za-z0-9./_-]{0,63}")
SYSTEM: Final = _pattern(r"[A-Z][A-Z0-9._-]{1,15}")
KIND: Final = _one_of(*KINDS)
SECRECY: Final = _one_of("public", "restricted", "secret")
CONNECTOR: Final = _one_of("court", "setarim", "custodial_unit", "bnmp", "hub")


@dataclass(frozen=True)
class ListOf:
    """A list whose every item has the inner shape (or object spec)."""

    item: Spec


Spec = Shape | Mapping[str, "Spec"] | ListOf

_IMPEDIMENT: Final[Mapping[str, Spec]] = {
    "issuing_court": UNIT,
    "process_number": NUMBER,
    "warrant_number": NUMBER,
}
_PAYLOAD_FIELDS: Final[dict[str, Spec]] = {
    "kind": KIND,
    "order_number": NUMBER,
    "warrant_number": NUMBER,
    "counter_warrant_number": NUMBER,
    "document_number": NUMBER,
    "process_number": NUMBER,
    "subject_id": NUMBER,
    "covered_warrants": ListOf(NUMBER),
    "remaining": ListOf(NUMBER),
    "issuing_court": UNIT,
    "custodial_unit": UNIT,
    "unit": UNIT,
    "order_type": CODE,
    "species": CODE,
    "secrecy": SECRECY,
    "document_type": CODE,
    "deadline": CODE,
    "status": CODE,
    "warrant_state": CODE,
    "what": CODE,
    "threshold_pct": _small_int,
    "contingency": _boolean,
    "flagrante": _boolean,
    "plantao": _boolean,
    "released": _boolean,
    "valid_until": DATE,
    "bnmp_id": EXTERNAL_ID,
    "certificate_number": EXTERNAL_ID,
    "impediments": ListOf(_IMPEDIMENT),
    **dict.fromkeys(
        (
            "issued_at", "signed_at", "received_at", "validated_at", "certified_at",
            "released_at", "registered_at", "rejected_at", "complied_at", "expired_at",
            "changed_at", "seen_at", "due_at", "started_at", "raised_at", "referred_at",
            "lifted_at", "outage_started_at",
        ),
        TIME,
    ),
}  # fmt: skip
_PAYLOAD_FIELDS["order"] = _PAYLOAD_FIELDS  # an impediment lifted carries its release order
ENVELOPE: Final[Mapping[str, Spec]] = {
    "message_id": UUID_TEXT,
    "kind": KIND,
    "schema_version": _small_int,
    "occurred_at": TIME,
    "correlation_id": NUMBER,
    "causation_id": UUID_TEXT,
    "secrecy": SECRECY,
    "source": {"connector": CONNECTOR, "system": SYSTEM, "unit": UNIT},
    "payload": _PAYLOAD_FIELDS,
}


def _allowed(spec: Spec, value: object) -> tuple[object, int]:
    """`value` as the allowlist shows it, and how many values it withheld."""
    if value is None:
        return None, 0
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return HIDDEN, 1
        items = [_allowed(spec.item, v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(spec, Mapping):
        return _allowed_object(spec, value) if isinstance(value, dict) else (HIDDEN, 1)
    return (value, 0) if spec(value) else (HIDDEN, 1)


def _allowed_object(spec: Mapping[str, Spec], doc: Mapping[str, object]) -> tuple[object, int]:
    shown: dict[str, object] = {}
    hidden = 0
    for key, value in doc.items():
        inner = spec.get(key) if isinstance(key, str) else None
        if inner is None:
            hidden += 1  # not on the allowlist: left out, its name too (a key can be a name)
            continue
        shown[key], withheld = _allowed(inner, value)
        hidden += withheld
    return shown, hidden


def shown_body(body: bytes) -> Body:
    """A dead letter's body as anyone below an admin's reveal sees it: the allowlisted fields of
    a JSON message whose values have their field's shape; anything else only its size."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return Body(format="opaque", masked=True, content=None, size=len(body), hidden_fields=0)
    content, hidden = _allowed_object(ENVELOPE, doc)
    return Body(format="json", masked=True, content=content, size=len(body), hidden_fields=hidden)


_HEADERS: Final[Mapping[str, Shape]] = {
    "x-hub-attempt": _small_int,
    "x-hub-retry-level": _pattern(r"[0-9]{1,7}(ms|s|m|h)"),
    "x-hub-kind": KIND,
    "x-hub-court": UNIT,
    "x-hub-original-message-id": UUID_TEXT,
    "x-hub-error-type": _pattern(r"[A-Za-z_][A-Za-z0-9_.]{0,80}"),
    "x-hub-error-reason": _pattern(r"[a-z0-9_.:-]{1,80}"),
    "x-hub-failed-queue": _pattern(r"[a-z0-9_.-]{1,120}"),
    "x-hub-failed-at": TIME,
    "x-hub-replay-of": _pattern(r"[0-9]{1,19}"),
    "x-hub-replayed-by": _pattern(r"ops:[A-Za-z0-9._@-]{1,64}"),
    "x-hub-edited-from": _pattern(
        r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|dead-letter:[0-9]{1,19})"
    ),
    "x-hub-body-truncated-from": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "x-hub-actor": _pattern(r"[a-z_]{1,20}(:[A-Za-z0-9._@*-]{1,80})?"),
    "x-hub-sender-login": _pattern(r"[A-Za-z0-9._@-]{1,100}"),
    "x-hub-sender-exchange": _pattern(r"[a-z0-9_.-]{1,120}"),
    "x-court-key-id": _pattern(r"[A-Za-z0-9._-]{1,64}"),
}
# The error's words: shown scrubbed to operators, hidden from viewers.
_FREE_TEXT_HEADERS: Final = frozenset({"x-hub-error-message", "x-hub-error-trace"})


def shown_headers(headers: Mapping[str, Any], *, free_text: bool) -> JsonObject:
    """A dead letter's headers through the allowlist: known headers whose values have their shape
    (others left out, a bad value hidden); the error's message and trace scrubbed with
    `free_text` (operators), else hidden (viewers)."""
    out: JsonObject = {}
    for key, value in headers.items():
        if key in _FREE_TEXT_HEADERS:
            out[key] = scrub(str(value)) if free_text else FREE_TEXT_HIDDEN
        elif (shape := _HEADERS.get(key)) is not None:
            out[key] = value if shape(value) else HIDDEN
    return out


def present_body(body: bytes, *, unmasked: bool) -> Body:
    """A dead letter's body for a response: through the allowlist (`shown_body`), or, revealed to
    an admin (`unmasked`), as it is: JSON, else text, else base64."""
    if not unmasked:
        return shown_body(body)
    size = len(body)
    try:
        doc = json.loads(body)
    except ValueError:
        pass
    else:
        return Body(format="json", masked=False, content=doc, size=size, hidden_fields=0)
    try:
        return Body(format="text", masked=False, content=body.decode(), size=size, hidden_fields=0)
    except UnicodeDecodeError:
        raw = base64.b64encode(body).decode()
        return Body(format="base64", masked=False, content=raw, size=size, hidden_fields=0)


@dataclass(frozen=True)
class Bucket:
    """One bar of a histogram: values in [low, high) hours (high None: and above)."""

    low_h: float
    high_h: float | None
    count: int

    @property
    def label(self) -> str:
        """The bucket as a short label, e.g. "4–12 h" or "≥ 24 h"."""
        if self.high_h is None:
            return f"≥ {self.low_h:g} h"
        return f"{self.low_h:g}–{self.high_h:g} h"


COMPLIANCE_BUCKETS_H: Final = (0.0, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0)


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]


def distribution(
    seconds: Iterable[float], edges_h: Sequence[float] = COMPLIANCE_BUCKETS_H
) -> Distribution:
    """Histogram (hours) and percentiles of durations: how long orders took to be complied with."""
    ordered = sorted(max(0.0, s) / 3600 for s in seconds)
    bounds = [*zip(edges_h, [*edges_h[1:], None], strict=True)]
    buckets = [
        Bucket(lo, hi, sum(1 for v in ordered if v >= lo and (hi is None or v < hi)))
        for lo, hi in bounds
    ]
    return Distribution(
        count=len(ordered),
        p50_h=_percentile(ordered, 0.5),
        p90_h=_percentile(ordered, 0.9),
        max_h=ordered[-1] if ordered else None,
        buckets=[BucketCount(label=b.label, low_h=b.low_h, count=b.count) for b in buckets],
    )


def _label(action: str, detail: Mapping[str, Any]) -> str:
    if action.endswith(".transition"):
        return f"{detail.get('from') or 'new'} → {detail.get('to')}"
    if action == "message.sent":
        return f"sent {detail.get('kind')} to {detail.get('to')}"
    if action == "message.received":
        return f"received {detail.get('kind')}"
    if action.startswith("dead_letter."):
        return f"{action.removeprefix('dead_letter.').replace('_', ' ')} dead letter"
    return action.replace("_", " ")


def audit_event(at: datetime, actor: str, action: str, detail: Mapping[str, Any]) -> TimelineEvent:
    """A timeline event from an audit entry (which never holds personal data)."""
    label = _label(action, detail)
    return TimelineEvent(at=at, source=actor, label=label, detail={"action": action, **detail})


def sorted_timeline(*streams: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """Several event streams merged in time order (stable for equal times)."""
    merged = [e for stream in streams for e in stream]
    merged.sort(key=lambda e: e.at)
    return merged
