"""The comparison of the hub's records with BNMP's (`hub.domain.reconcile`), and BNMP's pieces read
for it (`connectors.bnmp.reconcile.pieces_of`), as tables."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.bnmp.reconcile import pieces_of
from hub.domain.reconcile import (
    BnmpPiece,
    CertifiedOrder,
    DriftKind,
    HeldTitle,
    HubRecords,
    OpenWarrant,
    compare,
    report,
)

P = "0002060-10.2024.8.13.0024"
W1, W2 = f"{P}.0001", f"{P}.0003"
ORDER = CertifiedOrder(f"{P}.0002", P, "TJMG-1", (W1,))
OPEN = OpenWarrant(W1, P, "TJMG-1", "pending")
HELD = HeldTitle(W1, "TJMG-1", (W1,))
KEPT = HeldTitle(f"{P}.0002", "TJMG-1", (W1, W2))

C, R, A = (
    DriftKind.CERTIFIED_NOT_REVOKED,
    DriftKind.REVOKED_OPEN_IN_HUB,
    DriftKind.HELD_WITHOUT_TITLE,
)

CASES: list[tuple[str, HubRecords, list[BnmpPiece], set[tuple[DriftKind, str]]]] = [
    ("nothing on either side", HubRecords(), [], set()),
    ("certified, BNMP revoked", HubRecords(certified=[ORDER]), [BnmpPiece(W1, "revoked")], set()),
    (
        "certified, BNMP still complied",
        HubRecords(certified=[ORDER]),
        [BnmpPiece(W1, "complied")],
        {(C, ORDER.order_number)},
    ),
    (
        "certified, BNMP still pending",
        HubRecords(certified=[ORDER]),
        [BnmpPiece(W1, "pending")],
        {(C, ORDER.order_number)},
    ),
    ("certified, BNMP shows nothing (cannot know)", HubRecords(certified=[ORDER]), [], set()),
    ("open, BNMP pending", HubRecords(open_warrants=[OPEN]), [BnmpPiece(W1, "pending")], set()),
    (
        "open, BNMP revoked",
        HubRecords(open_warrants=[OPEN]),
        [BnmpPiece(W1, "revoked")],
        {(R, W1)},
    ),
    (
        "open, BNMP unknown label",
        HubRecords(open_warrants=[OPEN]),
        [BnmpPiece(W1, "unknown")],
        set(),
    ),
    ("held, BNMP complied", HubRecords(held=[HELD]), [BnmpPiece(W1, "complied")], set()),
    ("held, BNMP pending", HubRecords(held=[HELD]), [BnmpPiece(W1, "pending")], {(A, W1)}),
    ("held, absent from BNMP", HubRecords(held=[HELD]), [], {(A, W1)}),
    (
        "kept, one impediment complied",
        HubRecords(held=[KEPT]),
        [BnmpPiece(W1, "revoked"), BnmpPiece(W2, "complied")],
        set(),
    ),
    (
        "kept, every impediment revoked",
        HubRecords(held=[KEPT]),
        [BnmpPiece(W1, "revoked"), BnmpPiece(W2, "revoked")],
        {(A, KEPT.subject)},
    ),
    (
        "complied in the hub, revoked in BNMP: two facts",
        HubRecords(open_warrants=[OpenWarrant(W1, P, "TJMG-1", "complied")], held=[HELD]),
        [BnmpPiece(W1, "revoked")],
        {(R, W1), (A, W1)},
    ),
]


@pytest.mark.parametrize(
    ("hub", "bnmp", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_compare(
    hub: HubRecords, bnmp: list[BnmpPiece], expected: set[tuple[DriftKind, str]]
) -> None:
    assert {(d.kind, d.subject) for d in compare(hub, bnmp)} == expected


def test_processes_asked_and_report_per_court() -> None:
    hub = HubRecords(
        certified=[ORDER], held=[HeldTitle("x", "TJMG-2", ("0001111-22.2023.8.13.0024.0001",))]
    )
    assert hub.processes() == {P, "0001111-22.2023.8.13.0024"}
    drift = compare(hub, [BnmpPiece(W1, "complied")])
    assert report(drift) == [
        "court TJMG-1: certified_not_revoked: 1",
        f"  certified_not_revoked {ORDER.order_number}: certified released, but BNMP shows in"
        f" force: {W1} (complied)",
        "court TJMG-2: held_without_title: 1",
        "  held_without_title x: held by a unit, but BNMP shows no complied warrant among:"
        " 0001111-22.2023.8.13.0024.0001 (not in BNMP)",
    ]
    assert report([]) == ["no drift: the hub's records and BNMP's agree"]


def _item(**fields: Any) -> dict[str, Any]:
    return {
        "numeroPeca": "000206010202481300240001",
        "descricaoTipoPeca": "Mandado de Prisão",
        "descricaoStatus": "Revogado",
        "statusPessoa": "Em Liberdade",
    } | fields


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (_item(), [BnmpPiece(W1, "revoked", "free")]),
        (_item(descricaoStatus="cumprido", statusPessoa=None), [BnmpPiece(W1, "complied")]),
        (_item(descricaoStatus="Sei lá"), [BnmpPiece(W1, "unknown", "free")]),
        (_item(descricaoTipoPeca="Alvará de Soltura"), []),
        (_item(numeroPeca="12"), []),
        ("not an item", []),
    ],
)
def test_pieces_of_a_light_filter_page(item: Any, expected: list[BnmpPiece]) -> None:
    assert pieces_of({"content": [item], "last": True}) == expected


def test_a_page_that_is_not_a_page_has_no_pieces() -> None:
    assert pieces_of(["x"]) == pieces_of({"content": "x"}) == []
