"""BNMP as the register of record, in the hub's decisions (pure): warrants first seen in BNMP's
reports, the compliance flip (R417 art.12 sole §), impediments lifted when a warrant leaves force,
drift reported and not refused, and what the hub does not know refused into the dead letters."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from uuid import uuid4

import pytest

from contracts import ContractError, Person, Secrecy
from contracts.envelope import AnyPayload
from hub.domain.authority import Actor
from hub.domain.decide import Directory, Outcome, View, decide, keys_for
from hub.domain.rows import WarrantRow
from hub.errors import OutOfOrder
from tests.factories import (
    COURT,
    OTHER_PROCESS,
    OTHER_WARRANT,
    PERSON,
    PROCESS,
    T0,
    UNIT,
    WARRANT,
    make_envelope,
    make_impediment,
    make_receipt,
    make_release_order,
    make_unrecognised,
    make_validation,
    make_warrant_complied,
    make_warrant_expired,
    make_warrant_recorded,
)

D = Directory(units=frozenset({UNIT}))
COURT_ACTOR = Actor("court:RUPE:test", (COURT,))  # who sends the factories' court documents
NOW = T0 + timedelta(hours=1)
KEY = D.person_key(Person.model_validate(PERSON))
THIRD = f"{OTHER_PROCESS}.0002"  # another warrant of the same process as OTHER_WARRANT


def run(*payloads: AnyPayload, view: View | None = None) -> tuple[View, Outcome]:
    """Decide each payload in turn, as the engine does within one batch; a court's documents as
    sent by the court that issued them."""
    view = view or View()
    total = Outcome()
    for p in payloads:
        env = make_envelope(p, message_id=uuid4())
        actor = COURT_ACTOR if p.kind.startswith("court.") else None
        out = decide(env, view, NOW, D, actor) if actor else decide(env, view, NOW, D)
        view, total = view.merged(out), total + out
    return view, total


def warrant(number: str, state: str, person_key: str = KEY) -> WarrantRow:
    """A warrant the hub already keeps."""
    return WarrantRow(number, number[:25], person_key, state, None, None, COURT, "public", None)


def known(*rows: WarrantRow) -> View:
    return View(warrants={r.warrant_number: r for r in rows})


def _routes(out: Outcome) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.kind, m.routing_keys) for m in out.sends]


# ---------------------------------------------------------------- first sight


@pytest.mark.parametrize(
    ("payload", "state", "routes"),
    [
        pytest.param(
            make_warrant_recorded(),
            "pending",
            [("bnmp.warrant.recorded", ("hub.setarim.out",))],
            id="issued-in-bnmp",
        ),
        pytest.param(
            make_warrant_recorded(status="revoked"),
            "revoked",
            [("bnmp.warrant.recorded", ("hub.setarim.out",))],
            id="revoked-in-bnmp",
        ),
        pytest.param(
            make_warrant_complied(warrant_number=OTHER_WARRANT, person=PERSON),
            "complied",
            [("bnmp.warrant.complied", ("hub.setarim.out",))],
            id="complied-by-the-police",
        ),
        pytest.param(
            make_warrant_expired(warrant_number=OTHER_WARRANT, person=PERSON),
            "expired",
            [("bnmp.warrant.expired", ("hub.setarim.out",))],
            id="expired",
        ),
    ],
)
def test_a_warrant_first_seen_in_bnmp_becomes_the_hubs_own_record(
    payload: AnyPayload, state: str, routes: list[tuple[str, tuple[str, ...]]]
) -> None:
    """A warrant the hub never carried, reported by BNMP with its person: the hub keeps it, keyed
    on the person like its own (so it is an impediment like any other), and SETARIM records it.
    No court is told: none sent it through the hub, and its court reads BNMP."""
    view, out = run(payload)
    row = view.warrants[OTHER_WARRANT]
    assert (row.state, row.origin, row.person_key, row.process_number) == (
        state,
        "bnmp",
        KEY,
        OTHER_PROCESS,
    )
    assert _routes(out) == routes
    transition = next(a for a in out.audit if a.action == "warrant.transition")
    assert (transition.detail["from"], transition.detail["to"], transition.detail["origin"]) == (
        None,
        state,
        "bnmp",
    )


def test_bnmp_compliance_of_a_warrant_it_does_not_name_the_person_of_waits() -> None:
    """Without the person the hub cannot keep the warrant: it waits for the warrant (retried)."""
    with pytest.raises(OutOfOrder):
        run(make_warrant_complied(warrant_number=OTHER_WARRANT))


def test_a_secret_warrant_first_seen_is_withheld_from_setarim() -> None:
    """A sigiloso warrant (R417 art.34) is kept as secret and never reaches SETARIM."""
    view, out = run(make_warrant_recorded(secrecy=Secrecy.SECRET))
    assert view.warrants[OTHER_WARRANT].secrecy == "secret"
    assert out.sends == ()
    assert [a.action for a in out.audit] == ["warrant.transition", "message.withheld"]


def test_bnmp_reporting_a_warrant_the_hub_keeps_as_it_is_changes_nothing() -> None:
    """BNMP echoes a warrant the hub registered: a duplicate, audited, nothing sent."""
    view = known(warrant(OTHER_WARRANT, "pending"))
    after, out = run(make_warrant_recorded(), view=view)
    assert after.warrants == view.warrants
    assert out.sends == ()
    assert [a.action for a in out.audit] == ["message.duplicate"]


@pytest.mark.parametrize(
    ("origin", "routes"),
    [
        pytest.param("hub", ("hub.court.out", "hub.setarim.out"), id="carried-by-the-hub"),
        pytest.param("bnmp", ("hub.setarim.out",), id="issued-in-bnmp"),
    ],
)
def test_the_court_hears_of_the_warrants_it_sent_through_the_hub(
    origin: str, routes: tuple[str, ...]
) -> None:
    """BNMP's news of a warrant goes to the court only when that court sent it through the hub."""
    row = dataclasses.replace(warrant(OTHER_WARRANT, "pending"), origin=origin)
    _, out = run(make_warrant_expired(warrant_number=OTHER_WARRANT), view=known(row))
    assert _routes(out) == [("bnmp.warrant.expired", routes)]


# ---------------------------------------------------------------- BNMP wins, or drift


@pytest.mark.parametrize(
    ("state", "payload", "after"),
    [
        pytest.param("pending", make_warrant_recorded(status="revoked"), "revoked", id="counter"),
        pytest.param("complied", make_warrant_recorded(status="revoked"), "revoked", id="release"),
        pytest.param("complied", make_warrant_recorded(), "pending", id="certificate-annulled"),
        pytest.param(
            "pending", make_warrant_expired(warrant_number=OTHER_WARRANT), "expired", id="expiry"
        ),
    ],
)
def test_what_bnmp_reports_applies(state: str, payload: AnyPayload, after: str) -> None:
    """BNMP is the register: its revocations, annulments and expiries apply to the hub's record."""
    view, out = run(payload, view=known(warrant(OTHER_WARRANT, state)))
    assert view.warrants[OTHER_WARRANT].state == after
    assert out.audit[0].action == "warrant.transition"


@pytest.mark.parametrize(
    ("state", "payload"),
    [
        pytest.param(
            "revoked",
            make_warrant_complied(warrant_number=OTHER_WARRANT),
            id="complied-after-revocation",
        ),
        pytest.param("expired", make_warrant_recorded(), id="pending-after-expiry"),
        pytest.param(
            "complied", make_warrant_expired(warrant_number=OTHER_WARRANT), id="complied-expires"
        ),
    ],
)
def test_bnmp_contradicting_the_hub_is_drift_reported_not_refused(
    state: str, payload: AnyPayload
) -> None:
    """A report no rule leads to: the hub keeps its record, audits the drift for the
    reconciliation and the operators, and refuses nothing (BNMP is the register of record)."""
    view = known(warrant(OTHER_WARRANT, state))
    after, out = run(payload, view=view)
    assert after.warrants == view.warrants
    assert out.sends == ()
    assert [(a.action, a.subject) for a in out.audit] == [("warrant.drift", OTHER_WARRANT)]


# ---------------------------------------------------------------- the compliance flip


def test_a_compliance_makes_the_persons_other_pending_warrants_complied() -> None:
    """R417 art.12 sole §: the person's other pending warrants become complied; revoked ones and
    another person's warrants stay as they are."""
    someone_else = f"{PROCESS}.0009"
    view = known(
        warrant(OTHER_WARRANT, "pending"),
        warrant(THIRD, "pending"),
        warrant(WARRANT, "revoked"),
        warrant(someone_else, "pending", person_key="another-person"),
    )
    after, out = run(make_warrant_complied(warrant_number=OTHER_WARRANT), view=view)
    assert {n: w.state for n, w in after.warrants.items()} == {
        OTHER_WARRANT: "complied",
        THIRD: "complied",
        WARRANT: "revoked",
        someone_else: "pending",
    }
    flipped = [a for a in out.audit if a.subject == THIRD]
    assert [(a.action, a.detail["from"], a.detail["to"]) for a in flipped] == [
        ("warrant.transition", "pending", "complied")
    ]
    assert "R417 art.12 sole §" in flipped[0].detail["cause"]


def test_after_the_flip_an_order_covers_some_warrants_and_the_rest_stay_impediments() -> None:
    """The order may now cover a flipped warrant (it is complied, not pending); the warrant it
    does not cover stays in force: an impediment."""
    view = known(warrant(WARRANT, "pending"), warrant(OTHER_WARRANT, "pending"))
    view, _ = run(make_warrant_complied(warrant_number=OTHER_WARRANT), view=view)
    after, _ = run(make_release_order(covered_warrants=(WARRANT,)), view=view)
    assert after.warrants[WARRANT].state == "revoked"
    assert after.warrants[OTHER_WARRANT].state == "complied"


def test_without_the_flip_the_same_order_is_refused() -> None:
    """The counterpart: covering a warrant still pending needs a counter-warrant (7.5)."""
    view = known(warrant(WARRANT, "pending"), warrant(OTHER_WARRANT, "complied"))
    with pytest.raises(ContractError) as e:
        run(make_release_order(covered_warrants=(WARRANT,)), view=view)
    assert e.value.reason == "invalid_release_basis"


# ---------------------------------------------------------------- impediments lifted


def _impeded(*impediments: str) -> View:
    """An order the unit received, which SETARIM impeded with these warrants (known, pending)."""
    listed = tuple(make_impediment(warrant_number=w, process_number=w[:25]) for w in impediments)
    view = known(warrant(WARRANT, "complied"), *(warrant(w, "pending") for w in impediments))
    view, _ = run(
        make_release_order(),
        make_receipt(),
        make_validation(impediments=listed),
        view=view,
    )
    return view


def test_setarims_impediments_are_kept_on_the_order() -> None:
    """The certificate's impediments are kept, so that one leaving force finds its orders."""
    view = _impeded(OTHER_WARRANT, THIRD)
    order = next(iter(view.orders.values()))
    assert (order.state, order.impediments) == ("ready_impeded", (OTHER_WARRANT, THIRD))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(make_warrant_expired(warrant_number=OTHER_WARRANT), id="expired"),
        pytest.param(make_warrant_recorded(status="revoked"), id="revoked-in-bnmp"),
    ],
)
def test_the_last_impediment_leaving_force_sends_the_order_back_to_setarim(
    payload: AnyPayload,
) -> None:
    """The order's only impediment expires or is revoked in BNMP: the projection drops it, and
    SETARIM validates the order again (S000 art.4 §2); the court is told."""
    view, out = run(payload, view=_impeded(OTHER_WARRANT))
    order = next(iter(view.orders.values()))
    assert (order.state, order.impediments) == ("ready_impeded", ())
    lifted = [m for m in out.sends if m.kind == "hub.impediment.lifted"]
    assert [m.routing_keys for m in lifted] == [("hub.setarim.out", "hub.court.out")]
    assert lifted[0].correlation_id == order.order_number


def test_a_cleared_certificate_after_the_lift_lets_the_release_proceed() -> None:
    """SETARIM's new certificate, with nothing in force, makes the order ready: the unit may
    release the person."""
    view, _ = run(make_warrant_expired(warrant_number=OTHER_WARRANT), view=_impeded(OTHER_WARRANT))
    after, _ = run(make_validation(certificate_number="SETARIM-2024-000124"), view=view)
    assert next(iter(after.orders.values())).state == "ready"


def test_with_impediments_left_the_lift_only_tells_the_court() -> None:
    """One of two impediments leaves force: the other still keeps the person; SETARIM has
    nothing to validate again yet."""
    view, out = run(
        make_warrant_expired(warrant_number=OTHER_WARRANT), view=_impeded(OTHER_WARRANT, THIRD)
    )
    order = next(iter(view.orders.values()))
    assert order.impediments == (THIRD,)
    lifted = [m.routing_keys for m in out.sends if m.kind == "hub.impediment.lifted"]
    assert lifted == [("hub.court.out",)]


def test_a_compliance_lifts_nothing() -> None:
    """A complied warrant still keeps the person detained: it stays an impediment."""
    view, out = run(
        make_warrant_complied(warrant_number=OTHER_WARRANT), view=_impeded(OTHER_WARRANT)
    )
    assert next(iter(view.orders.values())).impediments == (OTHER_WARRANT,)
    assert "hub.impediment.lifted" not in [m.kind for m in out.sends]


# ---------------------------------------------------------------- what the hub does not know


def test_what_bnmp_reports_that_the_hub_does_not_know_is_refused_for_an_operator() -> None:
    """Never applied, never ignored: refused with its own reason, so it is dead-lettered."""
    with pytest.raises(ContractError, match="'Suspenso'") as e:
        run(make_unrecognised())
    assert e.value.reason == "unrecognised_bnmp_change"


@pytest.mark.parametrize(
    ("payload", "keys"),
    [
        pytest.param(make_warrant_recorded(), (set(), {OTHER_WARRANT}), id="recorded"),
        pytest.param(make_unrecognised(), (set(), {WARRANT}), id="unrecognised"),
    ],
)
def test_keys_for_bnmp_reports(payload: AnyPayload, keys: tuple[set[str], set[str]]) -> None:
    """A report reads its warrant (the store adds the person's others and the orders it
    impedes); what the hub does not know names the document it is about (operators' views and
    replays find it by that)."""
    assert keys_for(make_envelope(payload)) == keys
