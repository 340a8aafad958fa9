"""Cross-document checks: a release order's basis and the timeline of events about a document."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import ContractError, WarrantState, check_release_basis, check_timeline
from contracts.envelope import AnyPayload
from tests.factories import (
    OTHER_WARRANT,
    T0,
    WARRANT,
    make_compliance,
    make_receipt,
    make_release_order,
    make_validation,
    make_warrant,
    make_warrant_complied,
)

W = WarrantState


@pytest.mark.parametrize(
    ("known", "fragment"),
    [
        pytest.param({}, None, id="unknown-warrants-accepted"),
        pytest.param({WARRANT: W.COMPLIED}, None, id="complied-warrant"),
        pytest.param({OTHER_WARRANT: W.PENDING}, None, id="pending-warrant-not-covered"),
        pytest.param({WARRANT: W.PENDING}, "is pending: a counter-warrant is needed", id="pending"),
        pytest.param({WARRANT: W.REVOKED}, "is already revoked", id="revoked"),
        pytest.param({WARRANT: W.EXPIRED}, "has expired", id="expired"),
    ],
)
def test_check_release_basis(known: dict[str, W], fragment: str | None) -> None:
    """A release order may cover only complied (or unknown) warrants (domain.md 7.5)."""
    order = make_release_order()
    if fragment is None:
        check_release_basis(order, known)
    else:
        with pytest.raises(ContractError, match=fragment) as caught:
            check_release_basis(order, known)
        assert caught.value.reason == "invalid_release_basis"
        assert WARRANT in str(caught.value)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        pytest.param(make_receipt(), None, id="receipt-after-issue"),
        pytest.param(make_compliance(released=False), None, id="kept-after-issue"),
        pytest.param(
            make_receipt(received_at=T0 - timedelta(minutes=1)),
            "received_at .* is before the court.release_order.issued was issued",
            id="receipt-before-issue",
        ),
        pytest.param(
            make_compliance(
                released_at=T0 - timedelta(hours=1), certified_at=T0 + timedelta(hours=1)
            ),
            "released_at .* is before",
            id="release-before-issue",
        ),
        pytest.param(
            make_validation(validated_at=T0 - timedelta(hours=1)),
            "validated_at .* is before",
            id="validation-before-issue",
        ),
        pytest.param(
            make_compliance(certified_at=T0 + timedelta(days=2)),
            "certified_at .* is in the future",
            id="certificate-in-the-future",
        ),
    ],
)
def test_check_timeline_of_a_release_order(payload: AnyPayload, fragment: str | None) -> None:
    """Events about an order cannot precede its issue or lie in the future (domain.md 7.12)."""
    order = make_release_order()
    now = T0 + timedelta(days=1)
    if fragment is None:
        check_timeline(order, payload, now=now)
    else:
        with pytest.raises(ContractError, match=fragment) as caught:
            check_timeline(order, payload, now=now)
        assert caught.value.reason == "impossible_timeline"


def test_check_timeline_of_a_warrant() -> None:
    """A warrant cannot be complied with before it was issued (domain.md 7.12)."""
    warrant = make_warrant()
    check_timeline(warrant, make_warrant_complied())
    with pytest.raises(ContractError, match=r"complied_at .* is before the court\.warrant\.issued"):
        check_timeline(warrant, make_warrant_complied(complied_at=warrant.issued_at - timedelta(1)))
