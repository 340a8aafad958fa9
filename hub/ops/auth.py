"""Who is calling the ops service: bearer tokens mapped to a user and a role (pure).

Roles are ordered: a viewer reads (personal data masked), an operator also replays and archives
(always with a reason), an admin also edits before replaying and sees bodies unmasked.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import IntEnum

from hub.settings import OpsUser

__all__ = ["Principal", "Role", "bearer_token", "may_scrape", "resolve"]


class Role(IntEnum):
    """What a token may do; a higher role may do everything a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: str) -> Role:
        """The role called `name` (viewer, operator, admin)."""
        return cls[name.upper()]

    @property
    def label(self) -> str:
        """The role's name in lower case, as in the settings."""
        return self.name.lower()


@dataclass(frozen=True)
class Principal:
    """A resolved caller: the user name recorded in the audit log and their role."""

    user: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"ops:{self.user}"

    def may(self, needed: Role) -> bool:
        """Whether this caller's role covers `needed`."""
        return self.role >= needed


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def resolve(tokens: Mapping[str, OpsUser], token: str | None) -> Principal | None:
    """The caller a token belongs to, or None; every token is compared in constant time."""
    if not token:
        return None
    found: OpsUser | None = None
    for known, user in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = user
    return Principal(found.user, Role.named(found.role)) if found else None


def may_scrape(
    tokens: Mapping[str, OpsUser], metrics_tokens: Collection[str], token: str | None
) -> bool:
    """Whether `token` may read `/metrics`: any ops token, or one of the metrics-only tokens
    (compared in constant time, every one of them)."""
    if not token:
        return False
    scraper = False
    for known in metrics_tokens:
        scraper |= hmac.compare_digest(known.encode(), token.encode())
    return scraper or resolve(tokens, token) is not None
