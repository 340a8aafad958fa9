"""Who sent a message, as the broker vouches for it: established on first receipt, carried (pure).

RabbitMQ guarantees two facts about a publish, and nothing else a sender writes can be trusted:

* its AMQP `user_id`, when set, is the publisher's login: the broker refuses any other value (no
  hub user is tagged `impersonator`);
* the exchange it was published to is one that login may write (its permissions): each custodial
  unit may write only `hub.custodial_unit.in` and its own `hub.custodial_unit.<unit>.in`, so a
  unit whose client cannot set `user_id` (Debian's `amqp-publish`) is still known by its exchange.

The hub publishes everything with its own login as `user_id`. So a consumed message whose
`user_id` is not one of the hub's logins arrives for the first time, from outside, and then:

* every `x-hub-*` header it carries is dropped: that namespace is the hub's (attempt counts, error
  reasons, failed queues, the sender itself), and a sender's forged value must earn no trust;
* what the broker guarantees is written into `x-hub-sender-login` and `x-hub-sender-exchange`.

When the hub publishes the message again (the retry ladder, a dead letter, an operator's replay)
those headers travel with it under the hub's `user_id`, and are believed: the sender established on
first receipt survives every path; the message's current `user_id` (the hub's) never replaces it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts import Envelope

__all__ = [
    "HUB_HEADER_PREFIX",
    "NOBODY",
    "SENDER_EXCHANGE",
    "SENDER_LOGIN",
    "Arrival",
    "Inbound",
    "Sender",
    "arrive",
]

HUB_HEADER_PREFIX: Final = "x-hub-"
SENDER_LOGIN: Final = "x-hub-sender-login"
SENDER_EXCHANGE: Final = "x-hub-sender-exchange"


@dataclass(frozen=True)
class Sender:
    """The party that first published a message, as the broker vouched for it."""

    login: str | None  # the AMQP user_id it set (the broker checked it equals its login)
    exchange: str | None  # the exchange it published to (its write permission allowed it)

    def headers(self) -> dict[str, str]:
        """The headers that carry this sender through the hub's own publishes."""
        out = {}
        if self.login is not None:
            out[SENDER_LOGIN] = self.login
        if self.exchange is not None:
            out[SENDER_EXCHANGE] = self.exchange
        return out

    @classmethod
    def carried(cls, headers: Mapping[str, Any]) -> Sender | None:
        """The sender the hub recorded in `headers`, if it recorded one."""
        login, exchange = headers.get(SENDER_LOGIN), headers.get(SENDER_EXCHANGE)
        if login is None and exchange is None:
            return None
        return cls(_text(login), _text(exchange))


NOBODY: Final = Sender(None, None)  # nothing vouched for: no login, no exchange


@dataclass(frozen=True)
class Inbound:
    """A message from an external system, parsed, with what the broker says about its sender."""

    envelope: Envelope
    body: bytes
    headers: Mapping[str, Any]
    sender: Sender  # who first published it, as the broker vouched (`hub.domain.sender`)


@dataclass(frozen=True)
class Arrival:
    """A consumed message's headers as the hub keeps them, and who sent it."""

    headers: dict[str, Any]
    sender: Sender
    from_hub: bool  # published by the hub itself: its x-hub-* headers are the hub's own


def arrive(
    headers: Mapping[str, Any],
    user_id: str | None,
    exchange: str | None,
    hub_logins: Collection[str],
) -> Arrival:
    """Establish who sent a consumed message, and which of its headers the hub may believe.

    A message the hub published (`user_id` one of `hub_logins`) keeps its headers and the sender
    they carry; one the hub published of its own accord (no sender recorded: a BNMP change the
    poller found) is the hub's. Any other message is arriving from outside for the first time:
    its `x-hub-*` headers go, and the sender is what the broker guarantees.
    """
    if user_id is not None and user_id in hub_logins:
        kept = dict(headers)
        return Arrival(kept, Sender.carried(kept) or Sender(user_id, exchange or None), True)
    kept = {k: v for k, v in headers.items() if not _is_hub_header(k)}
    sender = Sender(user_id, exchange or None)
    return Arrival(kept | sender.headers(), sender, False)


def _is_hub_header(name: object) -> bool:
    return isinstance(name, str) and name.lower().startswith(HUB_HEADER_PREFIX)


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
