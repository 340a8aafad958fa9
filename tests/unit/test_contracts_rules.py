"""Cross-field rules of domain.md section 7 reject documents with a clear message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import ContractError, Person, WarrantSpecies, format_cnj
from tests.factories import (
    OTHER_WARRANT,
    PERSON,
    PROCESS,
    RJI,
    T0,
    WARRANT,
    make_alert,
    make_compliance,
    make_impediment,
    make_referral,
    make_release_order,
    make_revocation,
    make_validation,
    make_warrant,
)

LATER_PROCESS = format_cnj(1, 2025, 8, 13, 24)
NO_CPF = {"name": "Fulano de Tal"}
EXCEPTION_NO_PHOTO = {"rji": RJI, "rji_exception": True, "physical_description": "tatuagem"}

Case = tuple[Callable[..., object], dict[str, Any], str, str | None]

PERSON_CASES = [
    pytest.param(NO_CPF, "neither CPF nor RJI", "unidentified_person", id="no-cpf-no-rji"),
    pytest.param(
        EXCEPTION_NO_PHOTO,
        "RJI de Exceção needs photo_ref",
        "incomplete_rji_exception",
        id="rji-exception-without-photo",
    ),
    pytest.param(
        {"cpf": "12345678909", "rji_exception": True},
        "RJI de Exceção needs rji, physical_description, photo_ref",
        "incomplete_rji_exception",
        id="rji-exception-without-anything",
    ),
    pytest.param({"cpf": "12345678909"}, "has no name", "missing_name", id="no-name"),
    pytest.param({"cpf": "12345678909", "name": "JoÃ£o"}, "mojibake", None, id="mojibake"),
    pytest.param({"cpf": "12345678909", "name": "   "}, "must not be blank", None, id="blank"),
    pytest.param({"cpf": "111.111.111-11", "name": "X"}, "every digit 1", None, id="bad-cpf"),
]


def _reasons(error: ValidationError) -> set[str]:
    found = set()
    for item in error.errors():
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, ContractError):
            found.add(cause.reason)
    return found


@pytest.mark.parametrize(("person", "fragment", "reason"), PERSON_CASES)
def test_person_rules(person: dict[str, Any], fragment: str, reason: str | None) -> None:
    """A person without a key, with an incomplete RJI de Exceção, or a bad name is rejected."""
    with pytest.raises(ValidationError, match=fragment) as caught:
        Person.model_validate(person)
    if reason:
        assert reason in _reasons(caught.value)


def test_rji_exception_may_omit_the_name() -> None:
    """An RJI de Exceção with description and photo needs no name (R417 art.4 §7)."""
    person = Person(
        rji=RJI, rji_exception=True, physical_description="cicatriz no braço", photo_ref="foto-1"
    )
    assert person.name is None
    assert person.rji == RJI


RULES: list[Any] = [
    pytest.param(
        make_release_order,
        {"covered_warrants": ()},
        "needs at least one covered warrant, or the flagrante flag with the arrest date",
        "no_release_basis",
        id="order-without-basis",
    ),
    pytest.param(
        make_release_order,
        {"covered_warrants": (), "flagrante": True},
        "flagrante analysis needs the arrest date",
        "missing_arrest_date",
        id="flagrante-without-arrest-date",
    ),
    pytest.param(
        make_release_order,
        {"arrest_date": date(2024, 3, 2)},
        "arrest_date is after the issue date",
        "impossible_timeline",
        id="arrest-after-issue",
    ),
    pytest.param(
        make_release_order,
        {"signed_at": T0 - timedelta(minutes=1)},
        "signed_at is before issued_at",
        "impossible_timeline",
        id="order-signed-before-issue",
    ),
    pytest.param(
        make_release_order,
        {"order_number": f"{LATER_PROCESS}.0001"},
        "does not belong to process",
        "process_mismatch",
        id="order-number-prefix",
    ),
    pytest.param(
        make_release_order,
        {"process_number": LATER_PROCESS, "order_number": f"{LATER_PROCESS}.0001"},
        "has year 2025, later than the document date 2024-03-01",
        "impossible_timeline",
        id="process-year-after-issue",
    ),
    pytest.param(
        make_release_order,
        {"covered_warrants": (WARRANT, WARRANT)},
        "lists a warrant twice",
        "duplicate_warrant",
        id="duplicate-covered-warrant",
    ),
    pytest.param(
        make_release_order,
        {"person": {**PERSON, "birth_date": date(2025, 1, 1)}},
        "birth_date is after the issue date",
        "impossible_timeline",
        id="born-after-issue",
    ),
    pytest.param(
        make_release_order,
        {"contingency": True},
        "needs outage_started_at",
        "contingency",
        id="contingency-without-outage",
    ),
    pytest.param(
        make_release_order,
        {"contingency": True, "outage_started_at": T0 - timedelta(minutes=60)},
        "only after more than 60 minutes of outage",
        "contingency",
        id="contingency-at-60-minutes",
    ),
    pytest.param(
        make_release_order,
        {"outage_started_at": T0 - timedelta(hours=2)},
        "contingency is false",
        "contingency",
        id="outage-without-contingency",
    ),
    pytest.param(
        make_release_order,
        {"issued_at": T0.replace(tzinfo=None)},
        "Input should have timezone info",
        None,
        id="naive-timestamp",
    ),
    pytest.param(
        make_release_order, {"status": "draft"}, "Extra inputs are not permitted", None, id="extra"
    ),
    pytest.param(make_release_order, {"signed_at": None}, "signed_at", None, id="unsigned-order"),
    pytest.param(
        make_warrant,
        {"valid_until": date(2024, 1, 30)},
        "valid_until is before the issue date",
        "impossible_timeline",
        id="validity-before-issue",
    ),
    pytest.param(
        make_warrant,
        {"species": WarrantSpecies.TEMPORARY},
        "temporary-arrest warrant needs term_days",
        "missing_term",
        id="temporary-without-term",
    ),
    pytest.param(
        make_warrant,
        {"species": WarrantSpecies.ALTERNATIVE_MEASURE},
        "needs measure_end: open-ended measures are forbidden",
        "open_ended_measure",
        id="alternative-measure-without-end",
    ),
    pytest.param(
        make_warrant,
        {"species": WarrantSpecies.ELECTRONIC_MONITORING},
        "electronic_monitoring warrant needs measure_end",
        "open_ended_measure",
        id="monitoring-without-end",
    ),
    pytest.param(
        make_warrant,
        {"measure_end": date(2025, 1, 1)},
        "measure_end applies only to monitoring and alternative measures",
        "unexpected_measure_end",
        id="measure-end-on-preventive",
    ),
    pytest.param(
        make_warrant,
        {"species": WarrantSpecies.ALTERNATIVE_MEASURE, "measure_end": date(2024, 1, 1)},
        "measure_end is before the issue date",
        "impossible_timeline",
        id="measure-ends-before-issue",
    ),
    pytest.param(
        make_warrant,
        {"warrant_number": OTHER_WARRANT},
        "does not belong to process",
        "process_mismatch",
        id="warrant-number-prefix",
    ),
    pytest.param(
        make_warrant,
        {"signed_at": T0 - timedelta(days=31)},
        "signed_at is before issued_at",
        "impossible_timeline",
        id="warrant-signed-before-issue",
    ),
    pytest.param(make_warrant, {"bail_amount": Decimal(0)}, "greater than 0", None, id="zero-bail"),
    pytest.param(
        make_warrant, {"bail_amount": Decimal("10.001")}, "decimal places", None, id="bail-cents"
    ),
    pytest.param(
        make_revocation,
        {"counter_warrant_number": WARRANT},
        "must differ from the warrant it revokes",
        "self_revocation",
        id="counter-warrant-revokes-itself",
    ),
    pytest.param(
        make_revocation,
        {"signed_at": T0 - timedelta(seconds=1)},
        "signed_at is before issued_at",
        "impossible_timeline",
        id="counter-warrant-signed-before-issue",
    ),
    pytest.param(
        make_validation,
        {"impediments": (make_impediment(), make_impediment())},
        "impediments list a warrant twice",
        "duplicate_warrant",
        id="duplicate-impediment",
    ),
    pytest.param(
        make_impediment,
        {"process_number": PROCESS},
        "impediment warrant",
        "process_mismatch",
        id="impediment-prefix",
    ),
    pytest.param(
        make_compliance,
        {"released_at": None},
        "released needs released_at",
        "outcome",
        id="released-without-time",
    ),
    pytest.param(
        make_compliance,
        {"not_released_reason": "outro mandado"},
        "released contradicts not_released_reason",
        "outcome",
        id="released-with-reason",
    ),
    pytest.param(
        make_compliance,
        {"released": False, "not_released_reason": None},
        "not released needs not_released_reason",
        "outcome",
        id="not-released-without-reason",
    ),
    pytest.param(
        make_compliance,
        {"released": False, "released_at": T0 + timedelta(hours=2)},
        "not released contradicts released_at",
        "outcome",
        id="not-released-with-time",
    ),
    pytest.param(
        make_compliance,
        {"released_at": T0 + timedelta(hours=3)},
        "released_at is after certified_at",
        "impossible_timeline",
        id="released-after-certificate",
    ),
    pytest.param(make_referral, {"impediments": ()}, "at least 1 item", None, id="no-impediment"),
    pytest.param(
        make_referral,
        {"due_at": T0},
        "due_at must be after referred_at",
        "impossible_timeline",
        id="referral-due-before",
    ),
    pytest.param(
        make_alert,
        {"due_at": T0},
        "due_at must be after started_at",
        "impossible_timeline",
        id="alert-due-before-start",
    ),
    pytest.param(
        make_alert,
        {"raised_at": T0 + timedelta(hours=21)},
        "raised_at is before 90 % of the deadline elapsed",
        "impossible_timeline",
        id="alert-raised-early",
    ),
    pytest.param(make_alert, {"threshold_pct": 75}, "50, 90 or 100", None, id="alert-threshold"),
]


@pytest.mark.parametrize(("factory", "overrides", "fragment", "reason"), RULES)
def test_cross_field_rules(
    factory: Callable[..., object], overrides: dict[str, Any], fragment: str, reason: str | None
) -> None:
    """Each rule of domain.md section 7 rejects the document and says what is wrong."""
    with pytest.raises(ValidationError, match=fragment) as caught:
        factory(**overrides)
    if reason:
        assert reason in _reasons(caught.value)


VALID_VARIANTS: list[Any] = [
    pytest.param(
        make_release_order,
        {"covered_warrants": (), "flagrante": True, "arrest_date": date(2024, 2, 29)},
        {"covered_warrants": (), "flagrante": True, "arrest_date": date(2024, 2, 29)},
        id="flagrante-release-with-arrest-date",
    ),
    pytest.param(
        make_release_order,
        {"arrest_date": "2024-03-01"},
        {"arrest_date": date(2024, 3, 1), "flagrante": False},
        id="arrest-on-issue-day",
    ),
    pytest.param(
        make_release_order,
        {"contingency": True, "outage_started_at": "2024-03-01T08:59:00-03:00"},
        {"contingency": True, "outage_started_at": T0 - timedelta(minutes=61)},
        id="contingency-after-61-minutes",
    ),
    pytest.param(
        make_release_order,
        {"order_type": "ordem_desinternacao"},
        {"order_type": "ordem_desinternacao"},
        id="ordem-de-desinternacao",
    ),
    pytest.param(
        make_warrant,
        {"species": "temporary", "term_days": 5},
        {"species": WarrantSpecies.TEMPORARY, "term_days": 5, "measure_end": None},
        id="temporary-term",
    ),
    pytest.param(
        make_warrant,
        {"species": WarrantSpecies.ELECTRONIC_MONITORING, "measure_end": "2024-09-01"},
        {"species": WarrantSpecies.ELECTRONIC_MONITORING, "measure_end": date(2024, 9, 1)},
        id="monitoring-with-end",
    ),
    pytest.param(
        make_warrant,
        {"bail_amount": "1412.00"},
        {"bail_amount": Decimal("1412.00")},
        id="bail",
    ),
    pytest.param(
        make_warrant,
        {"valid_until": date(2024, 1, 31)},
        {"valid_until": date(2024, 1, 31), "issued_at": T0 - timedelta(days=30)},
        id="valid-only-on-issue-day",
    ),
    pytest.param(
        make_compliance,
        {"released": False},
        {"released": False, "released_at": None, "not_released_reason": "preso por outro processo"},
        id="not-released-with-reason",
    ),
    pytest.param(
        make_alert,
        {"raised_at": T0 + timedelta(hours=21, minutes=36)},
        {"raised_at": T0 + timedelta(hours=21, minutes=36), "threshold_pct": 90},
        id="alert-at-90",
    ),
]


@pytest.mark.parametrize(("factory", "overrides", "parsed"), VALID_VARIANTS)
def test_valid_variants_pass(
    factory: Callable[..., object], overrides: dict[str, Any], parsed: dict[str, Any]
) -> None:
    """Documents at the edge of each rule are accepted, with the values the variant is about
    parsed to their types (dates, enums, decimals, aware datetimes)."""
    document = factory(**overrides)
    got = {name: getattr(document, name) for name in parsed}
    assert got == parsed
    assert {n: type(v) for n, v in got.items()} == {n: type(v) for n, v in parsed.items()}


def test_contracts_are_frozen() -> None:
    """A contract cannot be changed after it is built."""
    order = make_release_order()
    with pytest.raises(ValidationError, match="frozen"):
        order.judge = "Outro"  # type: ignore[misc]


def test_validation_cleared_and_expiry_helpers() -> None:
    """`cleared` is true only without impediments; `expired_on` compares the validity date."""
    assert make_validation().cleared
    assert not make_validation(impeded=True).cleared
    warrant = make_warrant(valid_until=date(2030, 1, 1))
    assert not warrant.expired_on(date(2030, 1, 1))
    assert warrant.expired_on(date(2030, 1, 2))
