"""Whether the authenticated actor may say what a court document says (pure; the rules are
`hub.domain.authority`'s, applied here to the rows a decision reads)."""

from __future__ import annotations

from contracts import Envelope
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from hub.domain.authority import Actor, Competence, require_issuer, require_over
from hub.domain.decide.common import View

__all__ = ["authorise"]


def authorise(env: Envelope, view: View, actor: Actor, competence: Competence) -> None:
    """Raise `ContractError` (reason `no_authority`) unless `actor` may issue this court document
    and change every warrant it touches that the hub knows; other documents pass."""
    p = env.payload
    if isinstance(p, ReleaseOrderIssued):
        require_issuer(actor, p.issuing_court, "release order")
        known = [
            (n, view.warrants[n].issuing_court) for n in p.covered_warrants if n in view.warrants
        ]
        require_over(actor, known, competence, "release a person held on")
    elif isinstance(p, WarrantIssued):
        require_issuer(actor, p.issuing_court, "warrant")
    elif isinstance(p, WarrantRevoked):
        require_issuer(actor, p.issuing_court, "counter-warrant")
        row = view.warrants.get(p.warrant_number)
        if row is not None:
            require_over(actor, [(row.warrant_number, row.issuing_court)], competence, "revoke")
