"""Fuzzing what enters the hub: garbage published to hub.court.in and hub.custodial_unit.in on the
real broker, through one running hub, ends as dead letters with a reason; the good messages sent
among them are processed.

Hypothesis generates the examples first (random bytes, random JSON, valid envelopes with one field
made wrong, signed documents altered after signing, huge bodies), then they are published in one
go: one hub per test, not per example. The fixed table of domain.md section 7 is in
test_bad_input.py; these are the inputs nobody thought of.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import aio_pika
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connectors import court, custodial_unit
from connectors.court.signing import CourtSigner
from contracts import ContractError, check_cpf, format_cnj, parse_envelope
from hub.app import Hub
from hub.domain.topology import in_queue, unit_exchange
from hub.settings import HubSettings, SecuritySettings
from tests.factories import UNIT, make_envelope, make_receipt, make_release_order

from .harness import amqp, database, wait_for

T = TypeVar("T")
SIGNER = CourtSigner.generate("fuzz-rupe", "RUPE")
SPECS = (dataclasses.replace(court.spec, deliver=None), custodial_unit.spec)
COURT_IN, UNIT_IN = in_queue("court"), in_queue("custodial_unit")
ORDER = json.loads(make_envelope(make_release_order()).to_json())
RECEIPT = json.loads(make_envelope(make_receipt()).to_json())
DELETE = object()  # a mutation that removes the field


@dataclass(frozen=True)
class Example:
    """One message to publish: its body, headers and content type."""

    body: bytes
    headers: dict[str, Any]
    content_type: str | None
    family: str


def examples(strategy: st.SearchStrategy[T], n: int) -> list[T]:
    """Up to `n` examples of `strategy`, drawn by one hypothesis run (no shrinking needed)."""
    found: list[T] = []

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        found.append(example)

    collect()
    return found


# ---------------------------------------------------------------- garbage, field by field

NOT_TEXT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NO_DIGITS = st.text(st.characters(blacklist_categories=["Nd"]), max_size=20)
NAIVE = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1))  # noqa: DTZ001
BAD_MOMENT = st.one_of(st.none(), NO_DIGITS, NAIVE.map(datetime.isoformat), st.lists(st.integers()))
AWARE = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def _bad_cpf(text: str) -> bool:
    try:
        check_cpf(text)
    except ContractError:
        return True
    return False


BAD_CPF = st.one_of(
    st.from_regex(r"\A[0-9]{11}\Z").filter(_bad_cpf),
    st.sampled_from("0123456789").map(lambda d: d * 11),  # repeated digits (domain.md 7.3)
    st.from_regex(r"\A[0-9]{1,10}\Z"),
    NOT_TEXT,
)
SIGNED_AT = datetime.fromisoformat(ORDER["payload"]["signed_at"])
ISSUED_ON = datetime.fromisoformat(ORDER["payload"]["issued_at"]).date()
ENVELOPE_GARBAGE: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("message_id",): st.one_of(NOT_TEXT, NO_DIGITS, st.just(DELETE)),
    ("kind",): st.one_of(NOT_TEXT, NO_DIGITS, st.just(DELETE)),
    ("schema_version",): st.one_of(st.integers().filter(lambda v: v != 1), NO_DIGITS, st.floats()),
    ("occurred_at",): st.one_of(BAD_MOMENT, st.just(DELETE)),
    ("correlation_id",): st.one_of(NOT_TEXT, NO_DIGITS),
    ("secrecy",): st.one_of(NOT_TEXT, NO_DIGITS),
    ("source",): st.one_of(NOT_TEXT, st.just(DELETE)),
    ("source", "connector"): st.one_of(NOT_TEXT, NO_DIGITS),
    ("unexpected",): st.integers(),  # the envelope is closed (extra="forbid")
}
ORDER_GARBAGE: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("payload", "process_number"): st.one_of(NOT_TEXT, st.from_regex(r"\A[0-9.-]{1,25}\Z")),
    ("payload", "order_number"): st.one_of(NOT_TEXT, NO_DIGITS),
    ("payload", "person", "cpf"): BAD_CPF,
    ("payload", "person"): st.one_of(NOT_TEXT, st.just({}), st.just(DELETE)),
    ("payload", "motive"): st.one_of(NOT_TEXT, NO_DIGITS, st.just(DELETE)),
    ("payload", "covered_warrants"): st.one_of(st.just([]), st.lists(NO_DIGITS, min_size=1)),
    ("payload", "issued_at"): st.one_of(
        BAD_MOMENT,  # no offset (domain.md 7.16)
        AWARE.filter(lambda t: t > SIGNED_AT).map(datetime.isoformat),  # signed before issued
        AWARE.filter(lambda t: t.year < 2023).map(datetime.isoformat),  # before its process
    ),
    ("payload", "person", "birth_date"): st.dates(
        min_value=ISSUED_ON + timedelta(days=1), max_value=date(2100, 1, 1)
    ).map(date.isoformat),  # born after the order (domain.md 7.12)
    ("payload", "judge"): st.one_of(NOT_TEXT, st.just("   ")),
    ("payload", "issuing_court"): st.one_of(NOT_TEXT, NO_DIGITS.map(str.upper)),
    ("payload", "unexpected"): st.integers(),
}
RECEIPT_GARBAGE: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("payload", "order_number"): st.one_of(NOT_TEXT, NO_DIGITS),
    ("payload", "unit"): st.one_of(NOT_TEXT, NO_DIGITS.map(lambda s: s.upper() + "!")),
    ("payload", "received_at"): BAD_MOMENT,
    ("payload", "received_by"): st.one_of(NOT_TEXT, st.just({}), st.just(DELETE)),
    ("payload", "kind"): st.one_of(NOT_TEXT, st.just("court.release_order.issued")),
}


def _mutate(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> bytes:
    copy = json.loads(json.dumps(doc))
    node = copy
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return json.dumps(copy).encode()


def _refused_by_parser(body: bytes) -> bool:
    try:
        parse_envelope(body)
    except ContractError:
        return True
    return False


def mutated(doc: dict[str, Any], table: dict[tuple[str, ...], Any]) -> st.SearchStrategy[bytes]:
    """A valid document with one field made wrong (kept only if the contract refuses it)."""
    paths = st.sampled_from(sorted(table))
    bodies = paths.flatmap(lambda p: table[p].map(lambda v: _mutate(doc, p, v)))
    return bodies.filter(_refused_by_parser)


@st.composite
def altered(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A signed court document, and the same bytes with one byte changed after signing."""
    body = make_envelope(make_release_order(), message_id=uuid.uuid4()).to_bytes()
    at = draw(st.integers(0, len(body) - 1))
    byte = draw(st.integers(0, 255).filter(lambda b: b != body[at]))
    return body, body[:at] + bytes([byte]) + body[at + 1 :]


NAMES = st.text("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=30)
TAMPERING: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("payload", "person", "name"): NAMES.filter(str.strip),
    ("payload", "judge"): NAMES.filter(str.strip),
    ("payload", "custodial_unit"): st.from_regex(r"\Amg\.[a-z][a-z0-9-]{2,20}\Z"),
    ("payload", "conditions"): NAMES.filter(str.strip),
}


@st.composite
def tampered(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A signed court document, and a still valid one made from it by changing one field."""
    body = make_envelope(make_release_order(), message_id=uuid.uuid4()).to_bytes()
    path = draw(st.sampled_from(sorted(TAMPERING)))
    changed = _mutate(json.loads(body), path, draw(TAMPERING[path]))
    return body, changed


# ---------------------------------------------------------------- whole messages

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
NOISE = st.dictionaries(
    st.sampled_from(["x-hub-attempt", "x-hub-court", "x-hub-error-reason", "x-hub-failed-queue"]),
    st.one_of(st.text(max_size=20), st.integers(-(2**31), 2**31 - 1), st.booleans()),
    max_size=2,
)
CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "text/plain", "application/octet-stream", "application/xml"]
)
HUGE = st.integers(1_000_000, 3_000_000).map(
    lambda n: json.dumps({**ORDER, "payload": {**ORDER["payload"], "judge": "x" * n}}).encode()
)


def _court(bodies: st.SearchStrategy[bytes], family: str) -> st.SearchStrategy[Example]:
    """Court messages: each body signed by the registered key, so its content is what fails."""
    return st.builds(
        lambda body, noise, ct: Example(body, noise | SIGNER.headers(body), ct, family),
        bodies,
        NOISE,
        CONTENT_TYPES,
    )


def _signed_then_changed(
    pairs: st.SearchStrategy[tuple[bytes, bytes]], family: str
) -> st.SearchStrategy[Example]:
    """The changed body sent with the signature of the original."""
    return st.builds(
        lambda pair, ct: Example(pair[1], SIGNER.headers(pair[0]), ct, family), pairs, CONTENT_TYPES
    )


def _unit(bodies: st.SearchStrategy[bytes], family: str) -> st.SearchStrategy[Example]:
    return st.builds(
        lambda b, noise, ct: Example(b, noise, ct, family), bodies, NOISE, CONTENT_TYPES
    )


def court_garbage() -> list[Example]:
    """About 50 bad court messages of every family."""
    table = ENVELOPE_GARBAGE | ORDER_GARBAGE
    return (
        examples(_court(st.binary(max_size=2048), "bytes"), 10)
        + examples(_court(JSON.map(lambda v: json.dumps(v).encode()), "json"), 10)
        + examples(_court(mutated(ORDER, table), "mutated"), 20)
        + examples(_signed_then_changed(altered(), "altered"), 8)
        + examples(_signed_then_changed(tampered(), "tampered"), 6)
        + examples(_court(HUGE, "huge"), 2)
    )


def unit_garbage() -> list[Example]:
    """About 30 bad custodial-unit messages of every family."""
    table = ENVELOPE_GARBAGE | RECEIPT_GARBAGE
    return (
        examples(_unit(st.binary(max_size=2048), "bytes"), 8)
        + examples(_unit(JSON.map(lambda v: json.dumps(v).encode()), "json"), 8)
        + examples(_unit(mutated(RECEIPT, table), "mutated"), 16)
    )


# ---------------------------------------------------------------- the good messages among them


def _process(i: int) -> str:
    return format_cnj(3000 + i, 2024, 8, 13, 24)


def good_order(i: int) -> Example:
    """A valid, signed release order number `i` for the unit `UNIT`."""
    now = datetime.now(UTC)
    order = make_release_order(
        order_number=f"{_process(i)}.0002",
        process_number=_process(i),
        covered_warrants=(f"{_process(i)}.0001",),
        issued_at=now,
        signed_at=now,
    )
    body = make_envelope(order, message_id=uuid.uuid4(), occurred_at=now).to_bytes()
    return Example(body, SIGNER.headers(body), "application/json", "good")


def good_receipt(i: int) -> Example:
    """The unit's valid receipt of order `i`."""
    now = datetime.now(UTC)
    receipt = make_receipt(order_number=f"{_process(i)}.0002", unit=UNIT, received_at=now)
    body = make_envelope(receipt, message_id=uuid.uuid4(), occurred_at=now).to_bytes()
    return Example(body, {}, "application/json", "good")


def interleave(bad: list[Example], good: list[Example]) -> list[Example]:
    """The bad messages with the good ones spread among them, the last one at the end."""
    out, step = list(bad), max(1, len(bad) // len(good))
    for k, g in enumerate(good):
        out.insert(min(len(out), (k + 1) * step + k), g)
    return out


# ---------------------------------------------------------------- the test


async def _publish(
    settings: HubSettings, exchange_name: str, messages: list[Example]
) -> dict[str, Example]:
    """Publish every message to the fanout exchange `exchange`; return them by AMQP message id."""
    sent = {}
    async with amqp(settings) as ch:
        exchange = await ch.get_exchange(exchange_name)
        for m in messages:
            mid = str(uuid.uuid4())
            sent[mid] = m
            message = aio_pika.Message(
                m.body, headers=m.headers, content_type=m.content_type, message_id=mid
            )
            await exchange.publish(message, routing_key="")
    return sent


async def _all_settled(
    settings: HubSettings, sent: dict[str, Example], states: Callable[[list[Any]], bool]
) -> list[Any]:
    """Wait until every bad message is parked and the good ones reached their state."""
    bad = [mid for mid, m in sent.items() if m.family != "good"]

    async def settled() -> list[Any] | None:
        async with database(settings) as db:
            parked = await db.fetch(
                "SELECT message_id::text AS id, queue, reason FROM dead_letters"
                " WHERE message_id = ANY($1::uuid[])",
                bad,
            )
            orders = await db.fetch("SELECT order_number, state FROM release_orders")
        return parked if len(parked) == len(bad) and states(orders) else None

    try:
        return list(await wait_for(settled, within=30, what="every bad message parked"))
    except AssertionError:
        async with database(settings) as db:
            parked = {
                r["id"] for r in await db.fetch("SELECT message_id::text AS id FROM dead_letters")
            }
        lost = [sent[mid] for mid in bad if mid not in parked]
        raise AssertionError(f"not parked: {lost[:3]!r}") from None


async def _consumers(settings: HubSettings, queue: str) -> tuple[int, int]:
    async with amqp(settings) as ch:
        q = await ch.declare_queue(queue, passive=True)
        result = q.declaration_result
        return int(result.message_count or 0), int(result.consumer_count or 0)


async def test_garbage_from_courts_and_units_is_dead_lettered_and_the_rest_flows(
    settings: HubSettings,
) -> None:
    """Every fuzzed message is parked with a reason (a document changed after signing: always
    bad_signature); the consumers keep running; the good orders and receipts among them flow."""
    # Production's checks: signatures and unit identity required. The unit's messages go through
    # its own exchange, which names it (`hub.domain.sender`).
    security = SecuritySettings(court_keys={SIGNER.key_id: SIGNER.court_key()})
    s = settings.model_copy(update={"security": security})
    orders, receipts = [good_order(i) for i in range(4)], [good_receipt(i) for i in range(4)]
    numbers = {f"{_process(i)}.0002" for i in range(4)}
    async with Hub(s, specs=SPECS, background=False):
        sent_court = await _publish(s, COURT_IN, interleave(court_garbage(), orders))
        court_parked = await _all_settled(
            s, sent_court, lambda rows: {r["order_number"] for r in rows} == numbers
        )
        sent = await _publish(s, unit_exchange(UNIT), interleave(unit_garbage(), receipts))
        unit_parked = await _all_settled(
            s, sent, lambda rows: {r["state"] for r in rows} == {"received"}
        )
        assert await _consumers(s, COURT_IN) == (0, 1)
        assert await _consumers(s, UNIT_IN) == (0, 1)
    tampered = {mid for mid, m in sent_court.items() if m.family == "tampered"}
    assert {r["reason"] for r in court_parked if r["id"] in tampered} == {"bad_signature"}
    for parked, queue in ((court_parked, COURT_IN), (unit_parked, UNIT_IN)):
        assert {r["queue"] for r in parked} == {queue}
        assert all(r["reason"] for r in parked)
    assert len({r["reason"] for r in court_parked + unit_parked}) >= 3
