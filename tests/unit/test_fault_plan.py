"""The fault suite's plan: seeded, within its window, infrastructure faults apart, windows apart."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from sandbox.faults.plan import INFRA, LONG, SHORT, WINDOWS, Profile, build_plan

PROFILES = [SHORT, LONG, dataclasses.replace(SHORT, hubs=1, seed=3)]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.name}-{p.hubs}-{p.seed}")
def test_the_plan_injects_what_the_profile_asks(profile: Profile) -> None:
    """Every infrastructure and window fault of the profile is planned; kills at most as asked."""
    faults = build_plan(profile).faults
    for action, n in profile.infra:
        assert sum(1 for f in faults if f.action == action) == n
    assert sorted(f.action for f in faults if f.action in WINDOWS) == sorted(
        a for a, _ in profile.windows
    )
    kills = sum(1 for f in faults if f.action == "kill_hub")
    # With one hub process, kills near a broker fault are left out (see the next tests).
    assert kills == profile.kills if profile.hubs > 1 else 0 <= kills <= profile.kills


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.name}-{p.hubs}-{p.seed}")
def test_faults_stay_in_the_window_and_apart(profile: Profile) -> None:
    """Faults start inside the window; infrastructure faults are apart; one system's windows too."""
    faults = build_plan(profile).faults
    assert all(0 <= f.at_s <= profile.window_s for f in faults)
    infra = [f.at_s for f in faults if f.action in INFRA]
    assert all(b - a >= 25.0 for a, b in itertools.pairwise(infra))
    spans: dict[str, list[tuple[float, float]]] = {}
    for f in (f for f in faults if f.action in WINDOWS):
        spans.setdefault(f.action.split("_")[0], []).append((f.at_s, f.at_s + f.duration_s))
    for windows in spans.values():
        windows.sort()
        assert all(b[0] > a[1] for a, b in itertools.pairwise(windows))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.name}-{p.hubs}-{p.seed}")
def test_one_hub_process_lives_through_every_broker_fault(profile: Profile) -> None:
    """Near a broker restart or kill, the last hub process is never killed."""
    faults = build_plan(profile).faults
    brokers = [f.at_s for f in faults if f.action.startswith("broker")]
    for f in faults:
        if f.action == "kill_hub" and any(b - 1 <= f.at_s <= b + 25 for b in brokers):
            assert f.target < profile.hubs - 1


def test_the_same_profile_gives_the_same_plan() -> None:
    """The plan is seeded: a run can be replayed, and another seed gives another plan."""
    assert build_plan(SHORT) == build_plan(SHORT)
    assert build_plan(SHORT).faults != build_plan(dataclasses.replace(SHORT, seed=12)).faults


def test_the_window_carries_every_order_and_the_bad_inputs() -> None:
    """All orders of the demo's day and the bad inputs are in the window; the barrier ends the
    prelude."""
    plan = build_plan(SHORT)
    orders = [s for s in plan.steps if s.action == "order"]
    assert len(orders) == SHORT.orders + 2 + SHORT.bad_rounds  # + the demo's two refused orders
    assert sum(1 for s in plan.steps if s.action == "malformed") == 5 * SHORT.bad_rounds
    assert plan.prelude[-1].action == "barrier"
    assert {s.params["i"] for s in orders} >= plan.bad_orders


@pytest.mark.parametrize("profile", [SHORT, LONG], ids=lambda p: p.name)
def test_every_warrant_is_issued_before_anything_happens_to_it(profile: Profile) -> None:
    """In the prelude a warrant is sent before its compliance, revocation or expiry."""
    issued_at: dict[int, float] = {}
    for step in build_plan(profile).prelude:
        if step.action == "warrant":
            issued_at[step.params["i"]] = step.at_s
        elif step.action in ("complied", "counter_warrant", "expired"):
            assert step.at_s > issued_at[step.params["i"]], step
