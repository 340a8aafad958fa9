"""BNMP is the register of record, end to end: warrants issued, complied and revoked in BNMP by its
own users (never through the hub) act on the hub's orders; what the hub registers carries the
law's content; what BNMP says that the hub does not know is kept for an operator.

Real broker and database; BNMP, SETARIM, the court and the units as real servers and clients.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.bnmp.mapping import digits, masked_number
from contracts import Person
from sandbox.simulators.bnmp import Issue
from tests.factories import CPF
from tests.integration.harness import database, wait_for

from .conftest import E2E, order

PERSON = Person(cpf=CPF, name="Fulano de Tal")  # the person of the e2e orders (factories)


def _issue_in_bnmp(e2e: E2E, i: int, **fields: object) -> str:
    """A court the hub does not serve issues a warrant in BNMP for the e2e orders' person; the
    warrant's number, masked as the hub writes it."""
    process = digits(order(i).process_number)
    piece = e2e.world.bnmp.issue(
        Issue.model_validate(
            {
                "numeroProcesso": process,
                "numeroCpf": CPF,
                "nomePessoa": "Fulano de Tal",
                "dataValidade": (datetime.now(UTC) + timedelta(days=365)).date(),
                **fields,
            }
        )
    )
    return masked_number(piece.numeroPeca)


async def _open_warrants_of(e2e: E2E, person: Person) -> set[str]:
    """The hub's projection: the warrants in force of a person, by the keyed hash."""
    async with database(e2e.settings) as db:
        rows = await db.fetch(
            "SELECT warrant_number FROM warrants WHERE person_key = $1"
            " AND state IN ('pending', 'complied')",
            e2e.hub.directory.person_key(person),
        )
    return {r["warrant_number"] for r in rows}


async def _origin(e2e: E2E, number: str) -> object:
    return await e2e.fetch("SELECT origin FROM warrants WHERE warrant_number = $1", number)


async def test_a_warrant_issued_in_bnmp_is_an_impediment_and_setarim_and_the_hub_agree(
    e2e: E2E,
) -> None:
    """A warrant issued in BNMP, never through the hub: the hub keeps it and SETARIM gets it; a
    release order of the same person is impeded by it; SETARIM's impediments and the hub's open
    warrants of the person are the same warrant."""
    x = _issue_in_bnmp(e2e, 40)
    await e2e.until_warrant(x, "pending")
    assert await _origin(e2e, x) == "bnmp"

    async def in_setarim() -> bool:
        return x in e2e.world.setarim.warrants

    await wait_for(in_setarim, what="SETARIM recorded the warrant issued in BNMP")
    o = order(41)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "certified")
    assert (e2e.world.units.kept[o.order_number], e2e.world.units.released[o.order_number]) == (
        1,
        0,
    )
    setarim = {
        i["mandado"]
        for i in e2e.world.setarim.impediments(
            {"pessoa": {"cpf": CPF}, "mandadosAbrangidos": list(o.covered_warrants)}
        )
    }
    hub = await _open_warrants_of(e2e, PERSON) - set(o.covered_warrants)
    kept = await e2e.fetch(
        "SELECT impediments FROM release_orders WHERE order_number = $1", o.order_number
    )
    assert setarim == hub == set(kept) == {x}
    referred = [
        n["payload"]
        for n in e2e.world.court.notifications
        if n["kind"] == "hub.impediment.referred"
    ]
    assert [[i["warrant_number"] for i in r["impediments"]] for r in referred] == [[x]]


async def test_bnmp_revoking_an_expired_warrant_lets_the_pending_release_proceed(
    e2e: E2E,
) -> None:
    """The only impediment expires and BNMP revokes it ("Revogado"): the hub's projection drops
    it, SETARIM validates the order again, and the unit, which held the person waiting for the
    impediment's regularisation, releases them."""
    e2e.world.units.faults.hold_impeded = True
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    x = _issue_in_bnmp(e2e, 42, dataValidade=yesterday.isoformat())
    await e2e.until_warrant(x, "pending")  # BNMP has not revoked it yet
    o = order(43)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "ready_impeded")
    assert e2e.world.units.released[o.order_number] == 0

    revoked = e2e.world.bnmp.expire_due(datetime.now(UTC).date())
    assert [p.status for p in revoked] == ["Revogado"]
    await e2e.until_warrant(x, "expired")
    assert x not in await _open_warrants_of(e2e, PERSON)
    await e2e.until_order(o.order_number, "certified")
    assert (e2e.world.units.released[o.order_number], e2e.world.units.kept[o.order_number]) == (
        1,
        0,
    )
    row = await e2e.fetch(
        "SELECT (released, impediments) FROM release_orders WHERE order_number = $1",
        o.order_number,
    )
    assert tuple(row) == (True, [])
    assert e2e.world.setarim.validations[o.order_number] == 2  # validated again after the lift
    lifted = [n for n in e2e.world.court.notifications if n["kind"] == "hub.impediment.lifted"]
    assert [(n["payload"]["warrant_number"], n["payload"]["warrant_state"]) for n in lifted] == [
        (x, "expired")
    ]


async def test_bnmp_compliance_of_a_warrant_the_hub_never_saw_is_applied(e2e: E2E) -> None:
    """Issued and complied in BNMP before the hub's poller looked: the first the hub hears of the
    warrant is its compliance. Applied at once, never dead-lettered, never left on the retry
    ladder; SETARIM records it with its person (no court is told: none sent it through the
    hub)."""
    x = _issue_in_bnmp(e2e, 44)
    arrested = datetime.now(UTC) - timedelta(hours=2)
    e2e.world.bnmp.comply(digits(x), arrested, "Contagem/MG")  # no await in between: one poll
    await e2e.until_warrant(x, "complied", within=15)
    assert await _origin(e2e, x) == "bnmp"
    assert await e2e.fetch("SELECT count(*) FROM dead_letters") == 0

    async def recorded() -> bool:
        return e2e.world.setarim.warrants.get(x, {}).get("situacao") == "cumprido"

    await wait_for(recorded, what="SETARIM recorded the compliance")
    assert e2e.world.setarim.warrants[x]["pessoa_key"] == CPF
    assert e2e.world.court.by_kind["bnmp.warrant.complied"] == 0
    first = await e2e.fetch(
        "SELECT detail->>'to' FROM audit_log WHERE subject = $1"
        " AND action = 'warrant.transition' AND detail->>'from' IS NULL",
        x,
    )
    assert first == "complied"  # the compliance itself made the record: nothing waited for it


async def test_the_compliance_certificate_registers_the_release_time_the_unit_gave(
    e2e: E2E,
) -> None:
    """The unit released the person five hours before it certified it: BNMP is told the release
    time (R417 art.9; S003 art.15), not the time of the certificate."""
    e2e.world.units.faults.release_lag_s = 5 * 3600
    o = order(45)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "certified")
    (certificate,) = [
        n["payload"]
        for n in e2e.world.court.notifications
        if n["kind"] == "custodial_unit.compliance.certified"
    ]
    released = datetime.fromisoformat(certificate["released_at"])
    certified = datetime.fromisoformat(certificate["certified_at"])
    assert certified - released == timedelta(hours=5)
    peca = e2e.world.bnmp.documents[f"release_compliance_certificate:{digits(o.order_number)}"]
    assert datetime.fromisoformat(peca["dataCumprimento"]) == released
    assert datetime.fromisoformat(peca["dataCertidao"]) == certified
    order_peca = e2e.world.bnmp.documents[f"release_order:{digits(o.order_number)}"]
    assert (order_peca["tipoPeca"], order_peca["motivoExpedicao"]) == (
        "Alvará de Soltura",
        "Liberdade Provisória",
    )


async def test_what_bnmp_says_that_the_hub_does_not_know_is_kept_and_later_changes_flow(
    e2e: E2E,
) -> None:
    """A status the hub does not know, and an item it cannot read (a 27-digit number), are each
    kept for an operator as a dead letter with BNMP's words; neither is applied, and a change
    BNMP reports after them still reaches the hub."""
    x = _issue_in_bnmp(e2e, 46)
    await e2e.until_warrant(x, "pending")
    bnmp = e2e.world.bnmp
    at = datetime.now(UTC)
    bnmp.drift(digits(x), "Suspenso", at=at)
    poison = bnmp.item(bnmp.pieces[digits(x)]) | {
        "numeroPeca": digits(x)[:-1],
        "descricaoStatus": "Aguardando Cumprimento",
        "dataAlteracao": at.isoformat(),
    }
    bnmp.serve_raw(poison)
    y = _issue_in_bnmp(e2e, 47, at=(at + timedelta(seconds=1)).isoformat())
    await e2e.until_warrant(y, "pending")

    async def parked() -> list[tuple[str, str]] | None:
        async with database(e2e.settings) as db:
            rows = await db.fetch(
                "SELECT reason, kind FROM dead_letters ORDER BY reason, error_message"
            )
        found = [(r["reason"], r["kind"]) for r in rows]
        return found if len(found) >= 2 else None

    assert await wait_for(parked, what="both kept for an operator") == [
        ("unrecognised_bnmp_change", "bnmp.change.unrecognised"),
        ("unrecognised_bnmp_change", "bnmp.change.unrecognised"),
    ]
    messages = await e2e.fetch(
        "SELECT string_agg(error_message, ' | ' ORDER BY error_message) FROM dead_letters"
    )
    assert "'Suspenso'" in messages
    assert "27 characters" in messages
    assert await e2e.warrant_state(x) == "pending"  # not applied, not guessed at
