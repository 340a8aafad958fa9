"""Which custodial unit sent a message (pure): the AMQP `user_id` names it, unforgeably.

Each unit logs in to RabbitMQ as its own user (`SecuritySettings.unit_user`, e.g.
`unit-mg.ceresp-bh`) and sets the message's `user_id` property to that login. RabbitMQ refuses a
publish whose `user_id` differs from the login (only a user tagged `impersonator` may, and no hub
user is), so the hub can trust it. A unit may speak only for itself: the envelope's `source.unit`
and the payload's `unit` must both be the unit named by the `user_id`, or the message is refused
with reason `wrong_sender`.

A message without a unit's `user_id` (a connection as the admin user, as in the demo and most
tests) is refused too when `require_unit_identity` is on, the production default; with it off it
is let through unchecked. A unit's `user_id` is always checked, whatever the setting.
"""

from __future__ import annotations

from contracts import ContractError
from hub.connector import Inbound
from hub.settings import SecuritySettings

__all__ = ["check_sender", "claimed_units"]

_REASON = "wrong_sender"


def claimed_units(inbound: Inbound) -> tuple[str | None, str | None]:
    """The units a message speaks for: the envelope's `source.unit` and the payload's `unit`."""
    env = inbound.envelope
    return env.source.unit, getattr(env.payload, "unit", None)


def check_sender(inbound: Inbound, security: SecuritySettings) -> None:
    """Accept `inbound` if the unit that sent it is the unit it speaks for; else raise."""
    sender = security.unit_of(inbound.user_id)
    if sender is None:
        if security.require_unit_identity:
            raise ContractError(
                "no custodial unit identity: publish as the unit's own RabbitMQ user with the "
                "user_id property set to it",
                reason=_REASON,
            )
        return
    source_unit, payload_unit = claimed_units(inbound)
    if source_unit != sender or payload_unit != sender:
        raise ContractError(
            f"unit {sender} sent a message for source.unit={source_unit}, unit={payload_unit}",
            reason=_REASON,
        )
