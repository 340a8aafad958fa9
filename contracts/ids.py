"""Typed identifiers with real validation: CNJ process numbers, CPF, RJI, warrant and unit ids.

CNJ numbers follow R65 (NNNNNNN-DD.AAAA.J.TR.OOOO, MOD 97-10), warrant numbers S004 10.4 (the
process number and a 4-digit sequence) or BNMP 2.0/3.0's own `numeroPeca` (28 digits: the process
number, the 2-digit piece type, a 4-digit sequence and 2 check digits whose algorithm is not
public), CPF its public check digits (R417 art.4).
Each check returns the canonical form (masked CNJ, 11-digit CPF and RJI) or raises `ContractError`
with a message that says what is wrong. Only ASCII digits count as digits.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from contracts.errors import ContractError

__all__ = [
    "CNJ_PATTERN",
    "CnjNumber",
    "CourtUnitId",
    "Cpf",
    "CustodialUnitId",
    "DocumentNumber",
    "Rji",
    "UnitId",
    "WarrantNumber",
    "check_cnj",
    "check_cpf",
    "check_document_number",
    "check_rji",
    "check_warrant_number",
    "cnj_check_digits",
    "cpf_check_digits",
    "format_bnmp_number",
    "format_cnj",
    "today",
    "warrant_process",
]

CNJ_PATTERN = r"^[0-9]{7}-[0-9]{2}\.[0-9]{4}\.[0-9]\.[0-9]{2}\.[0-9]{4}$"
_CNJ = re.compile(r"([0-9]{7})-([0-9]{2})\.([0-9]{4})\.([0-9])\.([0-9]{2})\.([0-9]{4})")
_CNJ_SHORT_SEQUENCE = re.compile(r"[0-9]{6}-[0-9]{2}\.[0-9]{4}\.[0-9]\.[0-9]{2}\.[0-9]{4}")
_CNJ_GROUPS = (7, 2, 4, 1, 2, 4)
_CNJ_SEPARATORS = ("-", ".", ".", ".", ".")
_CNJ_SEPARATOR_PLACES = ("after NNNNNNN", "after DD", "after AAAA", "after J", "after TR")
_CNJ_FORM = "NNNNNNN-DD.AAAA.J.TR.OOOO"
# A document as BNMP 2.0/3.0 numbers it, masked: the process number, "." and the 2-digit piece
# type, "." and the 4-digit sequence, "-" and 2 check digits (NNNNNNN-DD.AAAA.J.TR.OOOO.TT.SSSS-CC).
_BNMP_SUFFIX = r"\.[0-9]{2}\.[0-9]{4}-[0-9]{2}"
_BNMP_NUMBER = re.compile(CNJ_PATTERN[1:-1] + _BNMP_SUFFIX)
_NUMBERED_PATTERN = CNJ_PATTERN[:-1] + r"(\.[0-9]{4}|" + _BNMP_SUFFIX + ")$"
_CPF_MASKED = re.compile(r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}")
_CPF_PLAIN = re.compile(r"[0-9]{11}")
_RJI = re.compile(r"([0-9]{9})-?([0-9]{2})")
_UNIT_PATTERN = r"^[a-z][a-z0-9]{1,5}\.[a-z0-9][a-z0-9-]{1,40}$"
_CUSTODIAL_UNIT_PATTERN = r"^[a-z]{2}\.[a-z0-9][a-z0-9-]{1,40}$"
_IMPOSSIBLE_DD = frozenset({"00", "01", "99"})
_STATE_COURTS = range(1, 28)
_HIGHER_COURT_SEGMENTS = frozenset({"1", "2", "3"})


def today() -> date:
    """Return today's UTC date; the single clock of this package, monkeypatched by tests.

    UTC is never behind Brazilian civil time, so a year that is in the future in UTC is in the
    future in Brazil too.
    """
    return datetime.now(UTC).date()


def _digits(value: int | str, width: int, name: str) -> str:
    text = str(value) if isinstance(value, str) else f"{value:0{width}d}"
    if len(text) != width or not text.isascii() or not text.isdigit():
        raise ContractError(f"{name} must have {width} digits, got {value!r}", reason="invalid_cnj")
    return text


def cnj_check_digits(
    n: int | str, year: int | str, j: int | str, tr: int | str, origin: int | str
) -> int:
    """Compute the ISO 7064 MOD 97-10 check digits (02..98) of a CNJ process number (R65)."""
    body = (
        _digits(n, 7, "NNNNNNN")
        + _digits(year, 4, "AAAA")
        + _digits(j, 1, "J")
        + _digits(tr, 2, "TR")
        + _digits(origin, 4, "OOOO")
    )
    return 98 - int(body + "00") % 97


def format_cnj(
    n: int | str, year: int | str, j: int | str, tr: int | str, origin: int | str
) -> str:
    """Build the masked CNJ number NNNNNNN-DD.AAAA.J.TR.OOOO with computed check digits."""
    dd = cnj_check_digits(n, year, j, tr, origin)
    parts = (
        _digits(n, 7, "NNNNNNN"),
        f"{dd:02d}",
        _digits(year, 4, "AAAA"),
        _digits(j, 1, "J"),
        _digits(tr, 2, "TR"),
        _digits(origin, 4, "OOOO"),
    )
    return f"{parts[0]}-{'.'.join(parts[1:])}"


def _cnj_error(message: str) -> ContractError:
    return ContractError(f"CNJ number {message}", reason="invalid_cnj")


def _cnj_shape_problem(s: str) -> str:
    if re.fullmatch(r"[0-9]{20}", s):
        return f"is unmasked: expected the masked form {_CNJ_FORM}"
    if re.search(r"[^0-9.\-]", s):
        return f"contains characters other than digits, '.' and '-' (expected {_CNJ_FORM})"
    count = sum(ch in "0123456789" for ch in s)
    if _CNJ_SHORT_SEQUENCE.fullmatch(s):
        return f"has {count} digits, expected 20: NNNNNNN has 6 digits (leading zero dropped?)"
    if count != 20:
        return f"has {count} digits, expected 20 ({_CNJ_FORM})"
    tokens = re.split(r"([.\-])", s)
    groups, separators = tokens[0::2], tokens[1::2]
    if tuple(len(g) for g in groups) != _CNJ_GROUPS:
        widths = ".".join(str(len(g)) for g in groups)
        return f"has digit groups of widths {widths}, expected 7-2.4.1.2.4 ({_CNJ_FORM})"
    for place, found, wanted in zip(
        _CNJ_SEPARATOR_PLACES, separators, _CNJ_SEPARATORS, strict=True
    ):
        if found != wanted:
            return f"has bad separators: {found!r} {place}, expected {wanted!r} ({_CNJ_FORM})"
    return f"is malformed: expected {_CNJ_FORM}"


def _check_segment(j: str, tr: str) -> None:
    if j == "0":
        raise _cnj_error("has segment J=0, which does not exist (J is 1..9)")
    if j == "8" and int(tr) not in _STATE_COURTS:
        raise _cnj_error(f"has state-court segment J=8 with TR={tr}, expected TR 01..27")
    if j in _HIGHER_COURT_SEGMENTS and tr != "00":
        raise _cnj_error(f"has higher-court segment J={j} with TR={tr}, expected TR 00")


def check_cnj(s: str, *, as_of: date | None = None) -> str:
    """Validate a masked CNJ process number and return it unchanged, or raise `ContractError`.

    `as_of` is the date the "year in the future" check compares against; it defaults to `today()`.
    """
    match = _CNJ.fullmatch(s)
    if match is None:
        raise _cnj_error(_cnj_shape_problem(s))
    n, dd, year, j, tr, origin = match.groups()
    _check_segment(j, tr)
    expected = cnj_check_digits(n, year, j, tr, origin)
    if dd in _IMPOSSIBLE_DD:
        raise _cnj_error(
            f"has check digits {dd}, which MOD 97-10 never yields (02..98); expected {expected:02d}"
        )
    if int(dd) != expected:
        raise _cnj_error(f"has wrong check digits {dd}, expected {expected:02d}")
    reference = as_of if as_of is not None else today()
    if int(year) > reference.year:
        raise _cnj_error(f"has year {year}, which is in the future")
    return s


def _check_numbered(s: str, what: str, reason: str) -> str:
    if _BNMP_NUMBER.fullmatch(s):
        return _check_bnmp_numbered(s, what, reason)
    if _CNJ.fullmatch(s):
        raise ContractError(
            f"{what} lacks the 4-digit sequence after the process number", reason=reason
        )
    process, dot, sequence = s.rpartition(".")
    if not dot or not sequence.isascii() or not sequence.isdigit():
        raise ContractError(
            f"{what} must be a CNJ process number, '.', and a 4-digit sequence ({_CNJ_FORM}.SSSS)",
            reason=reason,
        )
    if len(sequence) != 4:
        raise ContractError(
            f"{what} sequence must have 4 digits, got {len(sequence)}", reason=reason
        )
    try:
        check_cnj(process)
    except ContractError as e:
        raise ContractError(f"{what} process part: {e.message}", reason=reason) from None
    return s


def _check_bnmp_numbered(s: str, what: str, reason: str) -> str:
    """A BNMP 2.0/3.0 number: only its process part can be checked (the last 2 digits' algorithm
    is not public)."""
    try:
        check_cnj(s[:25])
    except ContractError as e:
        raise ContractError(f"{what} process part: {e.message}", reason=reason) from None
    return s


def format_bnmp_number(unmasked: str) -> str:
    """Mask a 28-digit BNMP `numeroPeca` as NNNNNNN-DD.AAAA.J.TR.OOOO.TT.SSSS-CC (not validated)."""
    d = unmasked
    return (
        f"{d[:7]}-{d[7:9]}.{d[9:13]}.{d[13]}.{d[14:16]}.{d[16:20]}.{d[20:22]}.{d[22:26]}-{d[26:]}"
    )


def check_warrant_number(s: str) -> str:
    """Validate a warrant number: CNJ process number + "." + 4-digit sequence (S004 10.4 I)."""
    return _check_numbered(s, "warrant number", "invalid_warrant_number")


def check_document_number(s: str) -> str:
    """Validate a release-order or other document number, shaped like a warrant number."""
    return _check_numbered(s, "document number", "invalid_document_number")


def warrant_process(w: str) -> str:
    """Return the CNJ process part of a warrant or document number (its 25-character prefix)."""
    if _BNMP_NUMBER.fullmatch(w):
        return w[:25]
    return w.rpartition(".")[0]


def cpf_check_digits(first9: str) -> str:
    """Compute the two CPF check digits (DV1, DV2) of a 9-digit base."""
    if len(first9) != 9 or not first9.isascii() or not first9.isdigit():
        raise ContractError("CPF base must have 9 digits", reason="invalid_cpf")
    digits = [int(ch) for ch in first9]
    for weight_top in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_top, 1, -1), strict=False))
        remainder = total % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return f"{digits[9]}{digits[10]}"


def check_cpf(s: str) -> str:
    """Validate a CPF (masked XXX.XXX.XXX-DV or 11 digits) and return its 11 digits."""
    if _CPF_MASKED.fullmatch(s):
        digits = s.replace(".", "").replace("-", "")
    elif _CPF_PLAIN.fullmatch(s):
        digits = s
    else:
        count = sum(ch in "0123456789" for ch in s)
        problem = (
            f"has {count} digits, expected 11"
            if count != 11
            else "must be XXX.XXX.XXX-DV or 11 digits"
        )
        raise ContractError(f"CPF {problem}", reason="invalid_cpf")
    if len(set(digits)) == 1:
        raise ContractError(
            f"CPF with every digit {digits[0]} is never issued by the Receita", reason="invalid_cpf"
        )
    expected = cpf_check_digits(digits[:9])
    if digits[9:] != expected:
        raise ContractError(
            f"CPF has wrong check digits {digits[9:]}, expected {expected}", reason="invalid_cpf"
        )
    return digits


def check_rji(s: str) -> str:
    """Validate the shape of an RJI (AANNNNNNN-DV, dash optional) and return its 11 digits.

    The RJI check-digit algorithm is not public (R417 art.4 names the RJI), so only the shape is
    checked.
    """
    match = _RJI.fullmatch(s)
    if match is None:
        raise ContractError(
            "RJI must be 9 digits, an optional '-', and 2 check digits (AANNNNNNN-DV)",
            reason="invalid_rji",
        )
    return match.group(1) + match.group(2)


def _string_schema(pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "description": description})


# The identifier types: validated on the way in, canonical on the way out.
CnjNumber = Annotated[
    str,
    AfterValidator(check_cnj),
    _string_schema(CNJ_PATTERN, "CNJ process number, masked, MOD 97-10 check digits"),
]
WarrantNumber = Annotated[
    str,
    AfterValidator(check_warrant_number),
    _string_schema(
        _NUMBERED_PATTERN,
        "Warrant number: CNJ process number + 4-digit sequence, or BNMP's 28-digit number masked",
    ),
]
DocumentNumber = Annotated[
    str,
    AfterValidator(check_document_number),
    _string_schema(
        _NUMBERED_PATTERN,
        "Document number: CNJ process number + 4-digit sequence, or BNMP's 28-digit number masked",
    ),
]
Cpf = Annotated[
    str,
    AfterValidator(check_cpf),
    _string_schema(
        r"^([0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}|[0-9]{11})$",
        "CPF with valid check digits; normalised to 11 digits",
    ),
]
Rji = Annotated[
    str,
    AfterValidator(check_rji),
    _string_schema(r"^[0-9]{9}-?[0-9]{2}$", "RJI (shape only); normalised to 11 digits"),
]
# Unit ids are lowercase slugs: `<tribunal>.<unit>` for courts (tjmg.vep-bh), `<state>.<unit>`
# for custodial units (mg.presidio-bh-01); `UnitId` accepts either, for an envelope's source.
UnitId = Annotated[str, StringConstraints(pattern=_UNIT_PATTERN)]
CourtUnitId = Annotated[str, StringConstraints(pattern=_UNIT_PATTERN)]
CustodialUnitId = Annotated[str, StringConstraints(pattern=_CUSTODIAL_UNIT_PATTERN)]
