"""Authority, not just identity: a court may issue only for itself and change only the warrants it
(or a court competent over it) issued; refusals name the authenticated actor."""

from __future__ import annotations

from uuid import uuid4

import pytest

from connectors.court.signing import CourtSigner, court_actor, trusted_keys
from contracts import ContractError
from contracts.envelope import AnyPayload
from hub.domain.authority import Actor, covers, may_change
from hub.domain.decide import Directory, View, decide
from hub.domain.rows import WarrantRow
from hub.domain.sender import Inbound, Sender
from hub.settings import SecuritySettings
from tests.factories import (
    COURT,
    T0,
    UNIT,
    WARRANT,
    make_envelope,
    make_release_order,
    make_revocation,
    make_warrant,
)

TJMG = Actor("court:RUPE:rupe", ("tjmg.*",))
VEP = Actor("court:RUPE:vep", (COURT,))  # the factories' court, tjmg.vep-bh
PJE = Actor("court:PJE:pje", ("tjpe.vara-1",))
PLENARY = Actor("court:PJE:plenary", ("tjpe.pleno",))
COMPETENCE = {"tjpe.pleno": ("tjmg.vep-bh",)}  # a (made-up) court competent over the VEP's warrants


@pytest.mark.parametrize(
    ("pattern", "court", "covered"),
    [
        ("tjmg.vep-bh", "tjmg.vep-bh", True),
        ("tjmg.vep-bh", "tjmg.vep-bh2", False),
        ("tjmg.*", "tjmg.vep-bh", True),
        ("tjmg.*", "tjmgx.vep-bh", False),  # the dot is part of the tribunal
        ("tjmg.*", "tjpe.vara-1", False),
        ("*", "tjpe.vara-1", True),
    ],
)
def test_court_patterns(pattern: str, court: str, covered: bool) -> None:
    """A pattern names one court unit, a tribunal's units, or every court."""
    assert covers(pattern, court) is covered


@pytest.mark.parametrize(
    ("actor", "warrant_court", "allowed"),
    [
        (VEP, COURT, True),  # its own warrant
        (TJMG, COURT, True),  # a key for the whole tribunal
        (PJE, COURT, False),  # another tribunal's key
        (PLENARY, COURT, True),  # configured as competent over it
        (PLENARY, "tjmg.vara-2", False),  # competent over the VEP only
        (PJE, None, True),  # the hub never learnt the issuing court: not checkable
        (Actor("hub"), COURT, False),  # the hub speaks for no court
    ],
    ids=["own", "tribunal", "other", "competent", "not-competent", "unknown", "hub"],
)
def test_who_may_change_a_warrant(actor: Actor, warrant_court: str | None, allowed: bool) -> None:
    """The issuing court, or a court configured as competent over it (R417 art.6 §1)."""
    assert may_change(actor, warrant_court, COMPETENCE) is allowed


def _row(court: str | None, state: str = "complied") -> WarrantRow:
    return WarrantRow(WARRANT, WARRANT[:25], "k", state, "preventive", None, court, "public", None)


def _decide(payload: AnyPayload, actor: Actor, court: str | None = COURT, state: str = "complied"):
    view = View(warrants={WARRANT: _row(court, state)})
    directory = Directory(units=frozenset({UNIT}), competence=COMPETENCE)
    return decide(make_envelope(payload, message_id=uuid4()), view, T0, directory, actor)


@pytest.mark.parametrize(
    ("payload", "actor", "state", "refused"),
    [
        (make_release_order(), VEP, "complied", None),
        (make_release_order(), PJE, "complied", "does not speak for tjmg.vep-bh"),
        # PJe issuing for its own court, covering TJMG's warrant: not its warrant to release on
        (make_release_order(issuing_court="tjpe.vara-1"), PJE, "complied", "may not release"),
        (make_revocation(), VEP, "pending", None),
        (make_revocation(), PJE, "pending", "does not speak for tjmg.vep-bh"),
        (make_revocation(issuing_court="tjpe.vara-1"), PJE, "pending", "may not revoke"),
        (make_revocation(issuing_court="tjpe.pleno"), PLENARY, "pending", None),
        (make_warrant(), VEP, None, None),
        (make_warrant(), PJE, None, "does not speak for tjmg.vep-bh"),
    ],
    ids=[
        "order-own",
        "order-for-another-court",
        "order-over-another-courts-warrant",
        "revoke-own",
        "revoke-for-another-court",
        "revoke-another-courts-warrant",
        "revoke-as-competent-court",
        "warrant-own",
        "warrant-for-another-court",
    ],
)
def test_court_documents_need_authority(
    payload: AnyPayload, actor: Actor, state: str | None, refused: str | None
) -> None:
    """Each court document is refused `no_authority` unless its signer may say it."""
    view_state = state or "pending"
    if refused is None:
        out = _decide(payload, actor, state=view_state) if state else _decide_new(payload, actor)
        assert out.audit
        return
    with pytest.raises(ContractError, match=refused) as caught:
        _decide(payload, actor, state=view_state) if state else _decide_new(payload, actor)
    assert caught.value.reason == "no_authority"
    assert actor.name in str(caught.value)


def _decide_new(payload: AnyPayload, actor: Actor):
    directory = Directory(units=frozenset({UNIT}), competence=COMPETENCE)
    return decide(make_envelope(payload, message_id=uuid4()), View(), T0, directory, actor)


def test_transitions_are_audited_in_the_authenticated_actors_name() -> None:
    """Not the envelope's self-declared source; what the hub sends in consequence is the hub's."""
    out = _decide(make_release_order(), VEP)
    actors = {e.action: e.actor for e in out.audit}
    assert actors["order.transition"] == VEP.name
    assert actors["message.sent"] == "hub"


SIGNER = CourtSigner.generate("rupe-1", "RUPE")
KEYS = trusted_keys({SIGNER.key_id: SIGNER.court_key(("tjmg.*",))})
SECURITY = SecuritySettings(user_prefix="p-")


def _inbound(login: str | None) -> Inbound:
    env = make_envelope(make_release_order())  # source.system RUPE
    body = env.to_bytes()
    return Inbound(env, body, SIGNER.headers(body), Sender(login, "hub.court.in"))


@pytest.mark.parametrize(
    ("login", "key_id", "expected"),
    [
        ("p-court-rupe", "rupe-1", Actor("court:RUPE:rupe-1", ("tjmg.*",))),
        (None, "rupe-1", Actor("court:RUPE:rupe-1", ("tjmg.*",))),  # login not known: the key
        ("p-court-pje", "rupe-1", "p-court-pje may not send documents of RUPE"),
        (None, None, Actor("court:RUPE:unsigned", ("*",))),  # signatures not required
    ],
    ids=["own-login", "no-login", "other-systems-login", "unsigned"],
)
def test_a_court_login_carries_only_its_own_systems_documents(
    login: str | None, key_id: str | None, expected: Actor | str
) -> None:
    """The actor is the verified key with the courts it speaks for; a court system's login may
    not carry another system's documents (refused wrong_sender)."""
    if isinstance(expected, Actor):
        assert court_actor(_inbound(login), KEYS, key_id, SECURITY) == expected
        return
    with pytest.raises(ContractError, match=expected) as caught:
        court_actor(_inbound(login), KEYS, key_id, SECURITY)
    assert caught.value.reason == "wrong_sender"
