"""A custodial unit speaks only for itself: its AMQP user_id must name the unit it claims."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.custodial_unit.handlers import make_verify
from contracts import ContractError, Source
from hub.connector import Inbound
from hub.settings import HubSettings, SecuritySettings
from tests.factories import UNIT, make_compliance, make_envelope, make_receipt

OTHER = "mg.ceresp-bh"
ME = f"unit-{UNIT}"


def _inbound(user_id: str | None, *, source_unit: str | None = UNIT, **payload: Any) -> Inbound:
    make = make_compliance if payload.pop("compliance", False) else make_receipt
    source = Source(connector="custodial_unit", system="SIGPRI", unit=source_unit)
    env = make_envelope(make(**payload), source=source)
    return Inbound(env, env.to_bytes(), {}, user_id)


def _verify(inbound: Inbound, *, require: bool = True) -> None:
    security = SecuritySettings(require_unit_identity=require)
    make_verify({"settings": HubSettings(security=security)})(inbound)


@pytest.mark.parametrize("require", [True, False])
@pytest.mark.parametrize("compliance", [False, True])
def test_a_unit_speaking_for_itself_passes(require: bool, compliance: bool) -> None:
    """Receipt or certificate whose source.unit and unit are the sender's own unit passes."""
    _verify(_inbound(ME, compliance=compliance), require=require)


@pytest.mark.parametrize("require", [True, False])
@pytest.mark.parametrize(
    ("user_id", "source_unit", "unit"),
    [
        (f"unit-{OTHER}", UNIT, UNIT),  # another unit answering for this one
        (ME, OTHER, UNIT),  # the envelope claims another unit
        (ME, UNIT, OTHER),  # the payload claims another unit
        (ME, None, UNIT),  # the envelope names no unit
    ],
    ids=["other_sender", "other_source", "other_payload", "no_source_unit"],
)
def test_a_unit_speaking_for_another_is_refused(
    require: bool, user_id: str, source_unit: str | None, unit: str
) -> None:
    """A unit user is always checked: any mismatch is refused with reason wrong_sender."""
    with pytest.raises(ContractError) as caught:
        _verify(_inbound(user_id, source_unit=source_unit, unit=unit), require=require)
    assert caught.value.reason == "wrong_sender"


@pytest.mark.parametrize("user_id", [None, "guest", "hub", "court-rupe", "unit-"])
def test_a_message_without_unit_identity_is_refused_when_required(user_id: str | None) -> None:
    """No unit user_id: refused when identity is required (production), let through otherwise."""
    with pytest.raises(ContractError, match="no custodial unit identity") as caught:
        _verify(_inbound(user_id), require=True)
    assert caught.value.reason == "wrong_sender"
    _verify(_inbound(user_id), require=False)
