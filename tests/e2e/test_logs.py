"""No CPF, name or mother's name in any log line of a full run (structlog and stdlib logging).

The hub's own logs are captured as JSON lines at DEBUG, configured by `hub.logs.configure_logging`
(with its PII scrub); every stdlib logger (FastStream, aio-pika, httpx, uvicorn...) is captured at
DEBUG through caplog. The persons in the documents have names found nowhere else, so a hit can only
be a leak. A canary proves the scan sees what it should before the flows run.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest
import structlog

from contracts import cpf_check_digits
from contracts.people import Person
from hub.logs import BODY_LOGGERS, configure_logging
from tests.factories import make_envelope
from tests.integration.harness import amqp, send, wait_for

from .conftest import E2E, order, warrant


def _cpf(base: str) -> str:
    return base + cpf_check_digits(base)


RELEASED = Person(
    cpf=_cpf("318402957"),
    name="Heliodoro Quintanilha Vasconcelos",
    mother_name="Filomena Quintanilha Braganca",
    birth_date=date(1988, 4, 2),
)
WANTED = Person(
    cpf=_cpf("604871239"),
    name="Evaristo Pimentel Carvalhaes",
    mother_name="Genoveva Pimentel Albuquerque",
    birth_date=date(1979, 11, 23),
)
FORGED = Person(
    cpf=_cpf("775190364"),
    name="Anacleto Teodoro Sampaio",
    mother_name="Leopoldina Teodoro Rezende",
    birth_date=date(1995, 7, 9),
)
PERSONS = (RELEASED, WANTED, FORGED)
BAD_CPF = "52998224726"  # wrong check digit: the document is refused for it (domain.md 7.3)


def needles(p: Person) -> set[str]:
    """Every form of a person's data a log line must not carry: CPF (plain, masked, the tail the
    dashboard's mask keeps), names, and each part of a name."""
    d = str(p.cpf)
    forms = {d, f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}", f".{d[6:9]}-{d[9:]}"}
    for name in (p.name, p.mother_name):
        assert name is not None
        forms |= {name.lower()} | {part.lower() for part in name.split() if len(part) > 3}
    return forms


ALL_NEEDLES = set().union(*(needles(p) for p in PERSONS)) | {BAD_CPF}


def leaks(lines: list[str]) -> list[tuple[str, str]]:
    """(needle, line) for each piece of personal data found in the lines, JSON-decoded or not."""
    found = []
    for line in lines:
        texts = [line.lower()]
        with contextlib.suppress(ValueError):
            texts.append(json.dumps(json.loads(line), ensure_ascii=False).lower())
        found += [(n, line[:300]) for n in ALL_NEEDLES if any(n.lower() in t for t in texts)]
    return found


class Captured:
    """Everything logged: the hub's structlog lines and the stdlib records."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.stream = io.StringIO()
        self.caplog = caplog

    def lines(self) -> list[str]:
        """Every captured line, formatted as it would be written."""
        ours = self.stream.getvalue().splitlines()
        theirs = [
            f"{r.name} {r.levelname} {r.getMessage()} {r.args!r}" for r in self.caplog.records
        ]
        return ours + theirs + [t for r in self.caplog.records if (t := _exc_text(r))]

    def clear(self) -> None:
        """Forget what was captured so far."""
        self.stream.seek(0)
        self.stream.truncate()
        self.caplog.clear()


def _exc_text(record: logging.LogRecord) -> str:
    if not record.exc_info:
        return ""
    return logging.Formatter().formatException(record.exc_info)


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[Captured]:
    """The hub's logging configured at DEBUG into a buffer; stdlib logging at DEBUG to caplog."""
    before = structlog.get_config()
    levels = {name: logging.getLogger(name).level for name in BODY_LOGGERS}
    c = Captured(caplog)
    configure_logging("DEBUG", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=c.stream))
    caplog.set_level(logging.DEBUG)
    try:
        yield c
    finally:
        structlog.configure(**before)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
async def e2e(captured: Captured, e2e: E2E) -> AsyncIterator[E2E]:
    """The e2e world, started after the logs are captured (so start-up is scanned too)."""
    # Loggers that do not propagate to the root (FastStream's access log) are listened to directly.
    quiet = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    levels = {logger.name: logger.level for logger in quiet}
    for logger in quiet:
        logger.addHandler(captured.caplog.handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield e2e
    finally:
        for logger in quiet:
            logger.removeHandler(captured.caplog.handler)
            logger.setLevel(levels[logger.name])


async def _canary(captured: Captured) -> None:
    """Personal data logged on purpose is found, by both capture paths; then forgotten."""
    structlog.get_logger("hub.canary").info("canary", note=RELEASED.name)
    logging.getLogger("faststream.access.rabbit").debug("canary %s", WANTED.cpf)
    logging.getLogger("aiormq.canary").warning("canary %s", FORGED.mother_name)
    found = {n for n, _ in leaks(captured.lines())}
    assert {str(RELEASED.name).lower(), str(WANTED.cpf), str(FORGED.mother_name).lower()} <= found
    captured.clear()


def _body(payload: Any) -> bytes:
    """The envelope of `payload`, sent now, as bytes."""
    return make_envelope(payload, message_id=uuid4(), occurred_at=datetime.now(UTC)).to_bytes()


async def _publish(e2e: E2E, body: bytes, *, signed: bool) -> bytes:
    """Publish a court document, signed with the court's key or not at all."""
    headers = e2e.world.court_signer.headers(body) if signed else {}
    async with amqp(e2e.settings) as ch:
        await send(ch, "hub.court.in", body, headers=headers)
    return body


async def test_no_personal_data_in_any_log_line(e2e: E2E, captured: Captured) -> None:
    """A release, a warrant, a forged and an invalid document: not one log line names anyone."""
    await _canary(captured)
    released = order(41, person=RELEASED.model_dump())
    wanted = warrant(42, person=WANTED.model_dump())
    sent = [
        (await e2e.court_sends(released)).to_bytes(),
        (await e2e.court_sends(wanted)).to_bytes(),
    ]
    sent.append(await _publish(e2e, _body(order(43, person=FORGED.model_dump())), signed=False))
    invalid = _body(order(44, person=RELEASED.model_dump())).replace(
        str(RELEASED.cpf).encode(), BAD_CPF.encode()
    )
    sent.append(await _publish(e2e, invalid, signed=True))
    for body, person in zip(sent, (RELEASED, WANTED, FORGED), strict=False):
        assert str(person.cpf).encode() in body  # the scan looks for data that was really sent
        assert str(person.name).encode() in body
        assert str(person.mother_name).encode() in body
    assert BAD_CPF.encode() in sent[3]
    await e2e.until_order(released.order_number, "certified")
    await e2e.until_warrant(wanted.warrant_number, "pending")

    async def both_parked() -> bool:
        return bool(await e2e.fetch("SELECT count(*) FROM dead_letters") == 2)

    await wait_for(both_parked, what="the forged and the invalid document parked")
    lines = captured.lines()
    assert len(lines) > 50  # the run was logged, at DEBUG
    assert any('"message.failed"' in line for line in lines)
    assert leaks(lines) == []
