"""The demo's script, pure: who is arrested, released, kept; what breaks and when (real seconds).

`build_scenario` returns timed `Step`s; the demo turns them into messages with the hub clock's time
at the moment they are sent. Everything is seeded, so two runs play the same day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from contracts.ids import cpf_check_digits, format_cnj

__all__ = ["Person", "Scenario", "Step", "build_scenario"]

Action = Literal[
    "barrier",
    "warrant",
    "complied",
    "expired",
    "counter_warrant",
    "order",
    "malformed",
    "bnmp_down",
    "bnmp_up",
    "units_slow",
    "units_fast",
]
UNITS = ("mg.ceresp-bh", "mg.presidio-contagem", "mg.penitenciaria-nh")
COURTS = ("tjmg.vep-bh", "tjmg.crim-contagem", "tjmg.plantao-bh")


@dataclass(frozen=True)
class Person:
    """A synthetic person: a valid CPF (never a real one's on purpose) and names."""

    cpf: str
    name: str
    mother_name: str


@dataclass(frozen=True)
class Step:
    """Do `action` at `at_s` real seconds into the run, with these parameters."""

    at_s: float
    action: Action
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """The timed steps, and what the summary should expect."""

    steps: tuple[Step, ...]
    orders: int
    impeded: int
    flagrante: int
    invalid: int
    outage: tuple[float, float]


_FIRST = ("Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor", "Iara", "João")
_LAST = ("Silva", "Souza", "Oliveira", "Pereira", "Lima", "Costa", "Ribeiro", "Almeida")


def _person(rng: random.Random) -> Person:
    while True:
        first9 = f"{rng.randrange(10**8, 10**9):09d}"
        if len(set(first9)) > 1:
            break
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {rng.choice(_LAST)}"
    return Person(first9 + cpf_check_digits(first9), name, f"Maria {rng.choice(_LAST)}")


def _process(i: int) -> str:
    return format_cnj(100000 + i, 2025, 8, 13, 24)


def _warrant_steps(n: int, rng: random.Random, people: list[Person]) -> list[Step]:
    steps = []
    for i in range(n):
        steps.append(
            Step(
                0.2 + i * 0.02,
                "warrant",
                {"i": i, "seq": 1, "person": people[i], "court": rng.choice(COURTS)},
            )
        )
    complied = int(n * 0.85)
    steps += [Step(3.0 + i * 0.01, "complied", {"i": i}) for i in range(complied)]
    steps += [Step(4.5, "counter_warrant", {"i": i}) for i in range(complied, complied + 4)]
    steps += [Step(4.6, "expired", {"i": i}) for i in range(complied + 4, min(n, complied + 8))]
    # The orders come once the police's arrests are on record, as in life (see `_play`).
    steps.append(Step(5.0, "barrier", {"complied": complied}))
    return steps


def _order_steps(
    n: int, warrants: int, rng: random.Random, people: list[Person]
) -> tuple[list[Step], int, int, int]:
    steps, impeded, flagrante, invalid = [], 0, 0, 0
    complied = int(warrants * 0.85)
    for k in range(n):
        i = k if k < complied else warrants + k  # beyond the complied warrants: warrants BNMP knows
        params: dict[str, Any] = {
            "i": i,
            "person": people[i % len(people)],
            "unit": UNITS[k % 3],
            "court": rng.choice(COURTS),
            "known": k < complied,
        }
        roll = rng.random()
        if roll < 0.10 and k >= complied:  # another open warrant keeps this person detained
            steps.append(
                Step(
                    0.1 + impeded * 0.02,
                    "warrant",
                    {"i": 50000 + i, "seq": 1, "person": params["person"], "court": COURTS[1]},
                )
            )
            impeded += 1
        elif roll < 0.15:
            params["flagrante"] = True
            flagrante += 1
        steps.append(Step(6.0 + k * (40.0 / max(n, 1)), "order", params))
    for j, kind in enumerate(("pending_basis", "unknown_unit")):  # orders the hub must refuse
        unknown = kind == "unknown_unit"  # a flagrante order for a unit the hub does not serve
        params = {
            "i": complied + j,
            "person": people[complied + j],
            "court": COURTS[0],
            "unit": "mg.desconhecida" if unknown else UNITS[0],
            "flagrante": unknown,
        }
        steps.append(Step(12.0 + j, "order", params))
        invalid += 1
    return steps, impeded, flagrante, invalid


def build_scenario(orders: int, warrants: int, seed: int = 7) -> Scenario:
    """The demo day for `orders` release orders and `warrants` warrants."""
    rng = random.Random(seed)
    people = [_person(rng) for _ in range(orders + warrants + 10)]
    steps = _warrant_steps(warrants, rng, people)
    order_steps, impeded, flagrante, invalid = _order_steps(orders, warrants, rng, people)
    steps += order_steps
    steps += [
        Step(8.0, "malformed", {"which": w})
        for w in ("not_json", "bad_cnj", "unknown_kind", "old_schema", "wrong_queue")
    ]
    outage = (14.0, 30.0)  # 16 s real = 160 min of hub time at the default factor
    steps += [
        Step(outage[0], "bnmp_down"),
        Step(outage[1], "bnmp_up"),
        Step(36.0, "units_slow"),
        Step(40.0, "units_fast"),
    ]
    steps.sort(key=lambda s: s.at_s)
    return Scenario(tuple(steps), orders, impeded, flagrante, invalid + 5, outage)


def process_of(i: int) -> str:
    """The process number of case `i`."""
    return _process(i)
