"""What the dashboard shows is shaped in pure functions: masking, scrubbing, statistics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.ops.views import audit_event, distribution, present_body, scrub, sorted_timeline
from tests.factories import CPF, make_envelope, make_release_order

BODY = make_envelope(make_release_order()).to_bytes()


def test_a_body_is_masked_below_admin() -> None:
    """Names and the CPF are masked; identifiers of the order stay readable."""
    shown = present_body(BODY, unmasked=False)
    text = str(shown.content)
    assert shown.masked
    assert shown.format == "json"
    assert CPF not in text
    assert "Fulano" not in text
    assert "Beltrana" not in text
    assert isinstance(shown.content, dict)
    assert isinstance(payload := shown.content["payload"], dict)
    assert payload["order_number"] == make_release_order().order_number


def test_an_admin_sees_the_body_as_it_is() -> None:
    """Unmasked, the body is the original document."""
    shown = present_body(BODY, unmasked=True)
    assert not shown.masked
    assert shown.content == json.loads(BODY)
    assert CPF in str(shown.content)


@pytest.mark.parametrize(
    ("body", "unmasked", "fmt", "content"),
    [
        (b"plain text 123.456.789-09", False, "opaque", None),
        (b"plain text", True, "text", "plain text"),
        (b"\xff\xfe", True, "base64", "//4="),
        (b"[1, 2]", False, "json", [1, 2]),
    ],
)
def test_bodies_that_are_not_objects(
    body: bytes, unmasked: bool, fmt: str, content: object
) -> None:
    """Text that is not JSON is hidden below admin; bytes that are not text come as base64."""
    shown = present_body(body, unmasked=unmasked)
    assert (shown.format, shown.content, shown.size) == (fmt, content, len(body))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("person 123.456.789-09 refused", "person ***.***.***-** refused"),
        ("cpf 12345678909.", "cpf ***.***.***-**."),
        ("order 0001234-05.2023.8.13.0024.0002", "order 0001234-05.2023.8.13.0024.0002"),
    ],
)
def test_scrub_hides_cpfs_in_free_text(text: str, expected: str) -> None:
    """Anything shaped like a CPF is hidden; CNJ numbers are left alone."""
    assert scrub(text) == expected


def test_distribution_buckets_and_percentiles() -> None:
    """Durations fall in hour buckets; the 90th percentile is a real observation."""
    hours = [0.5, 1.5, 3, 3, 5, 10, 20, 30, 30, 47]
    d = distribution(h * 3600 for h in hours)
    counts = {b.label: b.count for b in d.buckets}
    assert counts == {
        "0–1 h": 1, "1–2 h": 1, "2–4 h": 2, "4–8 h": 1, "8–12 h": 1, "12–24 h": 1, "≥ 24 h": 3,
    }  # fmt: skip
    assert (d.count, d.p50_h, d.p90_h, d.max_h) == (10, 5, 30, 47)


def test_an_empty_distribution() -> None:
    """No complied order yet: zero counts and no percentiles."""
    d = distribution([])
    assert d.count == 0
    assert d.p50_h is None
    assert sum(b.count for b in d.buckets) == 0


def test_timeline_events_are_labelled_and_merged_in_time_order() -> None:
    """Transitions read "from → to", and streams merge by time."""
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    later = audit_event(t0 + timedelta(minutes=5), "hub", "order.transition",
                        {"from": "dispatched", "to": "received"})  # fmt: skip
    first = audit_event(
        t0, "court:RUPE", "message.received", {"kind": "court.release_order.issued"}
    )
    events = sorted_timeline([later], [first])
    assert [e.label for e in events] == [
        "received court.release_order.issued",
        "dispatched → received",
    ]
