"""The fault suite's result: the figures as a table for people, and as JSON for the README."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sandbox.faults.checks import Findings
from sandbox.faults.supervisor import Exit

__all__ = ["Report"]


@dataclass
class Report:
    """One run: its profile, what was injected, what the hub did, and the invariants."""

    profile: str
    seed: int
    hubs: int
    findings: Findings
    faults: Counter[str] = field(default_factory=Counter)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    hub_starts: int = 0
    hub_kills: int = 0
    unexpected_exits: list[Exit] = field(default_factory=list)
    court_republishes: int = 0
    broker_survivors: list[list[int]] = field(default_factory=list)
    service_seconds: dict[str, list[float]] = field(default_factory=dict)
    barrier_s: float = 0.0
    window_s: float = 0.0
    settle_s: float = 0.0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The invariants held and the hub settled."""
        return self.findings.ok

    def rows(self) -> list[tuple[str, object]]:
        """The table's rows, in order."""
        f = self.findings
        injected = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return [
            ("profile / seed / hub processes", f"{self.profile} / {self.seed} / {self.hubs}"),
            ("release orders (valid)", f.orders),
            ("  certified", f.certified),
            ("  parked with a reason (not certified)", f.valid_orders_parked or 0),
            ("  units: persons released / kept", f"{f.released} / {f.kept}"),
            ("warrants", f.warrants),
            ("faults injected", sum(self.faults.values())),
            ("  by type", injected),
            ("hub processes killed (SIGKILL) / started", f"{self.hub_kills} / {self.hub_starts}"),
            ("hub exits not caused by the suite", len(self.unexpected_exits)),
            ("broker faults lived through by hub processes", self._lived()),
            ("court re-publishes after broker failures", self.court_republishes),
            ("messages lost", f.lost),
            (
                "deliveries committed / parked for a business reason / lost",
                f"{f.deliveries} / {sum(f.deliveries_not_made.values())}"
                f" / {len(f.deliveries_lost)}",
            ),
            ("dead letters from infrastructure errors (unexpected:*)", self._infra_letters()),
            ("duplicated effects", f.duplicated_effects),
            ("BNMP registrations (distinct documents)", f.bnmp_effects),
            ("BNMP repeat attempts answered 409 (not effects)", f.bnmp_duplicate_attempts),
            ("bad inputs tried / parked", f"{f.bad_inputs} / {f.bad_inputs_parked}"),
            ("dead letters by reason", f.dead_letters),
            (
                "pending at the end (outbox, deferred, queues)",
                f.pending + sum(f.queues_not_empty.values()),
            ),
            (
                "audit chain",
                f"{f.audit_rows} rows, " + ("verifies" if f.audit_verifies else "BROKEN"),
            ),
            (
                "state transitions / orders or warrants out of sequence",
                f"{f.transitions} / {len(f.broken_sequences)}",
            ),
            ("wall time: prelude / window / settle / total (s)", self._times()),
        ]

    def _infra_letters(self) -> str:
        f = self.findings
        n = sum(v for k, v in f.dead_letters.items() if k == "unexpected")
        return f"{n} (delivery made anyway by another copy: {f.infra_letters_made_anyway})"

    def _lived(self) -> str:
        lived = sum(1 for slots in self.broker_survivors if slots)
        return f"{lived} of {len(self.broker_survivors)}"

    def _times(self) -> str:
        return (
            f"{self.barrier_s:.0f} / {self.window_s:.0f} / {self.settle_s:.0f} / {self.wall_s:.0f}"
        )

    def render(self) -> str:
        """The table as printed at the end of a run."""
        lines = ["", f"=== fault suite ({self.profile}) ==="]
        lines += [f"  {label:<58} {value}" for label, value in self.rows()]
        reasons = Counter(e.reason for e in self.unexpected_exits)
        lines += [f"  ! {n} hub exit(s) not caused by the suite: {r}" for r, n in reasons.items()]
        lines += [f"  note: {n}" for n in self.notes]
        verdict = "OK" if self.ok else "PROBLEMS:\n    " + "\n    ".join(self.findings.problems)
        lines.append(f"  verdict: {verdict}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """Everything, as JSON (the lists of lost or missing ids included)."""
        doc: dict[str, Any] = dataclasses.asdict(dataclasses.replace(self, faults=Counter()))
        doc["faults"] = dict(self.faults)  # asdict would rebuild a Counter from its items
        doc["ok"] = self.ok
        doc["findings"]["lost"] = self.findings.lost
        return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"
