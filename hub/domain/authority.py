"""Who may say what about a warrant or a release order (pure).

Identity is not authority. A court system's key proves which system signed a document
(`connectors.court.signing`); the settings say which courts that key speaks for
(`CourtKey.courts`: court units such as `tjmg.vep-bh`, or a whole tribunal as `tjmg.*`). Then:

* a document is accepted only for a court its signer speaks for: only the court that made the
  decision may issue its alvará, and this cannot be delegated, except by higher courts (R417 art.6
  §1; S003 art.13);
* a counter-warrant, or a release order covering a warrant, changes that warrant: it is accepted
  only from the warrant's issuing court or from a court configured as competent over it
  (`SecuritySettings.competence`, e.g. a tribunal's plenary over its units, an execution court
  over the warrants it executes).

Anything else is refused with reason `no_authority`; the refusal is dead-lettered and audited with
the authenticated actor, never the envelope's self-declared `source`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from contracts import ContractError

__all__ = ["HUB", "Actor", "Competence", "covers", "may_change", "require_issuer", "require_over"]

_REASON: Final = "no_authority"


@dataclass(frozen=True)
class Actor:
    """The authenticated party behind a message: its name in the audit, and its courts."""

    name: str  # e.g. "court:RUPE:rupe-2026" (system and key), "unit:mg.ceresp-bh", "hub", "bnmp"
    courts: tuple[str, ...] = ()  # court patterns it speaks for (courts only)

    def speaks_for(self, court: str | None) -> bool:
        """Whether this actor speaks for court unit `court`."""
        return court is not None and any(covers(p, court) for p in self.courts)


HUB: Final = Actor("hub")

# a court unit -> patterns of the courts whose warrants it may change too
Competence = Mapping[str, tuple[str, ...]]


def covers(pattern: str, court: str) -> bool:
    """`tjmg.vep-bh` covers itself; `tjmg.*` every unit of TJMG; `*` every court."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return court.startswith(pattern[:-1])
    return pattern == court


def may_change(actor: Actor, warrant_court: str | None, competence: Competence) -> bool:
    """Whether `actor` may change a warrant issued by `warrant_court`: it speaks for that court,
    or for a court competent over it. A warrant whose issuing court the hub never learnt cannot be
    checked, and holding a person on missing data is the worse error: it passes."""
    if warrant_court is None or actor.speaks_for(warrant_court):
        return True
    return any(
        actor.speaks_for(judge) and any(covers(p, warrant_court) for p in over)
        for judge, over in competence.items()
    )


def require_issuer(actor: Actor, court: str, what: str) -> None:
    """Raise unless `actor` speaks for `court`, the court a document says issued it."""
    if not actor.speaks_for(court):
        raise ContractError(
            f"{actor.name} does not speak for {court}: it may not issue this {what} "
            "(R417 art.6 §1)",
            reason=_REASON,
        )


def require_over(
    actor: Actor, warrants: Iterable[tuple[str, str | None]], competence: Competence, what: str
) -> None:
    """Raise unless `actor` may change every (warrant number, issuing court) given."""
    for number, court in warrants:
        if not may_change(actor, court, competence):
            raise ContractError(
                f"{actor.name} may not {what} warrant {number}, issued by {court}: only its "
                "issuing court or a court competent over it may",
                reason=_REASON,
            )
