"""Identifier validation: the real numbers of domain.md section 5 pass, section 7's fail clearly."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

import contracts.ids
from contracts import (
    ContractError,
    CourtUnitId,
    CustodialUnitId,
    check_cnj,
    check_cpf,
    check_document_number,
    check_rji,
    check_warrant_number,
    cnj_check_digits,
    cpf_check_digits,
    format_cnj,
    warrant_process,
)

AS_OF = date(2026, 1, 1)


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("0063945-31.2017.8.13.0000", id="tjmg-sei-S000"),
        pytest.param("0104610-79.2023.8.13.0000", id="tjmg-S004"),
        pytest.param("0007298-79.2018.8.13.0000", id="tjmg-2018"),
        pytest.param("7005838-63.2024.8.08.0000", id="tjes-2024"),
        pytest.param("0002298-57.2023.8.22.8800", id="tjro-2023"),
        pytest.param("0004302-67.2021.2.00.0000", id="cnj-2021"),
        pytest.param("0000002-65.2005.4.05.8100", id="trf5-R65-example"),
        pytest.param("0117432-08.2018.8.19.0001", id="tjrj-with-leading-zero"),
        pytest.param("0054999-70.2017.8.13.0000", id="S004-number-with-dot-restored"),
    ],
)
def test_real_cnj_numbers_pass(number: str) -> None:
    """Every CNJ number verified in domain.md 5.1 is accepted and returned unchanged."""
    assert check_cnj(number, as_of=AS_OF) == number


def test_cnj_check_digits_match_the_worked_example() -> None:
    """The worked example of domain.md 5.1 yields DD = 31, from ints or from strings."""
    assert cnj_check_digits(63945, 2017, 8, 13, 0) == 31
    assert cnj_check_digits("0063945", "2017", "8", "13", "0000") == 31
    assert format_cnj(63945, 2017, 8, 13, 0) == "0063945-31.2017.8.13.0000"


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        pytest.param((63945, 2017, 8, 13, 10_000), "OOOO must have 4 digits", id="origin-too-wide"),
        pytest.param(("63945", 2017, 8, 13, 0), "NNNNNNN must have 7 digits", id="short-string"),
        pytest.param((-1, 2017, 8, 13, 0), "NNNNNNN must have 7 digits", id="negative"),
        pytest.param((1, "2O17", 8, 13, 0), "AAAA must have 4 digits", id="letter-o-in-year"),
    ],
)
def test_cnj_check_digits_reject_bad_parts(parts: tuple[int | str, ...], fragment: str) -> None:
    """Check-digit computation refuses parts of the wrong width or with non-digits."""
    with pytest.raises(ContractError, match=fragment):
        cnj_check_digits(*parts)


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        pytest.param(
            "0063945-32.2017.8.13.0000", "wrong check digits 32, expected 31", id="wrong-dd"
        ),
        pytest.param("0063945-00.2017.8.13.0000", "check digits 00, which MOD 97-10", id="dd-00"),
        pytest.param("0063945-01.2017.8.13.0000", "check digits 01, which MOD 97-10", id="dd-01"),
        pytest.param("0063945-99.2017.8.13.0000", "check digits 99, which MOD 97-10", id="dd-99"),
        pytest.param(
            "0054999-70.2017.8.13-0000",
            "bad separators: '-' after TR, expected '.'",
            id="S004-hyphen-for-dot",
        ),
        pytest.param(
            "0063945.31.2017.8.13.0000", "'.' after NNNNNNN, expected '-'", id="dot-for-hyphen"
        ),
        pytest.param(
            "117432-08.2018.8.19.0001",
            "has 19 digits, expected 20: NNNNNNN has 6 digits (leading zero dropped?)",
            id="leading-zero-dropped",
        ),
        pytest.param("0063945-31.2017.8.13.000", "has 19 digits, expected 20", id="19-digits"),
        pytest.param("0063945-31.2017.8.13.00000", "has 21 digits, expected 20", id="21-digits"),
        pytest.param("00639453120178130000", "is unmasked", id="unmasked"),
        pytest.param(
            "0063945-31.2017.8.13.000A", "characters other than digits", id="letter-in-origin"
        ),
        pytest.param(
            "006394٥-31.2017.8.13.0000", "characters other than digits", id="arabic-indic-digit"
        ),
        pytest.param(" 0063945-31.2017.8.13.0000", "characters other than digits", id="space"),
        pytest.param("", "has 0 digits", id="empty"),
        pytest.param("0063945-312017.8.13.0000", "digit groups of widths 7.6.1.2.4", id="groups"),
        pytest.param("0063945-31.2017.0.13.0000", "segment J=0, which does not exist", id="j-0"),
        pytest.param("0063945-31.2017.8.00.0000", "J=8 with TR=00, expected TR 01..27", id="tr-00"),
        pytest.param("0063945-31.2017.8.28.0000", "J=8 with TR=28, expected TR 01..27", id="tr-28"),
        pytest.param("0063945-31.2017.2.13.0000", "J=2 with TR=13, expected TR 00", id="cnj-tr"),
        pytest.param(
            format_cnj(1, 2099, 8, 13, 24), "year 2099, which is in the future", id="2099"
        ),
    ],
)
def test_malformed_cnj_numbers_fail_saying_why(number: str, fragment: str) -> None:
    """Each malformed CNJ number of domain.md 7.1-7.2 fails with a message naming the problem."""
    with pytest.raises(ContractError, match=re.escape(fragment)) as caught:
        check_cnj(number, as_of=AS_OF)
    assert caught.value.reason == "invalid_cnj"


def test_future_year_uses_the_injected_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `as_of`, the year is compared with `contracts.ids.today()`, which tests can move."""
    number = format_cnj(1, 2031, 8, 13, 24)
    monkeypatch.setattr(contracts.ids, "today", lambda: date(2031, 1, 1))
    assert check_cnj(number) == number
    monkeypatch.setattr(contracts.ids, "today", lambda: date(2030, 12, 31))
    with pytest.raises(ContractError, match="in the future"):
        check_cnj(number)


@pytest.mark.parametrize(
    ("cpf", "normalised"),
    [
        pytest.param("123.456.789-09", "12345678909", id="masked"),
        pytest.param("12345678909", "12345678909", id="digits"),
        pytest.param("987.654.321-00", "98765432100", id="dv-00"),
        pytest.param("529.982.247-25", "52998224725", id="another"),
    ],
)
def test_valid_cpfs_pass_normalised(cpf: str, normalised: str) -> None:
    """A CPF with valid check digits is accepted, masked or not, and returned as 11 digits."""
    assert check_cpf(cpf) == normalised


@pytest.mark.parametrize(
    ("cpf", "fragment"),
    [
        pytest.param("123.456.789-08", "wrong check digits 08, expected 09", id="wrong-dv"),
        pytest.param("111.111.111-11", "every digit 1 is never issued", id="repeated-1"),
        pytest.param("99999999999", "every digit 9 is never issued", id="repeated-9"),
        pytest.param("000.000.000-00", "every digit 0 is never issued", id="zeros"),
        pytest.param("1234567890", "has 10 digits, expected 11", id="10-digits"),
        pytest.param("123.456.789-091", "has 12 digits, expected 11", id="12-digits"),
        pytest.param("123.456.78909", "must be XXX.XXX.XXX-DV or 11 digits", id="half-masked"),
        pytest.param("1234567890a", "has 10 digits, expected 11", id="letter"),
        pytest.param("", "has 0 digits, expected 11", id="empty"),
    ],
)
def test_bad_cpfs_fail_saying_why(cpf: str, fragment: str) -> None:
    """Each bad CPF of domain.md 7.3 fails with a message naming the problem."""
    with pytest.raises(ContractError, match=fragment) as caught:
        check_cpf(cpf)
    assert caught.value.reason == "invalid_cpf"


def test_cpf_check_digits_match_the_worked_example() -> None:
    """The synthetic CPF 123.456.789 has check digits 09 (domain.md 5.3)."""
    assert cpf_check_digits("123456789") == "09"
    with pytest.raises(ContractError, match="9 digits"):
        cpf_check_digits("12345678")


@pytest.mark.parametrize(
    ("rji", "normalised"),
    [
        pytest.param("170000114-79", "17000011479", id="tjms-confluence"),
        pytest.param("190000111-33", "19000011133", id="softplan"),
        pytest.param("17000011479", "17000011479", id="unmasked"),
    ],
)
def test_rji_shapes_pass_normalised(rji: str, normalised: str) -> None:
    """An RJI of 9 digits, optional dash and 2 check digits is returned as 11 digits."""
    assert check_rji(rji) == normalised


@pytest.mark.parametrize(
    "rji",
    [
        pytest.param("17000011-479", id="dash-misplaced"),
        pytest.param("1700001147", id="10-digits"),
        pytest.param("170000114-7x", id="letter"),
        pytest.param("170.000.114-79", id="dotted"),
    ],
)
def test_bad_rji_shapes_fail(rji: str) -> None:
    """An RJI that is not `\\d{9}-?\\d{2}` fails with the expected shape in the message."""
    with pytest.raises(ContractError, match="AANNNNNNN-DV") as caught:
        check_rji(rji)
    assert caught.value.reason == "invalid_rji"


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("0063945-31.2017.8.13.0000.0001", id="S004-example"),
        pytest.param("0117432-08.2018.8.19.0001.0001", id="bnmp-1.0-fixture"),
    ],
)
def test_warrant_numbers_pass(number: str) -> None:
    """A CNJ number plus a 4-digit sequence is a valid warrant and document number."""
    assert check_warrant_number(number) == number
    assert check_document_number(number) == number
    assert warrant_process(number) == number[:-5]


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        pytest.param("0063945-31.2017.8.13.0000", "lacks the 4-digit sequence", id="no-sequence"),
        pytest.param(
            "0063945-31.2017.8.13.0000.001", "sequence must have 4 digits, got 3", id="3-digits"
        ),
        pytest.param(
            "0063945-31.2017.8.13.0000.00001", "sequence must have 4 digits, got 5", id="5-digits"
        ),
        pytest.param(
            "0063945-32.2017.8.13.0000.0001",
            "process part: CNJ number has wrong check digits 32",
            id="bad-process",
        ),
        pytest.param("0063945-31.2017.8.13.0000-0001", "and a 4-digit sequence", id="hyphen"),
        pytest.param("ABC", "and a 4-digit sequence", id="garbage"),
    ],
)
def test_bad_warrant_numbers_fail_saying_why(number: str, fragment: str) -> None:
    """A warrant number with no or a short sequence, or a bad process part, fails clearly."""
    with pytest.raises(ContractError, match=fragment) as caught:
        check_warrant_number(number)
    assert caught.value.reason == "invalid_warrant_number"


@pytest.mark.parametrize(
    ("unit", "valid"),
    [
        pytest.param("tjmg.vep-bh", True, id="tjmg-vep"),
        pytest.param("trf1.vara-federal-01", True, id="trf1"),
        pytest.param("TJMG.vep-bh", False, id="uppercase"),
        pytest.param("tjmg_vep", False, id="no-dot"),
        pytest.param("tjmg.", False, id="empty-slug"),
        pytest.param("tjmg.-vep", False, id="slug-starts-with-dash"),
    ],
)
def test_court_unit_ids(unit: str, valid: bool) -> None:
    """Court unit ids are `<tribunal>.<slug>` in lowercase."""
    adapter: TypeAdapter[str] = TypeAdapter(CourtUnitId)
    if valid:
        assert adapter.validate_python(unit) == unit
    else:
        with pytest.raises(ValidationError, match="should match pattern"):
            adapter.validate_python(unit)


@pytest.mark.parametrize(
    ("unit", "valid"),
    [
        pytest.param("mg.presidio-bh-01", True, id="mg-prison"),
        pytest.param("es.cdp-vila-velha", True, id="es-prison"),
        pytest.param("tjmg.presidio", False, id="not-a-state"),
        pytest.param("mg.presídio", False, id="accent"),
    ],
)
def test_custodial_unit_ids(unit: str, valid: bool) -> None:
    """Custodial unit ids are `<state>.<slug>` in lowercase ASCII."""
    adapter: TypeAdapter[str] = TypeAdapter(CustodialUnitId)
    if valid:
        assert adapter.validate_python(unit) == unit
    else:
        with pytest.raises(ValidationError, match="should match pattern"):
            adapter.validate_python(unit)
