"""The replay verdict is a table: the business state decides whether a dead letter may go again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from contracts import ContractError, Envelope
from contracts.envelope import AnyPayload
from hub.domain.retry import ATTEMPT_HEADER
from hub.domain.topology import RETRY_LEVEL_HEADER, build_topology, unit_queue
from hub.ops.replay import (
    EDITED_FROM,
    REPLAY_OF,
    REPLAYED_BY,
    Known,
    OrderFacts,
    SentFacts,
    WarrantFacts,
    parse_body,
    replay_headers,
    replay_verdict,
)
from tests.factories import (
    ORDER,
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
)

WORK = build_topology((UNIT,), (1.0,)).work_queues()
UNIT_Q = unit_queue(UNIT)
DOC = make_release_order().model_dump(mode="json")
OTHER_DOC = make_release_order(conditions="comparecer mensalmente").model_dump(mode="json")


def order(state: str, *, bnmp_id: str | None = None, doc: dict[str, Any] = DOC) -> Known:
    """Known rows with the default order in `state` (and its covered warrant complied)."""
    return Known(
        orders={ORDER: OrderFacts(state, doc, bnmp_id)},
        warrants={WARRANT: WarrantFacts("revoked")},
    )


def warrant(state: str, *, bnmp_id: str | None = None) -> Known:
    """Known rows with the default warrant in `state`."""
    return Known(warrants={WARRANT: WarrantFacts(state, bnmp_id)})


NOTHING = Known()
# The lifecycle's own reason codes are its business: for those rows any refusal will do.
REFUSED = "<refused by the lifecycle>"
COMPLIED_WARRANT = warrant("complied")


def verdict(payload: AnyPayload, queue: str, known: Known, status: str = "parked") -> str:
    """The verdict's code for a parked dead letter of `payload` that failed in `queue` (an
    outbound one as the hub's outbox sent it there, unless `known` says what the outbox holds)."""
    env = make_envelope(payload)
    body = env.to_bytes()
    if not queue.endswith(".in") and known.sent is None:
        known = replace(known, sent=SentFacts(body, frozenset({queue})))
    return replay_verdict(
        status=status, queue=queue, parsed=env, body=body, known=known, work_queues=WORK
    ).code


def matches(code: str, expected: str) -> bool:
    """Whether a verdict code is the expected one (REFUSED: any refusal)."""
    return code != "ok" if expected == REFUSED else code == expected


INBOUND = [
    ("new release order", make_release_order(), "hub.court.in", COMPLIED_WARRANT, "ok"),
    ("order known, same doc", make_release_order(), "hub.court.in", order("dispatched"),
     "already_applied"),
    ("order known, other doc", make_release_order(), "hub.court.in",
     order("dispatched", doc=OTHER_DOC), "superseded"),
    ("covered warrant revoked", make_release_order(), "hub.court.in", warrant("revoked"),
     "invalid_release_basis"),
    ("covered warrant pending", make_release_order(), "hub.court.in", warrant("pending"),
     "invalid_release_basis"),
    ("receipt, dispatched", make_receipt(), "hub.custodial_unit.in", order("dispatched"), "ok"),
    ("receipt, unknown order", make_receipt(), "hub.custodial_unit.in", NOTHING,
     REFUSED),
    ("receipt after compliance", make_receipt(), "hub.custodial_unit.in",
     order("complied_released"), REFUSED),
    ("compliance, ready", make_compliance(), "hub.custodial_unit.in", order("ready"), "ok"),
    ("compliance again", make_compliance(), "hub.custodial_unit.in",
     order("complied_released"), "already_applied"),
    ("compliance before validation", make_compliance(), "hub.custodial_unit.in",
     order("received"), REFUSED),
    ("validation, dispatched", make_validation(), "hub.setarim.in", order("dispatched"), "ok"),
    ("counter-warrant, pending", make_revocation(), "hub.court.in", warrant("pending"), "ok"),
    ("counter-warrant, revoked", make_revocation(), "hub.court.in", warrant("revoked"),
     "already_applied"),
    ("counter-warrant, complied", make_revocation(), "hub.court.in", warrant("complied"),
     REFUSED),
    ("warrant again", make_warrant(), "hub.court.in", warrant("pending"), "already_applied"),
    ("new warrant", make_warrant(), "hub.court.in", NOTHING, "ok"),
    ("registration, certified", make_registration(), "hub.bnmp.in", order("certified"), "ok"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "queue", "known", "expected"),
    [case[1:] for case in INBOUND],
    ids=[case[0] for case in INBOUND],
)
def test_inbound_replay_dry_runs_the_lifecycle(
    payload: AnyPayload, queue: str, known: Known, expected: str
) -> None:
    """A message the hub has not applied yet may go again only if the lifecycle accepts it now."""
    assert matches(verdict(payload, queue, known), expected)


OUTBOUND = [
    ("warrant to BNMP, pending", make_warrant(), "hub.bnmp.out", warrant("pending"), "ok"),
    ("warrant to BNMP, revoked", make_warrant(), "hub.bnmp.out", warrant("revoked"),
     "warrant_revoked"),
    ("warrant to SETARIM, expired", make_warrant(), "hub.setarim.out", warrant("expired"),
     "warrant_expired"),
    ("warrant to BNMP, registered", make_warrant(), "hub.bnmp.out",
     warrant("pending", bnmp_id="B-1"), "already_registered"),
    ("warrant to SETARIM, registered", make_warrant(), "hub.setarim.out",
     warrant("pending", bnmp_id="B-1"), "ok"),
    ("counter-warrant to BNMP, revoked", make_revocation(), "hub.bnmp.out", warrant("revoked"),
     "ok"),
    ("order to BNMP", make_release_order(), "hub.bnmp.out", order("dispatched"), "ok"),
    ("order to BNMP, registered", make_release_order(), "hub.bnmp.out",
     order("dispatched", bnmp_id="B-2"), "already_registered"),
    ("order to BNMP, superseded", make_release_order(), "hub.bnmp.out",
     order("dispatched", doc=OTHER_DOC), "superseded"),
    ("order to unit", make_release_order(), UNIT_Q, order("validated"), "ok"),
    ("order to unit, received", make_release_order(), UNIT_Q, order("ready"),
     "already_received"),
    ("order to unit, complied", make_release_order(), UNIT_Q, order("complied_not_released"),
     "already_complied"),
    ("order to unit, certified", make_release_order(), UNIT_Q, order("certified"),
     "order_closed"),
    ("order to SETARIM, validated", make_release_order(), "hub.setarim.out",
     order("impeded"), "already_validated"),
    ("order to SETARIM, received", make_release_order(), "hub.setarim.out", order("received"),
     "ok"),
    ("validation to court, certified", make_validation(), "hub.court.out",
     order("certified"), "ok"),
    ("validation to unit, complied", make_validation(), UNIT_Q, order("complied_released"),
     "already_complied"),
    ("certificate to BNMP, complied", make_compliance(), "hub.bnmp.out",
     order("complied_released"), "ok"),
    ("certificate to BNMP, certified", make_compliance(), "hub.bnmp.out", order("certified"),
     "order_closed"),
    ("order the hub lost", make_release_order(), "hub.bnmp.out", NOTHING, "unknown_subject"),
    ("alert, deadline open", make_alert(), "hub.court.out",
     Known(open_deadlines=frozenset({(ORDER, "compliance")})), "ok"),
    ("alert, deadline met", make_alert(), "hub.court.out", NOTHING, "moot"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "queue", "known", "expected"),
    [case[1:] for case in OUTBOUND],
    ids=[case[0] for case in OUTBOUND],
)
def test_outbound_replay_is_refused_when_the_delivery_is_no_longer_right(
    payload: AnyPayload, queue: str, known: Known, expected: str
) -> None:
    """A re-delivery is refused once its subject is closed, superseded or already served."""
    assert verdict(payload, queue, known) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("parked", "ok"), ("archived", "archived"), ("replayed", "already_replayed")],
)
def test_only_parked_dead_letters_are_replayed(status: str, expected: str) -> None:
    """An archived letter must be restored first; a replayed one comes back if it fails again."""
    assert verdict(make_warrant(), "hub.bnmp.out", warrant("pending"), status) == expected


def test_a_queue_the_hub_does_not_have_is_refused() -> None:
    """A dead letter from a queue that is no longer in the topology has nowhere to go."""
    gone = unit_queue("mg.closed-unit")
    assert verdict(make_release_order(), gone, order("dispatched")) == "unknown_queue"


def test_an_unparseable_body_needs_an_edit() -> None:
    """A body that is not a valid message is refused with its contract reason named."""
    parsed = parse_body(b'{"kind": "court.release_order.issued"')
    assert isinstance(parsed, ContractError)
    v = replay_verdict(
        status="parked",
        queue="hub.court.in",
        parsed=parsed,
        body=b"",
        known=NOTHING,
        work_queues=WORK,
    )
    assert (v.allowed, v.code) == (False, "unparseable")
    assert "malformed_json" in v.why
    assert "edit-and-replay" in v.why


def test_the_refusal_names_the_revocation() -> None:
    """Refusing a revoked warrant's delivery says why in words an operator understands."""
    env = make_envelope(make_warrant())
    sent = SentFacts(env.to_bytes(), frozenset({"hub.bnmp.out"}))
    v = replay_verdict(
        status="parked",
        queue="hub.bnmp.out",
        parsed=env,
        body=env.to_bytes(),
        known=replace(warrant("revoked"), sent=sent),
        work_queues=WORK,
    )
    assert not v.allowed
    assert "revoked" in v.why
    assert "unlawful arrest" in v.why


SENT = make_envelope(make_warrant())
OTHER = make_envelope(make_warrant(), secrecy="secret")


@pytest.mark.parametrize(
    ("sent", "queue", "body", "expected"),
    [
        (SentFacts(SENT.to_bytes(), frozenset({"hub.bnmp.out"})), "hub.bnmp.out", SENT, "ok"),
        (SentFacts(SENT.to_bytes(), frozenset({"hub.bnmp.out", "hub.setarim.out"})),
         "hub.setarim.out", SENT, "ok"),
        (None, "hub.bnmp.out", SENT, "not_sent_by_hub"),
        (SentFacts(SENT.to_bytes(), frozenset({"hub.bnmp.out"})), "hub.setarim.out", SENT,
         "not_sent_there"),
        (SentFacts(SENT.to_bytes(), frozenset({"hub.bnmp.out"})), "hub.bnmp.out", OTHER,
         "not_as_sent"),
    ],
    ids=["as sent", "sent there in cc", "not in the outbox", "another queue", "other bytes"],
)  # fmt: skip
def test_an_outbound_replay_is_what_the_outbox_holds(
    sent: SentFacts | None, queue: str, body: Envelope, expected: str
) -> None:
    """Only the hub's own message, sent to that queue with those bytes, goes out again: a body
    someone else put in a dead-letter queue, or an edited copy, never reaches BNMP or SETARIM."""
    v = replay_verdict(
        status="parked",
        queue=queue,
        parsed=body,
        body=body.to_bytes(),
        known=Known(warrants={WARRANT: WarrantFacts("pending")}, sent=sent),
        work_queues=WORK,
    )
    assert v.code == expected


def test_parse_body_returns_the_envelope() -> None:
    """A valid body parses to the envelope it carries."""
    env = make_envelope(make_receipt())
    assert isinstance(parse_body(env.to_bytes()), Envelope)


def test_replay_headers_drop_the_failure_and_link_the_replay() -> None:
    """A replay carries the original headers minus the failure's, attempt 0, and its links."""
    stored = {
        "x-hub-kind": "court.release_order.issued",
        "x-hub-error-reason": "upstream_rejected",
        "x-hub-failed-queue": "hub.bnmp.out",
        "x-first-death-reason": "delivery_limit",
        "x-delivery-count": 4,
        RETRY_LEVEL_HEADER: "5s",
        ATTEMPT_HEADER: 2,
    }
    headers = replay_headers(stored, 17, "ops:ana")
    assert headers == {
        "x-hub-kind": "court.release_order.issued",
        ATTEMPT_HEADER: 0,
        REPLAY_OF: "17",
        REPLAYED_BY: "ops:ana",
    }
    edited = replay_headers(stored, 17, "ops:root", edited_from="m-1")
    assert edited[EDITED_FROM] == "m-1"
