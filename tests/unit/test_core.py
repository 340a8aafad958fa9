"""The hub's decisions, pure: state changes, messages sent, deadlines and audit, from a sequence."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from contracts import BnmpDocumentType, ContractError, Envelope, IllegalTransition
from contracts.envelope import AnyPayload
from hub.domain.authority import Actor
from hub.domain.decide import Directory, Outcome, View, decide, reads_outages
from hub.domain.rows import WarrantRow
from hub.errors import OutOfOrder, Unroutable
from tests.factories import (
    COURT,
    T0,
    UNIT,
    WARRANT,
    make_alert,
    make_compliance,
    make_envelope,
    make_receipt,
    make_registration,
    make_release_order,
    make_revocation,
    make_validation,
    make_warrant,
    make_warrant_complied,
)

D = Directory(units=frozenset({UNIT}))
# the factories' documents come from this court (authority: tests/unit/test_authority.py)
COURT_ACTOR = Actor("court:RUPE:test", (COURT,))
NOW = T0 + timedelta(minutes=10)


def run(*payloads: AnyPayload, view: View | None = None) -> tuple[View, Outcome]:
    """Decide each payload in turn, as the engine does within one batch."""
    view = view or View()
    total = Outcome()
    for p in payloads:
        out = decide(make_envelope(p, message_id=uuid4()), view, NOW, D, COURT_ACTOR)
        view, total = view.merged(out), total + out
    return view, total


def complied_warrant(state: str = "complied") -> View:
    """A view in which the hub knows WARRANT in `state`."""
    row = WarrantRow(WARRANT, WARRANT[:25], "k", state, "preventive", None, None, "public", None)
    return View(warrants={WARRANT: row})


@pytest.mark.parametrize(
    ("steps", "state"),
    [
        ((make_release_order(),), "dispatched"),
        ((make_release_order(), make_receipt()), "received"),
        ((make_release_order(), make_validation()), "validated"),
        ((make_release_order(), make_validation(impeded=True)), "impeded"),
        ((make_release_order(), make_receipt(), make_validation()), "ready"),
        ((make_release_order(), make_validation(), make_receipt()), "ready"),
        (
            (make_release_order(), make_receipt(), make_validation(), make_compliance()),
            "complied_released",
        ),
        (
            (
                make_release_order(),
                make_receipt(),
                make_validation(impeded=True),
                make_compliance(released=False),
            ),
            "complied_not_released",
        ),
        (
            (
                make_release_order(),
                make_receipt(),
                make_validation(),
                make_compliance(),
                make_registration(document_type=BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE),
            ),
            "certified",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_release_order_flow(steps: tuple[AnyPayload, ...], state: str) -> None:
    """The order's state after each sequence of messages."""
    view, _ = run(*steps, view=complied_warrant())
    assert next(iter(view.orders.values())).state == state


def test_issuing_an_order_fans_out_opens_deadlines_and_revokes_the_covered_warrant() -> None:
    """BNMP, SETARIM and the unit get the order; receipt, validation, compliance clocks run."""
    view, out = run(make_release_order(), view=complied_warrant())
    assert [m.routing_keys for m in out.sends] == [
        ("hub.bnmp.out", "hub.setarim.out", f"hub.custodial_unit.{UNIT}.out")
    ]  # one message, published once to the three queues
    assert {d.kind for d in out.open_deadlines} == {
        "receipt",
        "validation",
        "compliance",
        "bnmp_registration",
    }
    compliance = next(d for d in out.open_deadlines if d.kind == "compliance")
    assert compliance.due_at - compliance.started_at == timedelta(hours=24)
    assert view.warrants[WARRANT].state == "revoked"
    assert [a.action for a in out.audit].count("message.sent") == 1


def test_impediments_are_referred_to_the_court_with_a_24_hour_deadline() -> None:
    """Impediments produce a referral to the court and the unit, and a regularisation clock."""
    _, out = run(make_release_order(), make_validation(impeded=True), view=complied_warrant())
    kinds = [(m.kind, key) for m in out.sends for key in m.routing_keys]
    assert ("hub.impediment.referred", "hub.court.out") in kinds
    assert ("hub.impediment.referred", f"hub.custodial_unit.{UNIT}.out") in kinds
    assert "impediment_regularisation" in {d.kind for d in out.open_deadlines}


def test_a_receipt_satisfies_its_deadline_and_goes_to_the_court() -> None:
    """The unit's receipt closes the receipt deadline and is forwarded to the court."""
    _, out = run(make_release_order(), make_receipt(), view=complied_warrant())
    assert "receipt" in {s[1] for s in out.satisfied}
    assert out.sends[-1].routing_keys == ("hub.court.out",)


def test_the_same_order_twice_is_a_duplicate_not_a_change() -> None:
    """Re-sending an identical order changes nothing and is audited as a duplicate."""
    view, _ = run(make_release_order(), view=complied_warrant())
    again, out = run(make_release_order(), view=view)
    assert again.orders == view.orders
    assert out.sends == ()
    assert [a.action for a in out.audit] == ["message.duplicate"]


def test_the_same_order_number_with_other_content_is_refused() -> None:
    """An order number re-used with other content needs a new document, not an overwrite."""
    view, _ = run(make_release_order(), view=complied_warrant())
    with pytest.raises(ContractError) as e:
        run(make_release_order(judge="Outro Juiz"), view=view)
    assert e.value.reason == "conflicting_duplicate"


@pytest.mark.parametrize(
    ("state", "reason"),
    [("pending", "invalid_release_basis"), ("revoked", "invalid_release_basis")],
)
def test_release_of_a_warrant_that_is_not_complied_is_refused(state: str, reason: str) -> None:
    """A pending warrant needs a counter-warrant; a revoked one cannot be released again."""
    with pytest.raises(ContractError) as e:
        run(make_release_order(), view=complied_warrant(state))
    assert e.value.reason == reason


def test_messages_about_an_unknown_order_are_refused() -> None:
    """A receipt for an order the hub never saw is an illegal transition."""
    with pytest.raises(IllegalTransition) as e:
        run(make_receipt())
    assert e.value.reason == "unknown_order"


def test_a_unit_may_not_answer_for_an_order_sent_elsewhere() -> None:
    """A receipt from a unit other than the order's is refused."""
    view, _ = run(make_release_order(), view=complied_warrant())
    with pytest.raises(ContractError) as e:
        run(make_receipt(unit="mg.ceresp-bh"), view=view)
    assert e.value.reason == "wrong_unit"


def test_an_order_for_a_unit_not_connected_is_unroutable() -> None:
    """The hub refuses an order it cannot deliver, instead of holding it silently."""
    with pytest.raises(Unroutable):
        run(make_release_order(custodial_unit="mg.elsewhere"), view=complied_warrant())


@pytest.mark.parametrize(
    ("steps", "state"),
    [
        ((make_warrant(),), "pending"),
        ((make_warrant(), make_warrant_complied()), "complied"),
        ((make_warrant(), make_revocation()), "revoked"),
    ],
    ids=["issued", "complied", "counter-warrant"],
)
def test_warrant_flow(steps: tuple[AnyPayload, ...], state: str) -> None:
    """The warrant's state after each sequence."""
    view, _ = run(*steps)
    assert view.warrants[WARRANT].state == state


def test_a_counter_warrant_against_a_complied_warrant_is_refused() -> None:
    """A complied warrant needs a release order (domain 7.6)."""
    view, _ = run(make_warrant(), make_warrant_complied())
    with pytest.raises(IllegalTransition) as e:
        run(make_revocation(), view=view)
    assert e.value.reason == "release_order_needed"


def test_warrants_are_projected_by_a_keyed_hash_never_by_cpf() -> None:
    """The open-warrants projection joins on a keyed hash; the CPF is not stored."""
    view, _ = run(make_warrant())
    key = view.warrants[WARRANT].person_key
    assert "12345678909" not in key
    assert len(key) == 40


def test_an_alert_is_sent_to_the_court_and_marked() -> None:
    """A deadline alert goes to the court and is recorded against its deadline."""
    view, _ = run(make_release_order(), view=complied_warrant())
    _, out = run(make_alert(), view=view)
    assert [m.routing_keys for m in out.sends] == [("hub.court.out",)]
    assert len(out.alerted) == 1


@pytest.mark.parametrize(
    "payload", [make_revocation(), make_warrant_complied()], ids=lambda p: p.kind
)
def test_news_of_a_warrant_not_seen_yet_waits_for_it(payload: AnyPayload) -> None:
    """A counter-warrant or compliance that overtook its warrant is retried, not parked at once."""
    with pytest.raises(OutOfOrder):
        run(payload)
    view, _ = run(make_warrant())
    run(payload, view=view)  # once the warrant is there, it applies


def test_a_late_copy_of_the_receipt_after_compliance_is_a_duplicate() -> None:
    """A receipt reaching the hub after the compliance, timestamped before it, changes nothing."""
    steps = (make_release_order(), make_receipt(), make_validation(), make_compliance())
    view, _ = run(*steps, view=complied_warrant())
    again, out = run(make_receipt(), view=view)
    assert again.orders == view.orders
    assert [a.action for a in out.audit] == ["message.duplicate"]


def test_a_receipt_timestamped_after_the_compliance_is_an_impossible_timeline() -> None:
    """Domain 7.12: acknowledgement after compliance, judged on the documents' times."""
    steps = (make_release_order(), make_receipt(), make_validation(), make_compliance())
    view, _ = run(*steps, view=complied_warrant())
    with pytest.raises(ContractError) as e:
        run(make_receipt(received_at=T0 + timedelta(hours=3)), view=view)
    assert e.value.reason == "impossible_timeline"


@pytest.mark.parametrize(
    ("payload", "reads"),
    [
        (make_release_order(), True),  # contingency: issued more than 60 min into an outage
        (make_warrant(), False),
        (make_receipt(), False),
        (make_validation(), False),
        (make_compliance(), False),
        (make_alert(), False),
    ],
    ids=lambda v: getattr(v, "kind", None),
)
def test_only_release_orders_read_bnmp_outages(payload: AnyPayload, reads: bool) -> None:
    """The engine loads BNMP's outages only for a batch with a decision that reads them."""
    assert reads_outages(make_envelope(payload)) is reads


def test_a_decision_that_does_not_read_outages_is_the_same_without_them() -> None:
    """What `reads_outages` leaves out really does not depend on them."""
    view, _ = run(make_release_order(), view=complied_warrant())
    in_outage = View(view.orders, view.warrants, ((T0 - timedelta(hours=3), None),))
    for p in (make_warrant(), make_receipt(), make_validation(), make_compliance()):
        env = make_envelope(p)
        assert not reads_outages(env)
        assert _decided(env, view) == _decided(env, in_outage), p.kind


def _decided(env: Envelope, view: View) -> object:
    try:
        return decide(env, view, NOW, D, COURT_ACTOR)
    except Exception as e:
        return (type(e), str(e))
