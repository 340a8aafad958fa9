"""A custodial unit's answers as tables: its receipt, and its certificate, released or kept."""

from __future__ import annotations

from datetime import datetime

import pytest

from connectors.custodial_unit.mapping import compliance_for, receipt_for
from contracts import ComplianceCertified, ReceiptAcknowledged, ReleaseOrderIssued
from contracts.people import Official
from contracts.setarim import Impediment
from tests.factories import (
    BRT,
    ORDER,
    OTHER_PROCESS,
    OTHER_WARRANT,
    UNIT,
    make_impediment,
    make_release_order,
)

AT = datetime(2024, 3, 1, 11, 30, tzinfo=BRT)
AGENT = Official(name="Agente Plantonista", role="agente de segurança penitenciária")
THIRD = make_impediment(
    issuing_court="tjmg.vara-criminal-betim",
    warrant_number=f"{OTHER_PROCESS}.0002",
    description="mandado de prisão temporária pendente",
)


@pytest.mark.parametrize(
    ("order", "unit"),
    [
        (make_release_order(), UNIT),
        (make_release_order(custodial_unit=None), "mg.ceresp-bh"),  # the unit that holds the person
    ],
    ids=["the-order's-unit", "order-without-unit"],
)
def test_receipt_for(order: ReleaseOrderIssued, unit: str) -> None:
    """The receipt names the order, the unit, who received it and when (S001 art.377 §1)."""
    assert receipt_for(order, unit, AT, AGENT) == ReceiptAcknowledged(
        order_number=ORDER, unit=unit, received_at=AT, received_by=AGENT
    )


def _kept(reason: str) -> ComplianceCertified:
    return ComplianceCertified(
        order_number=ORDER,
        unit=UNIT,
        released=False,
        not_released_reason=reason,
        certified_at=AT,
        responsible=AGENT,
    )


COMPLIANCE = [
    pytest.param(
        (),
        ComplianceCertified(
            order_number=ORDER,
            unit=UNIT,
            released=True,
            released_at=AT,
            certified_at=AT,
            responsible=AGENT,
        ),
        id="no-impediment-released",
    ),
    pytest.param(
        (make_impediment(),),
        _kept(f"mantido preso em razão de: mandado {OTHER_WARRANT} (tjmg.vara-criminal-contagem)"),
        id="one-impediment-kept",
    ),
    pytest.param(
        (make_impediment(), THIRD),
        _kept(
            f"mantido preso em razão de: mandado {OTHER_WARRANT} (tjmg.vara-criminal-contagem); "
            f"mandado {OTHER_PROCESS}.0002 (tjmg.vara-criminal-betim)"
        ),
        id="two-impediments-kept-in-order",
    ),
]


@pytest.mark.parametrize(("impediments", "certificate"), COMPLIANCE)
def test_compliance_for(
    impediments: tuple[Impediment, ...], certificate: ComplianceCertified
) -> None:
    """Without impediments the person is released at `at`; with any, kept, and the certificate
    names each warrant and its court as the reason (S001 art.374 §3, R417 art.9)."""
    assert compliance_for(make_release_order(), UNIT, AT, AGENT, impediments) == certificate
