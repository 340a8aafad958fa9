"""The fault suite's invariants, judged on hand-made snapshots (no services)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sandbox.faults.checks import Sent, Snapshot, evaluate

O1, O2 = "0100001-09.2025.8.13.0024.0002", "0100002-91.2025.8.13.0024.0002"
W1 = "0100001-09.2025.8.13.0024.0001"
BAD_ID = "7f1c0f5e-0000-4000-8000-000000000001"
SENT = Sent(
    orders=(O1, O2), bad_orders=(), malformed_ids=(BAD_ID,), warrants=(W1,), counter_warrants=()
)


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


CLEAN = Snapshot(
    orders={O1: ("certified", True), O2: ("certified", False)},
    warrants=frozenset({W1}),
    parked=((BAD_ID, None, "malformed_json"),),
    parked_queues=((BAD_ID, "hub.court.in", "malformed_json"),),
    deliveries=(("hub.bnmp.out", "d-1", True), ("hub.court.out", "d-2", True)),
    pending=0,
    queues={"hub.court.in": 0, "hub.custodial_unit.mg.ceresp-bh.out": 0, "hub.retry.1s": 0},
    consumers={"hub.court.in": 2, "hub.custodial_unit.mg.ceresp-bh.out": 1, "hub.retry.1s": 0},
    hubs=2,
    bnmp_attempts={
        f"warrant:{_digits(W1)}": 1,
        f"release_order:{_digits(O1)}": 2,  # a repeat answered 409: an attempt, not an effect
        f"release_order:{_digits(O2)}": 1,
        f"release_compliance_certificate:{_digits(O1)}": 1,
        f"release_compliance_certificate:{_digits(O2)}": 1,
    },
    released={O1: 1},
    kept={O2: 1},
    transitions=(
        (O1, None, "issued"),
        (O2, None, "issued"),
        (O1, "issued", "received"),
        (O1, "received", "certified"),
    ),
)


def test_a_clean_run_breaks_no_invariant() -> None:
    """All certified, parked or registered once: no problem; a 409 repeat is not an effect."""
    f = evaluate(CLEAN, SENT)
    assert f.ok, f.problems
    assert (f.certified, f.released, f.kept, f.bnmp_duplicate_attempts) == (2, 1, 1, 1)
    assert f.bad_inputs_parked == 1


BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("lost order", {"orders": {O1: ("certified", True), O2: ("received", None)}}, "orders"),
    ("released twice", {"released": {O1: 2}}, "duplicated effects"),
    ("released and kept", {"released": {O1: 1, O2: 1}}, "duplicated effects"),
    ("bad input not parked", {"parked": ()}, "bad inputs"),
    ("registration missing", {"bnmp_attempts": {}}, "never registered"),
    (
        "registration nobody sent",
        {"bnmp_attempts": {**CLEAN.bnmp_attempts, "warrant:1": 1}},
        "nobody",
    ),
    ("outbox pending", {"pending": 3}, "pending"),
    ("message left", {"queues": {"hub.court.in": 4}}, "left in queues"),
    ("hub not consuming", {"consumers": {"hub.court.in": 1}}, "consumers"),
    ("unit not consuming", {"consumers": {"hub.custodial_unit.mg.ceresp-bh.out": 0}}, "consumers"),
    ("audit broken", {"audit_broken": "row 7"}, "audit"),
    (
        "delivery never made",
        {"deliveries": (("hub.court.out", "d-2", False),)},
        "deliveries never made",
    ),
    (
        "delivery parked for an infrastructure error",
        {
            "deliveries": (("hub.bnmp.out", "d-1", False),),
            "parked_queues": (("d-1", "hub.bnmp.out", "unexpected:CannotConnectNowError"),),
        },
        "deliveries never made",
    ),
    (
        "order parked for an infrastructure error",
        {
            "orders": {O1: ("certified", True), O2: ("received", None)},
            "parked": (*CLEAN.parked, ("m-9", O2, "unexpected:ConnectionDoesNotExistError")),
        },
        "orders neither certified nor parked",
    ),
    (
        "step from a stale state",
        {"transitions": (*CLEAN.transitions, (O1, "received", "complied"))},
        "out of sequence",
    ),
]


@pytest.mark.parametrize(("case", "changes", "problem"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_invariant_is_reported(
    case: str, changes: dict[str, Any], problem: str
) -> None:
    """A snapshot that breaks one invariant yields a problem naming it."""
    f = evaluate(dataclasses.replace(CLEAN, **changes), SENT)
    assert not f.ok
    assert any(problem in p for p in f.problems), f.problems


def test_an_order_parked_with_its_reason_is_not_lost() -> None:
    """An order in the dead-letter store is accounted for, and its missing registrations excused."""
    snap = dataclasses.replace(
        CLEAN,
        orders={O1: ("certified", True), O2: ("issued", None)},
        parked=(*CLEAN.parked, ("m-2", O2, "malformed_answer")),
        parked_queues=(*CLEAN.parked_queues, ("d-3", "hub.bnmp.out", "malformed_answer")),
        deliveries=(*CLEAN.deliveries, ("hub.bnmp.out", "d-3", False)),
        bnmp_attempts={k: v for k, v in CLEAN.bnmp_attempts.items() if _digits(O2) not in k},
        kept={},
    )
    f = evaluate(snap, SENT)
    assert f.ok, f.problems
    assert f.valid_orders_parked == {"malformed_answer": 1}
    assert f.deliveries_not_made == {"malformed_answer": 1}
