"""Which custodial unit sent a message (pure): the broker vouches for it, two ways.

A unit proves who it is with what RabbitMQ guarantees (`hub.domain.sender`), established when the
message first reaches the hub and carried through retries, dead letters and replays:

* its login, when its client sets the AMQP `user_id` (RabbitMQ refuses a `user_id` other than the
  login; each unit logs in as its own user, `SecuritySettings.unit_user`, e.g. `unit-mg.ceresp-bh`);
* the exchange it published to, when that is its own `hub.custodial_unit.<unit>.in`: only that
  unit's user may write there, so a client that cannot set `user_id` (Debian's `amqp-publish`)
  is known all the same.

A unit may speak only for itself: the envelope's `source.unit` and the payload's `unit` must both
be the unit so named, or the message is refused with reason `wrong_sender`; so is a message whose
login and exchange name two different units. A message that names no unit either way is refused
too while `require_unit_identity` is on, the production default.
"""

from __future__ import annotations

from contracts import ContractError
from hub.domain.authority import Actor
from hub.domain.sender import Inbound, Sender
from hub.domain.topology import unit_of_exchange
from hub.settings import SecuritySettings

__all__ = ["check_sender", "claimed_units", "sender_unit"]

_REASON = "wrong_sender"


def claimed_units(inbound: Inbound) -> tuple[str | None, str | None]:
    """The units a message speaks for: the envelope's `source.unit` and the payload's `unit`."""
    env = inbound.envelope
    return env.source.unit, getattr(env.payload, "unit", None)


def sender_unit(sender: Sender, security: SecuritySettings) -> str | None:
    """The unit the broker vouches sent a message, by its login or its own exchange, or None."""
    by_login = security.unit_of(sender.login)
    by_exchange = unit_of_exchange(sender.exchange)
    if by_login is not None and by_exchange is not None and by_login != by_exchange:
        raise ContractError(
            f"unit {by_login} published through the exchange of unit {by_exchange}",
            reason=_REASON,
        )
    return by_login or by_exchange


def check_sender(inbound: Inbound, security: SecuritySettings) -> Actor | None:
    """Accept `inbound` if the unit that sent it is the unit it speaks for, and return it as the
    actor (None when no unit is named and identity is not required); else raise."""
    sender = sender_unit(inbound.sender, security)
    if sender is None:
        if security.require_unit_identity:
            raise ContractError(
                "no custodial unit identity: publish to the unit's own exchange "
                "hub.custodial_unit.<unit>.in, or as the unit's RabbitMQ user with the user_id "
                "property set to it",
                reason=_REASON,
            )
        return None
    source_unit, payload_unit = claimed_units(inbound)
    if source_unit != sender or payload_unit != sender:
        raise ContractError(
            f"unit {sender} sent a message for source.unit={source_unit}, unit={payload_unit}",
            reason=_REASON,
        )
    return Actor(f"unit:{sender}")
