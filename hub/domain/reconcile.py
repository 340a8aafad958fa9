"""Reconciliation with BNMP, the register of record: where the hub's records and BNMP's disagree.

Pure: given the hub's rows and the pieces BNMP's `light-filter` shows for the same processes,
return each disagreement (a `Drift`) with its kind, subject, court and a detail for the operator.
Three kinds, each read in one direction:

* `certified_not_revoked`: an order the hub certified as released whose covered warrant BNMP still
  shows in force (pending or complied): BNMP does not show the release (S002; R417 art.12).
* `revoked_open_in_hub`: a warrant BNMP shows revoked (by a contramandado, an alvará or its expiry,
  S003 art.7 sole §) that the hub still counts open (pending or complied), so it would still
  impede a release.
* `held_without_title`: a person the hub knows a unit holds (arrested under a complied warrant, or
  kept by a certified order for its impediments) for whom BNMP shows no complied warrant among
  those titles: the judge must check that everyone in custody has an order in force (S003 ch. IV,
  art. 5).

What the hub cannot know: custody it never carried (a person arrested or kept outside the hub's
flows), and a title BNMP holds under another process than the hub's records name; a piece BNMP
does not show at all is not drift of the first two kinds (BNMP may hold it under a number the hub
never sent), only an absent title of a held person is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "BnmpPiece",
    "CertifiedOrder",
    "Drift",
    "DriftKind",
    "HeldTitle",
    "HubRecords",
    "OpenWarrant",
    "by_court",
    "compare",
    "report",
]

IN_FORCE = frozenset({"pending", "complied"})


class DriftKind(StrEnum):
    """How the hub's record and BNMP's disagree."""

    CERTIFIED_NOT_REVOKED = "certified_not_revoked"
    REVOKED_OPEN_IN_HUB = "revoked_open_in_hub"
    HELD_WITHOUT_TITLE = "held_without_title"


@dataclass(frozen=True)
class BnmpPiece:
    """A piece as BNMP shows it, in the hub's words: its number (masked as the hub writes it), its
    status ("pending", "complied", "revoked", ...; "unknown" for a label the hub does not know)
    and the person's status (`contracts.PersonStatus` value, or None)."""

    number: str
    status: str
    person: str | None = None


@dataclass(frozen=True)
class CertifiedOrder:
    """A release order the hub certified with the person released."""

    order_number: str
    process_number: str
    court: str
    covered: tuple[str, ...]


@dataclass(frozen=True)
class OpenWarrant:
    """A warrant the hub counts open (pending or complied)."""

    warrant_number: str
    process_number: str
    court: str
    state: str


@dataclass(frozen=True)
class HeldTitle:
    """Someone the hub knows a unit holds: `subject` (the complied warrant, or the order that
    kept them) and the warrants the hub holds them under."""

    subject: str
    court: str
    titles: tuple[str, ...]


@dataclass(frozen=True)
class HubRecords:
    """What the hub compares: its certified releases, its open warrants, the custody it knows."""

    certified: Sequence[CertifiedOrder] = ()
    open_warrants: Sequence[OpenWarrant] = ()
    held: Sequence[HeldTitle] = ()

    def processes(self) -> frozenset[str]:
        """The processes to ask BNMP about (light-filter by process): the records' own, and those
        of each title (a document number's first 25 characters are its process)."""
        own = {o.process_number for o in self.certified} | {
            w.process_number for w in self.open_warrants
        }
        titles = {t[:25] for h in self.held for t in h.titles}
        return frozenset(own | titles)


@dataclass(frozen=True)
class Drift:
    """One disagreement: what kind, about which document, of which court, and why."""

    kind: DriftKind
    subject: str
    court: str
    detail: str


def compare(hub: HubRecords, bnmp: Iterable[BnmpPiece]) -> list[Drift]:
    """Every drift between `hub` and the pieces BNMP shows, in a stable order."""
    pieces = {p.number: p for p in bnmp}
    drift = [
        *_certified(hub.certified, pieces),
        *_revoked(hub.open_warrants, pieces),
        *_held(hub.held, pieces),
    ]
    return sorted(drift, key=lambda d: (d.court, d.kind, d.subject))


def _certified(orders: Iterable[CertifiedOrder], pieces: Mapping[str, BnmpPiece]) -> list[Drift]:
    out = []
    for o in orders:
        shown = [pieces[w] for w in o.covered if w in pieces]
        in_force = [p for p in shown if p.status in IN_FORCE]
        if in_force:
            listed = ", ".join(f"{p.number} ({p.status})" for p in in_force)
            out.append(
                Drift(
                    DriftKind.CERTIFIED_NOT_REVOKED,
                    o.order_number,
                    o.court,
                    f"certified released, but BNMP shows in force: {listed}",
                )
            )
    return out


def _revoked(warrants: Iterable[OpenWarrant], pieces: Mapping[str, BnmpPiece]) -> list[Drift]:
    return [
        Drift(
            DriftKind.REVOKED_OPEN_IN_HUB,
            w.warrant_number,
            w.court,
            f"BNMP shows it revoked; the hub counts it {w.state}",
        )
        for w in warrants
        if (p := pieces.get(w.warrant_number)) is not None and p.status == "revoked"
    ]


def _held(held: Iterable[HeldTitle], pieces: Mapping[str, BnmpPiece]) -> list[Drift]:
    out = []
    for h in held:
        if any(pieces.get(t, _ABSENT).status == "complied" for t in h.titles):
            continue
        shown = ", ".join(
            f"{t} ({pieces[t].status if t in pieces else 'not in BNMP'})" for t in h.titles
        )
        out.append(
            Drift(
                DriftKind.HELD_WITHOUT_TITLE,
                h.subject,
                h.court,
                f"held by a unit, but BNMP shows no complied warrant among: {shown or 'none'}",
            )
        )
    return out


_ABSENT = BnmpPiece(number="", status="absent")


def by_court(drift: Iterable[Drift]) -> dict[str, dict[DriftKind, int]]:
    """How many drifts of each kind per court (the report's and the gauge's shape)."""
    out: dict[str, dict[DriftKind, int]] = {}
    for d in drift:
        kinds = out.setdefault(d.court, {})
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    return out


def report(drift: Sequence[Drift]) -> list[str]:
    """The reconciliation's report per court: the counts by kind, then each drift."""
    if not drift:
        return ["no drift: the hub's records and BNMP's agree"]
    lines = []
    counts = by_court(drift)
    for court in sorted(counts):
        kinds = ", ".join(f"{k.value}: {n}" for k, n in sorted(counts[court].items()))
        lines.append(f"court {court or '(unknown)'}: {kinds}")
        lines.extend(f"  {d.kind.value} {d.subject}: {d.detail}" for d in drift if d.court == court)
    return lines
