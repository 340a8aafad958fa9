"""The envelope: defaults, consistency with its payload, parsing with reason codes, and masking."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts import (
    KINDS,
    PAYLOAD_TYPES,
    ContractError,
    Envelope,
    Secrecy,
    Source,
    mask,
    parse_envelope,
)
from contracts.envelope import AnyPayload
from tests.factories import (
    CPF,
    ORDER,
    SOURCES,
    T0,
    WARRANT,
    make_alert,
    make_compliance,
    make_envelope,
    make_every_payload,
    make_receipt,
    make_registration,
    make_rejection,
    make_release_order,
    make_revocation,
    make_validation,
    make_warrant,
    make_warrant_complied,
)


def test_every_kind_has_a_factory() -> None:
    """The factories cover every payload kind of the discriminated union."""
    assert {p.kind for p in make_every_payload()} == set(KINDS) == set(PAYLOAD_TYPES)


def test_new_fills_metadata_from_the_payload() -> None:
    """`Envelope.new` takes kind, version, correlation and secrecy from the payload."""
    order = make_release_order()
    env = Envelope.new(order, source=SOURCES["court"], occurred_at=T0)
    assert (env.kind, env.schema_version, env.correlation_id) == (order.kind, 1, ORDER)
    assert env.secrecy is Secrecy.PUBLIC
    assert env.causation_id is None
    assert isinstance(env.message_id, UUID)
    assert env.occurred_at == T0


def test_new_defaults_occurred_at_to_an_aware_now() -> None:
    """Without an explicit time, `Envelope.new` stamps an aware UTC time."""
    env = Envelope.new(make_receipt(), source=SOURCES["custodial_unit"])
    assert env.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("factory", "key"),
    [
        pytest.param(make_release_order, ORDER, id="release-order"),
        pytest.param(make_warrant, WARRANT, id="warrant"),
        pytest.param(make_revocation, WARRANT, id="counter-warrant"),
        pytest.param(make_validation, ORDER, id="validation"),
        pytest.param(make_receipt, ORDER, id="receipt"),
        pytest.param(make_compliance, ORDER, id="compliance"),
        pytest.param(make_registration, ORDER, id="registration"),
        pytest.param(make_rejection, ORDER, id="rejection"),
        pytest.param(make_warrant_complied, WARRANT, id="warrant-complied"),
        pytest.param(make_alert, ORDER, id="alert"),
    ],
)
def test_business_keys(factory: Callable[[], AnyPayload], key: str) -> None:
    """Each payload names the order or warrant it is about; the dedup key starts with it."""
    payload = factory()
    assert payload.business_key == key
    assert payload.dedup_key.startswith(f"{key}|{type(payload).__name__}")


def test_dedup_keys_tell_distinct_facts_apart() -> None:
    """Alerts per threshold and registrations per document type have distinct dedup keys."""
    assert make_alert().dedup_key != make_alert(threshold_pct=50).dedup_key
    certificate = make_registration(document_type="release_compliance_certificate")
    assert make_registration().dedup_key != certificate.dedup_key
    assert make_compliance().dedup_key == make_compliance(released=False).dedup_key


def test_a_secret_warrant_cannot_travel_in_a_public_envelope() -> None:
    """The envelope's secrecy is at least the payload's own (R417 art.34, domain.md 7.15)."""
    warrant = make_warrant(secrecy=Secrecy.SECRET)
    assert Envelope.new(warrant, source=SOURCES["court"]).secrecy is Secrecy.SECRET
    with pytest.raises(ValidationError, match="a secret payload cannot travel in a restricted"):
        Envelope.new(warrant, source=SOURCES["court"], secrecy=Secrecy.RESTRICTED)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        pytest.param({"kind": "court.warrant.issued"}, "differs from payload kind", id="kind"),
        pytest.param({"schema_version": 2}, "schema_version 2 of", id="version"),
        pytest.param({"schema_version": 0}, "greater than or equal to 1", id="version-0"),
        pytest.param({"correlation_id": "x"}, "document number", id="correlation"),
        pytest.param({"occurred_at": T0.replace(tzinfo=None)}, "timezone", id="naive-time"),
        pytest.param({"source": {"connector": "fax", "system": "x"}}, "connector", id="connector"),
    ],
)
def test_envelope_consistency(overrides: dict[str, Any], fragment: str) -> None:
    """An envelope whose metadata contradicts its payload or its own types is rejected."""
    with pytest.raises(ValidationError, match=fragment):
        make_envelope(make_release_order(), **overrides)


def test_envelope_bytes_round_trip() -> None:
    """`to_bytes` is UTF-8 JSON that `parse_envelope` reads back unchanged, from bytes or text."""
    for payload in make_every_payload():
        env = make_envelope(payload, causation_id=UUID(int=7))
        assert parse_envelope(env.to_bytes()) == env
        assert parse_envelope(env.to_json()) == env


def _raw(**changes: Any) -> bytes:
    data = json.loads(make_envelope(make_release_order()).to_bytes())
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "reason", "fragment"),
    [
        pytest.param(b"\xff\xfe", "malformed_json", "not UTF-8 JSON", id="not-utf8"),
        pytest.param(b'{"kind": ', "malformed_json", "JSONDecodeError", id="truncated"),
        pytest.param(b"[" * 100_000, "malformed_json", "not UTF-8 JSON", id="deep-nesting"),
        pytest.param(b"[1, 2]", "invalid_envelope", "must be a JSON object", id="array"),
        pytest.param(_raw(kind="court.alien"), "unknown_kind", "'court.alien'", id="unknown-kind"),
        pytest.param(_raw(kind=None), "unknown_kind", "'NoneType'", id="null-kind"),
        pytest.param(
            _raw(schema_version=2),
            "unsupported_schema_version",
            "schema_version 2 of court.release_order.issued is not supported (current: 1)",
            id="future-version",
        ),
        pytest.param(
            _raw(schema_version="1"), "invalid_envelope", "schema_version", id="version-as-text"
        ),
        pytest.param(
            _raw(payload__person__cpf="123.456.789-08"),
            "invalid_payload",
            "payload.court.release_order.issued.person.cpf: Value error, CPF has wrong check",
            id="bad-cpf",
        ),
        pytest.param(
            _raw(payload__covered_warrants=[]),
            "invalid_payload",
            "needs at least one covered warrant",
            id="no-basis",
        ),
        pytest.param(
            _raw(payload__kind="setarim.validation.completed"),
            "invalid_payload",
            "payload.setarim.validation.completed",
            id="payload-of-another-kind",
        ),
        pytest.param(
            _raw(occurred_at="2024-03-01T10:00:00"), "invalid_envelope", "timezone", id="naive"
        ),
        pytest.param(_raw(extra=1), "invalid_envelope", "Extra inputs", id="extra-field"),
    ],
)
def test_parse_envelope_reasons(raw: bytes, reason: str, fragment: str) -> None:
    """Every bad body raises ContractError with a reason code and a message naming the problem."""
    with pytest.raises(ContractError) as caught:
        parse_envelope(raw)
    assert caught.value.reason == reason
    assert fragment in str(caught.value)


def test_parse_envelope_never_echoes_personal_data() -> None:
    """A rejected message's error text contains no CPF or name from the input."""
    raw = _raw(payload__person__cpf="123.456.789-08", payload__judge="")
    with pytest.raises(ContractError) as caught:
        parse_envelope(raw)
    assert "123.456.789-08" not in str(caught.value)
    assert "Fulano" not in str(caught.value)


def test_source_unit_is_optional_but_typed() -> None:
    """A source may omit the unit, but a given unit must be a slug id."""
    assert Source(connector="bnmp", system="BNMP3").unit is None
    with pytest.raises(ValidationError, match="should match pattern"):
        Source(connector="court", system="PJe", unit="TJMG VEP")


def test_mask_hides_personal_data_deeply() -> None:
    """`mask` returns a copy with CPF, names, birth date, addresses and phones masked."""
    env = make_envelope(make_release_order()).model_dump(mode="json")
    masked = mask(env)
    person = masked["payload"]["person"]
    assert person["cpf"] == "***.***.789-09"
    assert (person["name"], person["mother_name"], person["birth_date"]) == ("F***", "B***", "***")
    assert masked["payload"]["order_number"] == ORDER
    assert env["payload"]["person"]["cpf"] == CPF
    compliance = mask(make_compliance().model_dump(mode="json"))
    assert compliance["addresses"] == ["***"]
    assert compliance["phones"] == ["***"]
    assert compliance["responsible"]["name"] == "S***"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"cpf": "123"}, {"cpf": "***"}, id="short-cpf"),
        pytest.param({"rji": "17000011479"}, {"rji": "*******1479"}, id="rji"),
        pytest.param({"cpf": None, "name": None}, {"cpf": None, "name": None}, id="nulls"),
        pytest.param({"items": [{"name": "Ana"}, 3]}, {"items": [{"name": "A***"}, 3]}, id="list"),
    ],
)
def test_mask_edge_cases(data: dict[str, Any], expected: dict[str, Any]) -> None:
    """Short values, nulls and lists of objects are masked without errors."""
    assert mask(data) == expected
