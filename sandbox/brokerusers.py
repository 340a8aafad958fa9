"""RabbitMQ users for the simulated world: each party logs in as production's user would.

The users and permissions are `hub.domain.grants`'s, created in the hub's vhost through the
management API with random passwords, under a prefix of their own (users are broker-wide, and
several worlds, tests or demos may share one broker), and deleted when the world stops. So the
simulated custodial units are known to the hub the way real ones are: by their login and by the
exchange only they may write, never by an administrator's connection.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from hub.domain.grants import Grant

__all__ = ["BrokerUsers"]


def _api(management_url: str) -> httpx.AsyncClient:
    parts = urlsplit(management_url)
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "/api", "", ""))
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    return httpx.AsyncClient(base_url=base, auth=auth, timeout=30)


@dataclass
class BrokerUsers:
    """Some of the hub's users, with passwords of their own, in the vhost of `amqp_url`."""

    amqp_url: str  # the hub's URL: its host, port and vhost
    management_url: str
    grants: tuple[Grant, ...]
    passwords: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.passwords = {g.user: secrets.token_urlsafe(16) for g in self.grants}

    @classmethod
    def of(cls, amqp_url: str, management_url: str, grants: Iterable[Grant]) -> BrokerUsers:
        """Users for `grants` (not yet created: `create`)."""
        return cls(amqp_url, management_url, tuple(grants))

    def url(self, user: str, at: str | None = None) -> str:
        """The AMQP URL that logs in as `user` into the hub's vhost (through `at`'s host and port,
        e.g. another node of the cluster, when given)."""
        parts = urlsplit(at or self.amqp_url)
        login = f"{quote(user, safe='')}:{quote(self.passwords[user], safe='')}"
        netloc = f"{login}@{parts.hostname}:{parts.port or 5672}"
        path = urlsplit(self.amqp_url).path
        return urlunsplit((parts.scheme, netloc, path or "/", "", ""))

    def _vhost(self) -> str:
        path = urlsplit(self.amqp_url).path
        return quote(unquote(path[1:]) if len(path) > 1 else "/", safe="")

    async def create(self) -> None:
        """Create every user with its permissions (replacing one of the same name)."""
        async with _api(self.management_url) as api:
            for g in self.grants:
                user = quote(g.user, safe="")
                account = {"password": self.passwords[g.user], "tags": ",".join(g.tags)}
                (await api.put(f"/users/{user}", json=account)).raise_for_status()
                perms = {"configure": g.configure, "write": g.write, "read": g.read}
                path = f"/permissions/{self._vhost()}/{user}"
                (await api.put(path, json=perms)).raise_for_status()

    async def delete(self) -> None:
        """Delete every user (those already gone are fine)."""
        async with _api(self.management_url) as api:
            for g in self.grants:
                await api.delete(f"/users/{quote(g.user, safe='')}")
