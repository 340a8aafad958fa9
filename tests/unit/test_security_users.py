"""The broker's users and permissions are data: each party reaches exactly its own resources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.domain.grants import NOTHING, Grant, grants, user_definitions
from hub.domain.topology import build_topology
from hub.settings import HubSettings, SecuritySettings

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("mg.a", "mg.ab")
TOPOLOGY = build_topology(UNITS, (5, 30))
AMQ = ("amq.default", "amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match")
# Every resource name on the broker, plus look-alikes a loose pattern would let through.
RESOURCES = frozenset(
    {e.name for e in TOPOLOGY.exchanges}
    | {q.name for q in TOPOLOGY.queues}
    | set(AMQ)
    | {
        "hub.custodial_unit.mgXa.out",
        "hub.custodial_unit.mgXa.in",
        "xhub.custodial_unit.mg.a.out",
        "hub.custodial_unit.mg.a.out.copy",
        "hub.court.in.evil",
        "hubXcourt.in",
    }
)
HUB_NAMES = frozenset(n for n in RESOURCES if n.startswith("hub."))


def _granted(pattern: str) -> frozenset[str]:
    # RabbitMQ searches (re:run), it does not full-match: only anchors keep a pattern exact.
    return frozenset(n for n in RESOURCES if re.search(pattern, n))


def _by_user(security: SecuritySettings | None = None) -> dict[str, Grant]:
    return {g.user: g for g in grants(UNITS, security or SecuritySettings())}


def test_there_is_one_user_per_party() -> None:
    """The hub, each court system, SETARIM, BNMP, each custodial unit and ops have a user each."""
    assert list(_by_user()) == [
        "hub",
        "court-rupe",
        "court-saj",
        "court-pje",
        "setarim",
        "bnmp",
        "unit-mg.a",
        "unit-mg.ab",
        "ops",
    ]


@pytest.mark.parametrize(
    ("user", "configure", "write", "read"),
    [
        ("hub", HUB_NAMES, HUB_NAMES | {"amq.default"}, HUB_NAMES),
        ("court-rupe", set(), {"hub.court.in"}, set()),
        ("court-pje", set(), {"hub.court.in"}, set()),
        ("setarim", set(), {"hub.setarim.in"}, set()),
        ("bnmp", set(), {"hub.bnmp.in"}, set()),
        (
            "unit-mg.a",
            set(),
            {"hub.custodial_unit.in", "hub.custodial_unit.mg.a.in"},
            {"hub.custodial_unit.mg.a.out"},
        ),
        (
            "unit-mg.ab",
            set(),
            {"hub.custodial_unit.in", "hub.custodial_unit.mg.ab.in"},
            {"hub.custodial_unit.mg.ab.out"},
        ),
        ("ops", set(), set(), set()),
    ],
)
def test_each_user_reaches_exactly_its_own_resources(
    user: str, configure: set[str], write: set[str], read: set[str]
) -> None:
    """Matched the way RabbitMQ matches, each pattern grants exactly the expected names."""
    g = _by_user()[user]
    assert _granted(g.configure) == configure
    assert _granted(g.write) == write
    assert _granted(g.read) == read


def test_every_pattern_is_anchored_at_both_ends() -> None:
    """An unanchored pattern would match longer names; every one starts with ^ and ends with $."""
    for g in grants(UNITS, SecuritySettings()):
        for pattern in (g.configure, g.write, g.read):
            assert pattern.startswith("^"), (g.user, pattern)
            assert pattern.endswith("$"), (g.user, pattern)


def test_nobody_may_impersonate_or_administer() -> None:
    """No user carries a tag that would let it set another user's user_id or change the broker."""
    tags = {t for g in grants(UNITS, SecuritySettings()) for t in g.tags}
    assert tags == {"monitoring"}
    assert _by_user()["ops"].tags == ("monitoring",)


def test_the_prefix_names_every_user_and_the_units_follow_it() -> None:
    """With a prefix (tests share one broker), every user and the unit naming carry it."""
    security = SecuritySettings(user_prefix="t1-")
    users = _by_user(security)
    assert all(name.startswith("t1-") for name in users)
    assert security.unit_of("t1-unit-mg.a") == "mg.a"
    assert users["t1-unit-mg.a"].read == _by_user()["unit-mg.a"].read


@pytest.mark.parametrize(
    ("prefix", "user", "unit"),
    [
        ("", "unit-mg.ceresp-bh", "mg.ceresp-bh"),
        ("", "unit-", None),
        ("", None, None),
        ("", "guest", None),
        ("", "court-rupe", None),
        ("t1-", "t1-unit-mg.a", "mg.a"),
        ("t1-", "unit-mg.a", None),
    ],
)
def test_a_unit_is_known_by_its_user(prefix: str, user: str | None, unit: str | None) -> None:
    """The unit a RabbitMQ user belongs to, or None when it is no unit's user."""
    security = SecuritySettings(user_prefix=prefix)
    assert security.unit_of(user) == unit
    if unit is not None:
        assert security.unit_user(unit) == user


def test_definitions_carry_users_without_passwords() -> None:
    """Every user is written with an empty password hash: no login until users.sh sets one."""
    doc = user_definitions(grants(UNITS, SecuritySettings()), vhost="/")
    assert {u["password_hash"] for u in doc["users"]} == {""}
    assert [p["user"] for p in doc["permissions"]] == [u["name"] for u in doc["users"]]
    assert {p["vhost"] for p in doc["permissions"]} == {"/"}
    assert NOTHING == "^$"


def test_committed_definitions_carry_the_users() -> None:
    """deploy/rabbitmq/definitions.json has the users and permissions `hub topology` generates."""
    settings = HubSettings()
    expected = user_definitions(grants(settings.units, settings.security))
    committed = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
    for section in ("users", "permissions", "topic_permissions"):
        assert committed[section] == expected[section], (
            f"{section} drifted: run `python -m hub topology`"
        )
