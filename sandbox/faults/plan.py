"""The fault suite's script, pure: the business steps, the bad inputs and the faults, each timed.

The business part is the demo's day (`sandbox.demo.scenario.build_scenario`) without its own faults:
a prelude (warrants issued, complied, revoked, expired, then a barrier until the police's arrests
are on record) and release orders spread over the fault window. Bad inputs are added to that window:
malformed documents and orders for a unit the hub does not serve. The faults are drawn from a seeded
generator, so a run can be replayed: hub processes killed with SIGKILL at random moments, RabbitMQ
restarted (or killed), PostgreSQL restarted (or crashed), and windows in which an external system is
down, slow, answering garbage or timing out.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from sandbox.demo.scenario import COURTS, Person, Step, build_scenario

__all__ = [
    "INFRA",
    "LONG",
    "MALFORMED",
    "PROFILES",
    "SHORT",
    "WINDOWS",
    "Fault",
    "FaultAction",
    "Plan",
    "Profile",
    "build_plan",
]

InfraAction = Literal["broker_restart", "broker_kill", "pg_restart", "pg_crash"]
WindowAction = Literal[
    "bnmp_down",
    "bnmp_slow",
    "bnmp_garbage",
    "bnmp_timeout",
    "bnmp_errors",
    "setarim_down",
    "setarim_slow",
    "setarim_garbage",
    "court_down",
    "units_slow",
]
FaultAction = Literal["kill_hub", InfraAction, WindowAction]
INFRA: Final[tuple[FaultAction, ...]] = get_args(InfraAction)
WINDOWS: Final[tuple[FaultAction, ...]] = get_args(WindowAction)
MALFORMED: Final = ("not_json", "bad_cnj", "unknown_kind", "old_schema", "wrong_queue")
_UNKNOWN_UNIT: Final = "mg.desconhecida"
_NOBODY: Final = Person("52998224725", "Pessoa Exemplo", "Mãe Exemplo")
_INFRA_SPAN_S: Final = 25.0  # an infrastructure fault and its recovery, kept apart from the next
_KILL_GAP_S: Final = 4.0  # a killed hub needs a few seconds to come back before the next kill


@dataclass(frozen=True)
class Fault:
    """Do `action` at `at_s` seconds into the fault window; a window fault lasts `duration_s`."""

    at_s: float
    action: FaultAction
    duration_s: float = 0.0
    target: int = 0  # which hub process, for `kill_hub`


@dataclass(frozen=True)
class Profile:
    """How big a run is and which faults it injects."""

    name: str
    orders: int
    warrants: int
    window_s: float
    hubs: int
    kills: int
    infra: tuple[tuple[FaultAction, int], ...]
    windows: tuple[tuple[FaultAction, float], ...]
    bad_rounds: int
    settle_s: float
    seed: int = 11


SHORT: Final = Profile(
    name="short",
    orders=60,
    warrants=60,
    window_s=60.0,
    hubs=2,
    kills=3,
    infra=(("broker_restart", 1), ("pg_restart", 1)),
    windows=(
        ("bnmp_down", 8.0),
        ("bnmp_slow", 6.0),
        ("bnmp_garbage", 1.0),
        ("setarim_down", 5.0),
        ("setarim_garbage", 1.0),
        ("court_down", 5.0),
        ("units_slow", 5.0),
    ),
    bad_rounds=1,
    settle_s=150.0,
)
LONG: Final = Profile(
    name="long",
    orders=1500,
    warrants=300,
    window_s=600.0,
    hubs=2,
    kills=12,
    infra=(("broker_restart", 3), ("broker_kill", 1), ("pg_restart", 3), ("pg_crash", 1)),
    windows=(
        ("bnmp_down", 40.0),
        ("bnmp_down", 90.0),
        ("bnmp_slow", 30.0),
        ("bnmp_garbage", 3.0),
        ("bnmp_timeout", 10.0),
        ("bnmp_errors", 30.0),
        ("setarim_down", 30.0),
        ("setarim_slow", 30.0),
        ("setarim_garbage", 3.0),
        ("court_down", 30.0),
        ("units_slow", 20.0),
        ("units_slow", 20.0),
    ),
    bad_rounds=4,
    settle_s=600.0,
)
PROFILES: Final = {p.name: p for p in (SHORT, LONG)}


@dataclass(frozen=True)
class Plan:
    """The prelude (before the barrier), the timed steps of the window, and the faults."""

    prelude: tuple[Step, ...]
    steps: tuple[Step, ...]
    faults: tuple[Fault, ...]
    bad_orders: frozenset[int]  # case numbers of the orders the hub must refuse
    impeded: int
    flagrante: int


def _retime(steps: Iterable[Step], window_s: float) -> tuple[list[Step], list[Step]]:
    """The demo's warrant steps and barrier as a prelude; its orders spread over the window."""
    prelude: list[Step] = []
    after: list[Step] = []
    barrier: Step | None = None
    for s in steps:
        if s.action == "barrier":
            barrier = s
        elif s.action in ("warrant", "complied", "counter_warrant", "expired"):
            prelude.append(s)
        elif s.action == "order":  # the demo sends its orders from 6 s to 46 s
            at = min(max((s.at_s - 6.0) / 40.0, 0.0), 1.0) * window_s * 0.9
            after.append(Step(at, s.action, s.params))
        # the demo's own faults and bad inputs are left out: the suite injects its own
    prelude = _causal(prelude)
    if barrier is not None:
        prelude.append(
            Step(max((s.at_s for s in prelude), default=0.0) + 0.1, "barrier", barrier.params)
        )
    return prelude, after


def _causal(prelude: list[Step]) -> list[Step]:
    """Warrants first, then what happens to them: with many warrants the demo's fixed times would
    send a counter-warrant before its warrant (retried until the warrant arrives)."""
    issued = sorted((s for s in prelude if s.action == "warrant"), key=lambda s: s.at_s)
    last = max((s.at_s for s in issued), default=0.0) + 0.5
    later = sorted((s for s in prelude if s.action != "warrant"), key=lambda s: s.at_s)
    first = min((s.at_s for s in later), default=0.0)
    return issued + [Step(last + s.at_s - first, s.action, s.params) for s in later]


def _bad_inputs(rounds: int, window_s: float, rng: random.Random) -> list[Step]:
    steps: list[Step] = []
    for r in range(rounds):
        for which in MALFORMED:
            steps.append(Step(rng.uniform(0, window_s * 0.9), "malformed", {"which": which}))
        params: dict[str, Any] = {
            "i": 70000 + r,
            "person": _NOBODY,
            "court": COURTS[0],
            "unit": _UNKNOWN_UNIT,
            "flagrante": True,
        }
        steps.append(Step(rng.uniform(0, window_s * 0.9), "order", params))
    return steps


def _apart(rng: random.Random, n: int, lo: float, hi: float, gap: float) -> list[float]:
    """`n` sorted times from `lo` on, at least `gap` apart (fewer when they cannot fit by `hi`)."""
    step = gap * 1.25  # a slot per time, jittered by up to a quarter of the gap
    count = int((hi - lo) // step) + 1 if hi > lo else 0
    slots = sorted(rng.sample(range(count), min(n, count)))
    return [lo + s * step + rng.uniform(0, gap * 0.25) for s in slots]


def _kills(p: Profile, rng: random.Random, infra: list[Fault]) -> list[Fault]:
    """SIGKILLs at random moments; around a broker fault, the last hub process is spared, so that
    one process lives through every broker restart (its recovery is what is tested there)."""
    brokers = [
        (f.at_s - 1.0, f.at_s + _INFRA_SPAN_S) for f in infra if f.action.startswith("broker")
    ]
    kills = []
    for t in _apart(rng, p.kills, 2.0, p.window_s - 2.0, _KILL_GAP_S):
        near_broker = any(a <= t <= b for a, b in brokers)
        if near_broker and p.hubs == 1:
            continue
        kills.append(Fault(t, "kill_hub", target=rng.randrange(p.hubs - near_broker)))
    return kills


def _faults(p: Profile, rng: random.Random) -> list[Fault]:
    infra_actions = [a for a, n in p.infra for _ in range(n)]
    rng.shuffle(infra_actions)
    # In the first two thirds of the window: the orders still flow while the service is away.
    times = _apart(rng, len(infra_actions), 5.0, p.window_s * 0.67, _INFRA_SPAN_S)
    infra = [Fault(t, a) for t, a in zip(times, infra_actions, strict=False)]
    kills = _kills(p, rng, infra)
    windows = []
    busy: dict[str, list[tuple[float, float]]] = {}
    for action, duration in p.windows:
        system = action.split("_")[0]
        for _ in range(50):  # windows of one system never overlap: each restores its own setting
            at = rng.uniform(1.0, max(1.0, p.window_s - duration - 1.0))
            if all(at + duration < a or at > b for a, b in busy.get(system, [])):
                busy.setdefault(system, []).append((at - 1.0, at + duration + 1.0))
                windows.append(Fault(at, action, duration))
                break
    return sorted(kills + infra + windows, key=lambda f: f.at_s)


def build_plan(p: Profile) -> Plan:
    """The whole run for profile `p` (seeded: the same profile gives the same plan)."""
    rng = random.Random(p.seed)
    scenario = build_scenario(p.orders, p.warrants, p.seed)
    prelude, steps = _retime(scenario.steps, p.window_s)
    bad = _bad_inputs(p.bad_rounds, p.window_s, rng)
    unknown = frozenset(s.params["i"] for s in bad if s.action == "order")
    refused = frozenset(
        s.params["i"]
        for s in steps
        if s.action == "order" and (s.params["unit"] == _UNKNOWN_UNIT or _pending_basis(s, p))
    )
    return Plan(
        prelude=tuple(prelude),
        steps=tuple(sorted(steps + bad, key=lambda s: s.at_s)),
        faults=tuple(_faults(p, rng)),
        bad_orders=unknown | refused,
        impeded=scenario.impeded,
        flagrante=scenario.flagrante,
    )


def _pending_basis(step: Step, p: Profile) -> bool:
    """The demo's order that covers a revoked warrant (its first case after the complied ones)."""
    complied = int(p.warrants * 0.85)
    return bool(step.params["i"] == complied and not step.params.get("flagrante"))
