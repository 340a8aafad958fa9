"""Routing is a table: each kind goes to fixed connectors, withheld where secrecy forbids."""

from __future__ import annotations

import pytest

from contracts import BnmpDocumentType, Secrecy
from contracts.envelope import AnyPayload
from hub.domain.routing import route
from hub.domain.topology import unit_queue
from hub.errors import Unroutable
from tests.factories import (
    UNIT,
    make_alert,
    make_compliance,
    make_envelope,
    make_receipt,
    make_referral,
    make_registration,
    make_rejection,
    make_release_order,
    make_revocation,
    make_validation,
    make_warrant,
    make_warrant_complied,
    make_warrant_expired,
)

UNITS = frozenset({UNIT})
U = unit_queue(UNIT)


@pytest.mark.parametrize(
    ("payload", "queues"),
    [
        (make_release_order(), ["hub.bnmp.out", "hub.setarim.out", U]),
        (make_validation(), [U, "hub.court.out"]),
        (make_validation(impeded=True), [U, "hub.court.out"]),
        (make_referral(), ["hub.court.out", U]),
        (make_receipt(), ["hub.court.out"]),
        (make_compliance(), ["hub.bnmp.out", "hub.court.out"]),
        (make_compliance(released=False), ["hub.bnmp.out", "hub.court.out"]),
        (make_registration(), ["hub.court.out"]),
        (
            make_registration(document_type=BnmpDocumentType.WARRANT),
            ["hub.court.out"],
        ),
        (make_rejection(), ["hub.court.out"]),
        (make_warrant(), ["hub.bnmp.out", "hub.setarim.out"]),
        (make_revocation(), ["hub.bnmp.out", "hub.setarim.out"]),
        (make_warrant_complied(), ["hub.court.out", "hub.setarim.out"]),
        (make_warrant_expired(), ["hub.court.out", "hub.setarim.out"]),
        (make_alert(), ["hub.court.out"]),
    ],
    ids=lambda v: getattr(v, "kind", None),
)
def test_route_table(payload: AnyPayload, queues: list[str]) -> None:
    """Each kind goes to its destinations, in a fixed order."""
    routes = route(make_envelope(payload), UNIT, UNITS)
    assert [r.queue for r in routes] == queues
    assert all(r.withheld is None for r in routes)


def test_secret_messages_are_withheld_from_setarim_and_units() -> None:
    """A secret warrant still reaches BNMP, but SETARIM is not cleared for it (R417 art.34)."""
    env = make_envelope(make_warrant(), secrecy=Secrecy.SECRET)
    routes = {r.connector: r.withheld for r in route(env, None, UNITS)}
    assert routes["bnmp"] is None
    assert routes["setarim"] is not None
    assert "art.34" in routes["setarim"]


@pytest.mark.parametrize(("unit", "reason"), [(None, "no_unit"), ("mg.elsewhere", "unknown_unit")])
def test_a_release_order_needs_a_connected_unit(unit: str | None, reason: str) -> None:
    """With no unit, or a unit not connected to the hub, the order is unroutable."""
    with pytest.raises(Unroutable) as e:
        route(make_envelope(make_release_order()), unit, UNITS)
    assert e.value.reason == reason
