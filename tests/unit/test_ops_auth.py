"""Ops tokens map to a user and a role; roles are ordered viewer < operator < admin."""

from __future__ import annotations

import pytest

from hub.ops.auth import Principal, Role, bearer_token, may_scrape, resolve
from hub.settings import OpsUser

TOKENS = {
    "t-view": OpsUser(user="vera", role="viewer"),
    "t-op": OpsUser(user="otto", role="operator"),
    "t-admin": OpsUser(user="ada", role="admin"),
}


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer t-op", "t-op"),
        ("bearer   t-op  ", "t-op"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_the_header(header: str | None, token: str | None) -> None:
    """Only a `Bearer` authorization header yields a token."""
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("t-view", Principal("vera", Role.VIEWER)),
        ("t-op", Principal("otto", Role.OPERATOR)),
        ("t-admin", Principal("ada", Role.ADMIN)),
        ("t-opx", None),
        ("", None),
        (None, None),
    ],
)
def test_tokens_resolve_to_their_user_and_role(
    token: str | None, expected: Principal | None
) -> None:
    """A known token gives its principal; anything else gives nobody."""
    assert resolve(TOKENS, token) == expected


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.OPERATOR, False),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.OPERATOR, True),
    ],
)
def test_a_higher_role_may_do_what_a_lower_one_may(role: Role, needed: Role, allowed: bool) -> None:
    """Roles are ordered."""
    assert Principal("x", role).may(needed) is allowed


def test_the_audit_names_the_operator() -> None:
    """Operators appear in the audit log as `ops:<user>`."""
    assert Principal("otto", Role.OPERATOR).actor == "ops:otto"


@pytest.mark.parametrize(
    ("token", "allowed"),
    [("t-prom", True), ("t-view", True), ("t-admin", True), ("t-pro", False), (None, False)],
)
def test_metrics_need_an_ops_or_a_metrics_token(token: str | None, allowed: bool) -> None:
    """`/metrics` takes any ops token or a metrics-only token, and nothing else."""
    assert may_scrape(TOKENS, ("t-prom",), token) is allowed
