"""Who may do what on the broker, as data (no I/O): one RabbitMQ user per party, least privilege.

* `hub`: configures, reads and writes everything named `hub.…`, and writes to the default
  exchange (`amq.default`), through which it publishes to work queues;
* `court-<system>` (RUPE, SAJ, PJe), `setarim`, `bnmp`: write to their own `hub.<connector>.in`
  exchange; read nothing; configure nothing;
* `unit-<unit>`: writes to the exchanges `hub.custodial_unit.in` and its own
  `hub.custodial_unit.<unit>.in` (which names it: `hub.domain.sender`), reads its own queue
  `hub.custodial_unit.<unit>.out`; configures nothing;
* `ops` (tag `monitoring`): reads through the management API; no AMQP resource at all.

Every pattern is anchored at both ends and escapes its dots, so `unit-mg.a` can read neither
`hub.custodial_unit.mg.ab.out` nor `hub.custodial_unitXmgXa.out`. The hub publishes to work queues
through the default exchange (`amq.default`), hence its write permission there. No user is tagged
`impersonator` or `administrator`: the AMQP `user_id` of a message is always its sender's login
(connectors/custodial_unit/identity.py relies on it). SETARIM and BNMP are called by the hub over
HTTP today; their users exist so that either can push over AMQP, and have no password until
`deploy/rabbitmq/users.sh` gives them one.

Passwords are never in the repository: the definitions carry every user with an empty
`password_hash`, which RabbitMQ takes as "no password login", and `deploy/rabbitmq/users.sh` sets
each password from the environment through the management API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from hub.domain.topology import in_queue, unit_exchange, unit_queue
from hub.settings import SecuritySettings

__all__ = ["NOTHING", "Grant", "grants", "user_definitions"]

NOTHING: Final = "^$"
_PARTY_LIMITS: Final = (("max-connections", 8), ("max-channels", 64))
_DEFAULT_EXCHANGE: Final = "amq.default"


@dataclass(frozen=True)
class Grant:
    """One RabbitMQ user and its permissions in the hub's vhost (anchored regexes)."""

    user: str
    configure: str = NOTHING
    write: str = NOTHING
    read: str = NOTHING
    tags: tuple[str, ...] = ()
    # per-user connection and channel caps (`deploy/rabbitmq/users.sh` applies them): a client
    # gone wrong, opening connection after connection, cannot starve the broker for the others
    limits: tuple[tuple[str, int], ...] = ()


def _only(*names: str) -> str:
    """A pattern that matches exactly these resource names."""
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def _hub(prefix: str) -> Grant:
    everything = r"^hub\..+$"
    return Grant(
        f"{prefix}hub",
        configure=everything,
        write=rf"^(hub\..+|{re.escape(_DEFAULT_EXCHANGE)})$",
        read=everything,
    )


def grants(units: Iterable[str], security: SecuritySettings) -> tuple[Grant, ...]:
    """Every user the hub's broker needs, for these custodial units, named as `security` says."""
    p = security.user_prefix
    out = [_hub(p)]
    out += [
        Grant(security.court_user(system), write=_only(in_queue("court")), limits=_PARTY_LIMITS)
        for system in security.court_systems
    ]
    out += [
        Grant(f"{p}{c}", write=_only(in_queue(c)), limits=_PARTY_LIMITS)
        for c in ("setarim", "bnmp")
    ]
    out += [
        Grant(
            security.unit_user(u),
            write=_only(in_queue("custodial_unit"), unit_exchange(u)),
            read=_only(unit_queue(u)),
            limits=_PARTY_LIMITS,
        )
        for u in sorted(set(units))
    ]
    out.append(Grant(f"{p}ops", tags=("monitoring",)))
    return tuple(out)


def user_definitions(granted: Iterable[Grant], vhost: str = "/") -> dict[str, Any]:
    """The users and permissions sections of a RabbitMQ definitions document.

    Users carry an empty password hash (no password login) until `deploy/rabbitmq/users.sh`
    sets one from the environment.
    """
    granted = tuple(granted)
    return {
        "users": [
            {
                "name": g.user,
                "password_hash": "",
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": list(g.tags),
                "limits": dict(g.limits),
            }
            for g in granted
        ],
        "permissions": [
            {
                "user": g.user,
                "vhost": vhost,
                "configure": g.configure,
                "write": g.write,
                "read": g.read,
            }
            for g in granted
        ],
        "topic_permissions": [],
    }
