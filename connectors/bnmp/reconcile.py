"""BNMP's side of reconciliation: the pieces `light-filter` shows for the hub's processes, in the
hub's words (`hub.domain.reconcile.BnmpPiece`); the comparison is the hub's, and pure.

Asked by process (BNMP's light-filter by `numeroProcesso`, every change time): a piece revoked
before the poller's window, or changed while the hub was not reading, is seen here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import httpx

from connectors.bnmp.client import BnmpClient, Criteria
from connectors.bnmp.mapping import digits, masked_number
from connectors.bnmp.vocabulary import PieceKind, person_status, piece_kind, piece_status
from contracts import ContractError
from hub.domain.reconcile import BnmpPiece
from hub.settings import BnmpSettings

__all__ = ["Fetch", "fetcher", "pieces_of"]

_WARRANTS = (PieceKind.ARREST_WARRANT, PieceKind.INTERNMENT_WARRANT)
Fetch = Callable[[Collection[str]], Awaitable[list[BnmpPiece]]]


def pieces_of(page: Any) -> list[BnmpPiece]:
    """The warrants (arrest, internment) of one light-filter page as the hub compares them. An
    item that is not a warrant, or whose number cannot be read, is left out (the poller
    dead-letters it for an operator); a status the hub does not
    know is "unknown" (not in force, not revoked)."""
    content = page.get("content") if isinstance(page, dict) else None
    out = []
    for item in content if isinstance(content, list) else ():
        if not isinstance(item, dict):
            continue
        kind = piece_kind(str(item.get("descricaoTipoPeca") or ""))
        if kind not in _WARRANTS:
            continue
        try:
            number = masked_number(str(item.get("numeroPeca") or ""))
        except ContractError:
            continue
        status = piece_status(str(item.get("descricaoStatus") or ""))
        person = person_status(str(item.get("statusPessoa") or ""))
        out.append(
            BnmpPiece(
                number,
                status.value if status else "unknown",
                person.value if person else None,
            )
        )
    return out


def fetcher(settings: BnmpSettings, http: httpx.AsyncClient) -> Fetch:
    """Reads BNMP's pieces of each process, page by page, through the hub's HTTP client."""
    client = BnmpClient(settings, http)

    async def fetch(processes: Collection[str]) -> list[BnmpPiece]:
        found: list[BnmpPiece] = []
        for process in sorted(processes):
            page = 0
            while True:
                body = await client.pieces(Criteria(process=digits(process)), page, 1000)
                found.extend(pieces_of(body))
                if not isinstance(body, dict) or body.get("last", True):
                    break
                page += 1
        return found

    return fetch
