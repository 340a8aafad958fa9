"""What the dashboard shows is shaped in pure functions: masking, scrubbing, statistics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.ops.views import (
    FREE_TEXT_HIDDEN,
    HIDDEN,
    audit_event,
    distribution,
    present_body,
    scrub,
    shown_headers,
    sorted_timeline,
)
from tests.factories import CPF, make_envelope, make_release_order

BODY = make_envelope(make_release_order()).to_bytes()


def test_a_body_shows_only_allowlisted_fields() -> None:
    """The person is left out, not masked; identifiers of the order stay readable."""
    shown = present_body(BODY, unmasked=False)
    text = json.dumps(shown.content)
    assert shown.masked
    assert shown.format == "json"
    assert CPF not in text
    assert CPF[-5:] not in text  # name masking kept the last digits; the allowlist keeps nothing
    assert "Fulano" not in text
    assert "Beltrana" not in text
    assert "person" not in text
    assert shown.hidden_fields > 0
    assert isinstance(shown.content, dict)
    assert isinstance(payload := shown.content["payload"], dict)
    assert payload["order_number"] == make_release_order().order_number
    assert payload["covered_warrants"] == list(make_release_order().covered_warrants)
    assert shown.content["kind"] == "court.release_order.issued"


def test_an_admin_sees_the_body_as_it_is() -> None:
    """Revealed, the body is the original document."""
    shown = present_body(BODY, unmasked=True)
    assert not shown.masked
    assert shown.content == json.loads(BODY)
    assert CPF in str(shown.content)


def _malformed(**payload: object) -> bytes:
    """A release order's envelope whose payload is replaced by `payload` (not a valid message)."""
    doc = json.loads(BODY)
    doc["payload"] = {"kind": "court.release_order.issued", **payload}
    return json.dumps(doc).encode()


SPACED_CPF = " ".join([CPF[:3], CPF[3:6], CPF[6:9], CPF[9:]])


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        (_malformed(CPF=CPF), CPF),
        (_malformed(nome="Fulano de Tal"), "Fulano"),
        (_malformed(mae="Beltrana de Tal"), "Beltrana"),
        (_malformed(pessoa={"nome": "Fulano de Tal"}), "Fulano"),
        (_malformed(order_number=SPACED_CPF), CPF[:3] + " "),
        (_malformed(order_number=CPF), CPF),
        (_malformed(custodial_unit="Fulano de Tal"), "Fulano"),
        (_malformed(issuing_court="fulano"), "fulano"),
        (_malformed(covered_warrants=["Fulano de Tal"]), "Fulano"),
        (_malformed(bnmp_id="FULANO"), "FULANO"),
        (_malformed(**{"Fulano de Tal": 1}), "Fulano"),
        (_malformed(impediments=[{"description": "preso Fulano"}]), "Fulano"),
    ],
    ids=[
        "CPF key", "nome", "mae", "nested nome", "CPF with spaces in a number", "CPF as a number",
        "name as a unit", "name as a court", "name in a list", "name as an id", "name as a key",
        "name in a description",
    ],
)  # fmt: skip
def test_a_malformed_body_leaks_nothing(body: bytes, secret: str) -> None:
    """What masking by field name missed: keys it did not know, a CPF written with spaces, a
    name where an identifier should be. The allowlist shows none of it."""
    shown = present_body(body, unmasked=False)
    assert secret not in json.dumps(shown.content)
    assert shown.hidden_fields >= 1


@pytest.mark.parametrize(
    ("body", "unmasked", "fmt", "content"),
    [
        (b"plain text 123.456.789-09", False, "opaque", None),
        (b"plain text", True, "text", "plain text"),
        (b"\xff\xfe", True, "base64", "//4="),
        (b"[1, 2]", False, "opaque", None),
        (b"[1, 2]", True, "json", [1, 2]),
    ],
)
def test_bodies_that_are_not_objects(
    body: bytes, unmasked: bool, fmt: str, content: object
) -> None:
    """Anything but a JSON message is hidden below a reveal; bytes that are not text come as
    base64."""
    shown = present_body(body, unmasked=unmasked)
    assert (shown.format, shown.content, shown.size) == (fmt, content, len(body))


def test_headers_through_the_allowlist() -> None:
    """Known headers with the right shape stay; unknown ones go; the error's words are scrubbed
    for operators and hidden from viewers."""
    headers = {
        "x-hub-attempt": 3,
        "x-hub-error-reason": "upstream_rejected",
        "x-hub-failed-queue": "hub.bnmp.out",
        "x-hub-error-message": f"BNMP: pessoa Fulano de Tal, CPF {CPF}, nao encontrada",
        "x-hub-court": "Fulano de Tal",
        "x-custom-name": "Fulano",
    }
    operator = shown_headers(headers, free_text=True)
    viewer = shown_headers(headers, free_text=False)
    assert operator["x-hub-attempt"] == 3
    assert operator["x-hub-failed-queue"] == "hub.bnmp.out"
    assert operator["x-hub-court"] == HIDDEN
    assert "x-custom-name" not in operator
    assert CPF not in json.dumps(operator)
    assert "Fulano" not in json.dumps(viewer)
    assert viewer["x-hub-error-message"] == FREE_TEXT_HIDDEN


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
