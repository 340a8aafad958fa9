"""A custodial unit speaks only for itself: its login, or the exchange only it may write, must name
the unit it claims."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.custodial_unit.handlers import make_verify
from contracts import ContractError, Source
from hub.clock import utc_now
from hub.connector import Inbound, Resources
from hub.domain.outgoing import Outgoing
from hub.domain.sender import Sender
from hub.domain.topology import in_queue, unit_exchange
from hub.settings import HubSettings, SecuritySettings
from tests.factories import UNIT, make_compliance, make_envelope, make_receipt

OTHER = "mg.ceresp-bh"
ME = f"unit-{UNIT}"


class _NoPublishing:
    async def publish(self, message: Outgoing) -> None:
        raise AssertionError("a verifier publishes nothing")


def _resources(security: SecuritySettings) -> Resources:
    """What the hub lends a verifier; it reads only the settings."""
    return Resources(HubSettings(security=security), httpx.AsyncClient(), _NoPublishing(), utc_now)


def _inbound(
    user_id: str | None,
    *,
    source_unit: str | None = UNIT,
    exchange: str = in_queue("custodial_unit"),
    **payload: Any,
) -> Inbound:
    make = make_compliance if payload.pop("compliance", False) else make_receipt
    source = Source(connector="custodial_unit", system="SIGPRI", unit=source_unit)
    env = make_envelope(make(**payload), source=source)
    return Inbound(env, env.to_bytes(), {}, Sender(user_id, exchange))


def _verify(inbound: Inbound, *, require: bool = True) -> None:
    security = SecuritySettings(require_unit_identity=require)
    make_verify(_resources(security))(inbound)


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


@pytest.mark.parametrize(
    ("user_id", "exchange", "refused"),
    [
        (None, unit_exchange(UNIT), False),  # amqp-publish to its own exchange: known by it
        ("guest", unit_exchange(UNIT), False),  # a login that is no unit's: the exchange names it
        (ME, unit_exchange(UNIT), False),  # both proofs, agreeing
        (None, unit_exchange(OTHER), True),  # another unit's exchange: it speaks for this one
        (ME, unit_exchange(OTHER), True),  # login and exchange name two different units
        (f"unit-{OTHER}", unit_exchange(UNIT), True),  # same, the other way round
        (None, "hub.custodial_unit..in", True),  # no unit in the name: no identity
    ],
    ids=["exchange", "exchange_any_login", "both", "other_exchange", "split", "split2", "empty"],
)
def test_the_exchange_a_unit_may_alone_write_names_it(
    user_id: str | None, exchange: str, refused: bool
) -> None:
    """A unit whose client cannot set user_id is identified by its own exchange; a login and an
    exchange that disagree are refused (identity required, as in production)."""
    inbound = _inbound(user_id, exchange=exchange)
    if not refused:
        _verify(inbound)
        return
    with pytest.raises(ContractError) as caught:
        _verify(inbound)
    assert caught.value.reason == "wrong_sender"
