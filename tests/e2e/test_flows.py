"""Every flow end to end: court, BNMP, SETARIM and the custodial unit as real loopback systems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.bnmp.mapping import digits
from hub.store import audit_repo
from tests.integration.harness import database, wait_for

from .conftest import E2E, order, warrant


async def _notified(e2e: E2E, kind: str, n: int = 1) -> None:
    async def enough() -> bool:
        return e2e.world.court.by_kind[kind] >= n

    await wait_for(enough, what=f"court notified of {kind}")


async def test_release_order_flows_to_certified(e2e: E2E) -> None:
    """Court → BNMP → SETARIM → unit → receipt → compliance → BNMP certificate → court."""
    o = order(1)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "certified")
    stats = e2e.world.stats()
    assert stats["bnmp"]["effects"] == 2  # the order and its compliance certificate, once each
    assert stats["units"]["released"] == 1
    for kind in (
        "setarim.validation.completed",
        "custodial_unit.receipt.acknowledged",
        "custodial_unit.compliance.certified",
        "bnmp.registration.completed",
    ):
        await _notified(e2e, kind)
    open_deadlines = await e2e.fetch(
        "SELECT count(*) FROM deadlines WHERE satisfied_at IS NULL AND subject = $1", o.order_number
    )
    assert open_deadlines == 0
    async with database(e2e.settings) as db:
        _, broken = await audit_repo.verify(db)
    assert broken is None


async def test_release_with_impediments_keeps_the_person_and_refers_to_the_court(e2e: E2E) -> None:
    """Another open warrant of the same person: the unit keeps them; the court gets a referral."""
    other = warrant(3, seq=1)
    await e2e.court_sends(other)

    async def recorded() -> bool:
        return other.warrant_number in e2e.world.setarim.warrants

    await wait_for(recorded, what="SETARIM recorded the other warrant")
    o = order(4)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "certified")
    assert e2e.world.units.kept[o.order_number] == 1
    assert e2e.world.units.released[o.order_number] == 0
    await _notified(e2e, "hub.impediment.referred")
    kind = await e2e.fetch(
        "SELECT kind FROM deadlines WHERE subject = $1 AND kind = 'impediment_regularisation'",
        o.order_number,
    )
    assert kind == "impediment_regularisation"


async def test_release_on_flagrante_needs_no_warrant(e2e: E2E) -> None:
    """A release granted at the custody hearing (flagrante, arrest date: S002) flows without
    warrants: certified after a release, the person released once, no warrant anywhere."""
    arrested = (datetime.now(UTC) - timedelta(days=1)).date()
    o = order(5, covered_warrants=(), flagrante=True, arrest_date=arrested)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "certified")
    await _notified(e2e, "custodial_unit.compliance.certified")
    async with database(e2e.settings) as db:
        row = await db.fetchrow(
            "SELECT released, document->>'flagrante' AS flagrante,"
            " document->>'arrest_date' AS arrest_date,"
            " jsonb_array_length(document->'covered_warrants') AS covered,"
            " (SELECT count(*) FROM audit_log WHERE action = 'order.transition' AND subject = $1"
            "  AND detail->>'from' = 'complied_released' AND detail->>'to' = 'certified')"
            "  AS certified_after_release,"
            " (SELECT count(*) FROM warrants) AS warrants,"
            " (SELECT count(*) FROM audit_log WHERE action LIKE 'warrant.%') AS warrant_audit"
            " FROM release_orders WHERE order_number = $1",
            o.order_number,
        )
    assert row is not None
    assert dict(row) == {
        "released": True,
        "flagrante": "true",
        "arrest_date": arrested.isoformat(),
        "covered": 0,
        "certified_after_release": 1,
        "warrants": 0,
        "warrant_audit": 0,
    }
    world = e2e.world
    assert (world.units.released[o.order_number], world.units.kept[o.order_number]) == (1, 0)
    assert world.stats()["units"]["released"] == 1  # nobody else was released
    number = digits(o.order_number)
    assert set(world.bnmp.registered) == {  # the order and its certificate; no warrant document
        f"release_order:{number}",
        f"release_compliance_certificate:{number}",
    }
    assert set(world.setarim.validations) == {o.order_number}  # validated against no warrant
    assert world.setarim.warrants == {}
    compliance = [
        n["payload"]
        for n in world.court.notifications
        if n["kind"] == "custodial_unit.compliance.certified"
    ]
    assert [(c["order_number"], c["released"]) for c in compliance] == [(o.order_number, True)]


async def test_warrant_issued_complied_revoked_and_expired(e2e: E2E) -> None:
    """Warrants reach BNMP and SETARIM; BNMP's reports of compliance and expiry come back (the
    expired one is another person's: a compliance makes the person's other warrants complied)."""
    other_person = {"cpf": "52998224725", "name": "Sicrana de Tal"}
    complied, revoked, expired = warrant(6, 1), warrant(6, 2), warrant(6, 3, person=other_person)
    for w in (complied, revoked, expired):
        await e2e.court_sends(w)
    for w in (complied, revoked, expired):
        await e2e.until_warrant(w.warrant_number, "pending")
    await _registered(e2e, 3)
    from tests.factories import make_revocation

    counter = make_revocation(
        warrant_number=revoked.warrant_number,
        counter_warrant_number=revoked.warrant_number[:-4] + "0009",
        issued_at=datetime.now(UTC),
        signed_at=datetime.now(UTC),
    )
    await e2e.court_sends(counter)
    await e2e.until_warrant(revoked.warrant_number, "revoked")
    e2e.world.bnmp.comply(digits(complied.warrant_number), place="Belo Horizonte")
    e2e.world.bnmp.expire(digits(expired.warrant_number))
    await e2e.until_warrant(complied.warrant_number, "complied")
    await e2e.until_warrant(expired.warrant_number, "expired")
    assert e2e.world.setarim.warrants[revoked.warrant_number]["situacao"] == "revogado"


async def _registered(e2e: E2E, n: int) -> None:
    async def enough() -> bool:
        return len(e2e.world.bnmp.registered) >= n

    await wait_for(enough, what=f"{n} BNMP registrations")


async def test_a_unit_sending_its_receipt_twice_changes_state_once(e2e: E2E) -> None:
    """Receipts sent twice (a copy and a new message) move the order once; no dead letter."""
    e2e.world.units.faults.duplicate_receipts = True
    o = order(7)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "certified")
    transitions = await e2e.fetch(
        "SELECT count(*) FROM audit_log WHERE action = 'order.transition' AND subject = $1"
        " AND detail->>'kind' = 'custodial_unit.receipt.acknowledged'",
        o.order_number,
    )
    duplicates = await e2e.fetch(
        "SELECT count(*) FROM audit_log WHERE action = 'message.duplicate' AND subject = $1",
        o.order_number,
    )
    assert transitions == 1
    assert duplicates == 1  # the new message with the same receipt; the copy never got that far
    assert await e2e.fetch("SELECT count(*) FROM dead_letters") == 0


async def test_setarim_answering_garbage_is_dead_lettered_with_the_reason(e2e: E2E) -> None:
    """A malformed SETARIM answer parks the delivery with reason malformed_answer."""
    e2e.world.setarim.faults.malformed = True
    o = order(8)
    await e2e.court_sends(o)

    async def parked() -> object:
        return await e2e.fetch("SELECT reason FROM dead_letters WHERE queue = 'hub.setarim.out'")

    assert await wait_for(parked, what="dead letter") == "malformed_answer"


async def test_bnmp_down_loses_nothing_and_completes_after_it_returns(e2e: E2E) -> None:
    """BNMP down: orders still reach SETARIM and the unit; its registrations wait, then complete."""
    e2e.world.bnmp.faults.down = True
    orders = [order(10 + i) for i in range(5)]
    for o in orders:
        await e2e.court_sends(o)
    for o in orders:
        await e2e.until_order(o.order_number, "complied_released")

    async def every_order_in_the_backlog() -> bool:
        # An outage longer than the client's in-process retries: a call still retrying when BNMP
        # returns would be made at once, before older deferred ones (README, "Not done yet").
        n = await e2e.fetch(
            "SELECT count(*) FROM deferred WHERE headers->>'x-hub-kind' = $1",
            "court.release_order.issued",
        )
        return bool(n == len(orders))

    await wait_for(every_order_in_the_backlog, what="all five registrations deferred")
    e2e.world.bnmp.faults.down = False
    for o in orders:
        await e2e.until_order(o.order_number, "certified", within=60)

    async def all_registered() -> bool:
        return bool(e2e.world.stats()["bnmp"]["effects"] == 10)  # 5 orders + 5 certificates

    await wait_for(all_registered, what="every document registered once")
    stats = e2e.world.stats()["bnmp"]
    assert stats["duplicate_attempts"] == 0
    registered_orders = [n for n in stats["order"] if n.startswith("release_order:")]
    assert registered_orders == sorted(registered_orders)  # in issue order
    assert await e2e.fetch("SELECT count(*) FROM dead_letters") == 0
