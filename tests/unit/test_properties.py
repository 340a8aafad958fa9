"""Property tests: valid messages round-trip through JSON; garbage raises only ContractError."""

from __future__ import annotations

import contextlib
import json
import string
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import (
    KINDS,
    BnmpDocumentType,
    ContractError,
    DeadlineKind,
    Envelope,
    Secrecy,
    WarrantSpecies,
    check_cnj,
    check_cpf,
    cpf_check_digits,
    format_cnj,
    parse_envelope,
)
from contracts.envelope import AnyPayload
from tests import factories as f

PROPERTY_SETTINGS = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)
ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
MOMENTS = st.datetimes(
    # Hypothesis takes naive bounds and makes each value aware with the `timezones` strategy.
    min_value=datetime(2015, 1, 1),  # noqa: DTZ001
    max_value=datetime(2024, 12, 31),  # noqa: DTZ001
    timezones=ZONES,
)
SPANS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
NAMES = st.text(string.ascii_letters + "ÁÉÍÓÚÂÊÔÃÕÇáéíóúâêôãõç '", min_size=1, max_size=40).filter(
    str.strip
)
TEXTS = st.text(min_size=1, max_size=60).filter(str.strip)
SLUGS = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}\Z")
COURTS = st.builds("{}.{}".format, st.from_regex(r"\A[a-z][a-z0-9]{1,5}\Z"), SLUGS)
UNITS = st.builds("{}.{}".format, st.from_regex(r"\A[a-z]{2}\Z"), SLUGS)
EXTERNAL_IDS = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9./_-]{0,30}\Z")
SEQUENCES = st.integers(1, 9999).map("{:04d}".format)


@st.composite
def cnj_numbers(draw: st.DrawFn, max_year: int = 2024) -> str:
    """Draw a valid masked CNJ number filed no later than `max_year`."""
    j, tr = draw(
        st.one_of(
            st.tuples(st.just(8), st.integers(1, 27)),
            st.tuples(st.integers(1, 3), st.just(0)),
            st.tuples(st.sampled_from([4, 5, 6, 7, 9]), st.integers(0, 99)),
        )
    )
    year = draw(st.integers(1990, max_year))
    return format_cnj(draw(st.integers(0, 9_999_999)), year, j, tr, draw(st.integers(0, 9999)))


def numbered(process: str, sequence: str) -> str:
    """Return the warrant/document number of `process` with a 4-digit `sequence`."""
    return f"{process}.{sequence}"


@st.composite
def cpfs(draw: st.DrawFn) -> str:
    """Draw a valid CPF (not all digits equal), masked or not."""
    base = draw(st.from_regex(r"\A[0-9]{9}\Z").filter(lambda b: len(set(b)) > 1))
    digits = base + cpf_check_digits(base)
    masked = f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    return draw(st.sampled_from([digits, masked]))


@st.composite
def persons(draw: st.DrawFn, latest: date) -> dict[str, Any]:
    """Draw a person identified by CPF and/or RJI, born no later than `latest`."""
    cpf = draw(st.none() | cpfs())
    rji = draw(st.from_regex(r"\A[0-9]{9}-?[0-9]{2}\Z")) if cpf is None else None
    return {
        "cpf": cpf,
        "rji": rji,
        "name": draw(NAMES),
        "mother_name": draw(st.none() | NAMES),
        "birth_date": draw(st.none() | st.dates(date(1920, 1, 1), latest)),
    }


def officials() -> st.SearchStrategy[dict[str, str]]:
    """Draw an official: name and role."""
    return st.fixed_dictionaries({"name": NAMES, "role": TEXTS})


@st.composite
def release_orders(draw: st.DrawFn) -> AnyPayload:
    """Draw a valid release order, honouring every cross-field rule."""
    issued_at = draw(MOMENTS)
    process = draw(cnj_numbers(max_year=issued_at.year))
    warrants = draw(
        st.lists(st.builds(numbered, cnj_numbers(), SEQUENCES), max_size=3, unique=True)
    )
    flagrante = draw(st.booleans()) or not warrants
    arrest = st.dates(date(2000, 1, 1), issued_at.date())
    contingency = draw(st.booleans())
    outage = issued_at - timedelta(minutes=draw(st.integers(61, 600)))
    return f.make_release_order(
        order_number=numbered(process, draw(SEQUENCES)),
        process_number=process,
        order_type=draw(
            st.sampled_from(["alvara_soltura", "ordem_liberacao", "ordem_desinternacao"])
        ),
        person=draw(persons(issued_at.date())),
        covered_warrants=tuple(warrants),
        flagrante=flagrante,
        arrest_date=draw(arrest) if flagrante else draw(st.none() | arrest),
        issuing_court=draw(COURTS),
        judge=draw(NAMES),
        custodial_unit=draw(st.none() | UNITS),
        issued_at=issued_at,
        signed_at=issued_at + draw(SPANS),
        conditions=draw(st.none() | TEXTS),
        contingency=contingency,
        outage_started_at=outage if contingency else None,
        plantao=draw(st.booleans()),
    )


@st.composite
def warrants(draw: st.DrawFn) -> AnyPayload:
    """Draw a valid warrant of any species, with a term or end date where required."""
    issued_at = draw(MOMENTS)
    process = draw(cnj_numbers(max_year=issued_at.year))
    species = draw(st.sampled_from(WarrantSpecies))
    later = st.integers(0, 5000).map(lambda d: issued_at.date() + timedelta(days=d))
    return f.make_warrant(
        warrant_number=numbered(process, draw(SEQUENCES)),
        process_number=process,
        species=species,
        reason=draw(TEXTS),
        offence=draw(TEXTS),
        bail_amount=draw(st.none() | st.decimals(Decimal("0.01"), Decimal("99999999"), places=2)),
        valid_until=draw(later),
        issued_at=issued_at,
        signed_at=issued_at + draw(SPANS),
        secrecy=draw(st.sampled_from(Secrecy)),
        person=draw(persons(issued_at.date())),
        term_days=draw(st.integers(1, 60)) if species is WarrantSpecies.TEMPORARY else None,
        measure_end=draw(later) if species.needs_measure_end else None,
    )


@st.composite
def impediment_lists(draw: st.DrawFn, min_size: int = 0) -> tuple[Any, ...]:
    """Draw impediments with distinct warrant numbers, each in its own process."""
    processes = draw(st.lists(cnj_numbers(), min_size=min_size, max_size=3, unique=True))
    return tuple(
        f.make_impediment(
            issuing_court=draw(COURTS),
            process_number=p,
            warrant_number=numbered(p, draw(SEQUENCES)),
            description=draw(TEXTS),
        )
        for p in processes
    )


DOCUMENTS = st.builds(numbered, cnj_numbers(), SEQUENCES)


@st.composite
def unit_payloads(draw: st.DrawFn) -> AnyPayload:
    """Draw a SETARIM validation, a receipt or a compliance certificate."""
    at = draw(MOMENTS)
    order = draw(DOCUMENTS)
    choice = draw(st.sampled_from(["validation", "receipt", "released", "kept"]))
    if choice == "validation":
        return f.make_validation(
            order_number=order,
            certificate_number=draw(EXTERNAL_IDS),
            validated_at=at,
            impediments=draw(impediment_lists()),
        )
    if choice == "receipt":
        return f.make_receipt(
            order_number=order, unit=draw(UNITS), received_at=at, received_by=draw(officials())
        )
    contacts = st.lists(TEXTS, max_size=3).map(tuple)
    return f.make_compliance(
        released=choice == "released",
        order_number=order,
        unit=draw(UNITS),
        released_at=at if choice == "released" else None,
        not_released_reason=None if choice == "released" else draw(TEXTS),
        certified_at=at + draw(SPANS),
        responsible=draw(officials()),
        director=draw(st.none() | NAMES),
        addresses=draw(contacts),
        phones=draw(contacts),
    )


@st.composite
def bnmp_payloads(draw: st.DrawFn) -> AnyPayload:
    """Draw a BNMP registration, rejection, warrant compliance or expiry, or a counter-warrant."""
    at = draw(MOMENTS)
    document = draw(DOCUMENTS)
    kind = draw(st.sampled_from(["registered", "rejected", "complied", "expired", "revoked"]))
    doc_type = draw(st.sampled_from(BnmpDocumentType))
    if kind == "registered":
        return f.make_registration(
            document_number=document,
            document_type=doc_type,
            bnmp_id=draw(EXTERNAL_IDS),
            registered_at=at,
        )
    if kind == "rejected":
        return f.make_rejection(
            document_number=document, document_type=doc_type, reason=draw(TEXTS), rejected_at=at
        )
    if kind == "complied":
        return f.make_warrant_complied(
            warrant_number=document,
            complied_at=at,
            place=draw(TEXTS),
            certified_by=draw(officials()),
        )
    if kind == "expired":
        return f.make_warrant_expired(warrant_number=document, expired_at=at)
    process = draw(cnj_numbers(max_year=at.year))
    return f.make_revocation(
        counter_warrant_number=numbered(process, "0002"),
        warrant_number=numbered(process, "0001"),
        reason=draw(TEXTS),
        issued_at=at,
        signed_at=at + draw(SPANS),
        issuing_court=draw(COURTS),
    )


@st.composite
def hub_payloads(draw: st.DrawFn) -> AnyPayload:
    """Draw an impediment referral or a deadline alert raised at or after its threshold."""
    start = draw(MOMENTS)
    span = draw(st.timedeltas(timedelta(seconds=1), timedelta(days=10)))
    if draw(st.booleans()):
        return f.make_referral(
            order_number=draw(DOCUMENTS),
            impediments=draw(impediment_lists(min_size=1)),
            referred_at=start,
            due_at=start + span,
        )
    pct = draw(st.sampled_from([50, 90, 100]))
    return f.make_alert(
        subject_id=draw(DOCUMENTS),
        deadline=draw(st.sampled_from(DeadlineKind)),
        threshold_pct=pct,
        started_at=start,
        due_at=start + span,
        raised_at=start + span * pct / 100 + draw(SPANS),
    )


PAYLOADS = st.one_of(release_orders(), warrants(), unit_payloads(), bnmp_payloads(), hub_payloads())


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    """Draw a valid envelope around any valid payload, at an allowed secrecy."""
    payload = draw(PAYLOADS)
    allowed = [s for s in Secrecy if s.rank >= payload.min_secrecy.rank]
    return Envelope.new(
        payload,
        source=draw(st.sampled_from(list(f.SOURCES.values()))),
        correlation_id=draw(st.none() | DOCUMENTS),
        causation_id=draw(st.none() | st.uuids()),
        secrecy=draw(st.sampled_from(allowed)),
        occurred_at=draw(MOMENTS),
        message_id=draw(st.uuids()),
    )


@PROPERTY_SETTINGS
@given(envelopes())
def test_valid_messages_round_trip_through_json(env: Envelope) -> None:
    """Every valid envelope parses back from its bytes equal, and re-serialises identically."""
    raw = env.to_bytes()
    again = parse_envelope(raw)
    assert again == env
    assert again.to_bytes() == raw


@PROPERTY_SETTINGS
@given(cnj_numbers(), cpfs())
def test_generated_identifiers_are_valid(cnj: str, cpf: str) -> None:
    """Numbers built with the check-digit functions always validate."""
    assert check_cnj(cnj) == cnj
    assert len(check_cpf(cpf)) == 11


def _parse_or_contract_error(raw: bytes | str) -> None:
    with contextlib.suppress(ContractError):
        parse_envelope(raw)


@PROPERTY_SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_contract_errors(raw: bytes) -> None:
    """Any byte string either parses or raises ContractError, never anything else."""
    _parse_or_contract_error(raw)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@PROPERTY_SETTINGS
@given(JSON_VALUES)
def test_arbitrary_json_raises_only_contract_errors(value: object) -> None:
    """Any JSON document either parses or raises ContractError, never anything else."""
    _parse_or_contract_error(json.dumps(value))


@PROPERTY_SETTINGS
@given(st.sampled_from(KINDS), st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=8))
def test_envelope_shaped_json_raises_only_contract_errors(
    kind: str, fields: dict[str, Any]
) -> None:
    """Objects with a known kind and arbitrary other fields reach validation and fail cleanly."""
    _parse_or_contract_error(json.dumps({**fields, "kind": kind, "schema_version": 1}))


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> str:
    """Draw a valid envelope's JSON with one value somewhere inside replaced by arbitrary JSON."""
    data: Any = json.loads(draw(envelopes()).to_bytes())
    node = data
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        node[key] = draw(JSON_VALUES)
        break
    return json.dumps(data)


@PROPERTY_SETTINGS
@given(mutated_envelopes())
def test_mutated_messages_raise_only_contract_errors(raw: str) -> None:
    """A valid message with any one value replaced either parses or raises ContractError."""
    _parse_or_contract_error(raw)
