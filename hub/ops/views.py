"""What the ops service shows, shaped in pure functions: masked bodies, statistics, timelines.

Personal data never leaves through a viewer's or operator's response: bodies go through
`contracts.pii.mask`, and free text (error messages, traces, header values) through `scrub`, which
hides anything shaped like a CPF. Only an admin sees a body as it is, and the service audits it.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from contracts import mask
from hub.ops.models import Body, BucketCount, Distribution, JsonObject, TimelineEvent

__all__ = [
    "COMPLIANCE_BUCKETS_H",
    "Bucket",
    "TimelineEvent",
    "audit_event",
    "distribution",
    "present_body",
    "scrub",
    "scrub_headers",
    "sorted_timeline",
]

_CPF: Final = re.compile(r"(?<!\d)\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?!\d)")


def scrub(text: str) -> str:
    """Hide anything in free text shaped like a CPF (error texts should carry none anyway)."""
    return _CPF.sub("***.***.***-**", text)


def scrub_headers(headers: Mapping[str, Any]) -> JsonObject:
    """Headers with every string value scrubbed."""
    return {k: scrub(v) if isinstance(v, str) else v for k, v in headers.items()}


def present_body(body: bytes, *, unmasked: bool) -> Body:
    """A dead letter's body for a response: JSON masked (unless `unmasked`), else text or bytes."""
    size = len(body)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    else:
        if not unmasked:
            doc = mask({"doc": doc})["doc"]
        return Body(format="json", masked=not unmasked, content=doc, size=size)
    if not unmasked:  # text that is not JSON may hold anything: only its size is shown
        return Body(format="opaque", masked=True, content=None, size=size)
    try:
        return Body(format="text", masked=False, content=body.decode(), size=size)
    except UnicodeDecodeError:
        raw = base64.b64encode(body).decode()
        return Body(format="base64", masked=False, content=raw, size=size)


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
