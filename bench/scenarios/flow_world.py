"""`python -m bench.scenarios.flow_world SPEC`: the four external systems and the court's sender.

The simulators of the whole-flow scenario run here, in a process of their own, so that their CPU
and memory are not charged to the hub: BNMP, SETARIM and a court system as HTTP servers on loopback
and the custodial units as AMQP clients (`sandbox.simulate.SimWorld`, as the demo and the fault
suite use them), all answering at once. The court system is here too: it signs and publishes the
warrants and release orders over AMQP, as `sandbox.demo.driver` does.

The hub's worker (`bench.scenarios.flow.flow_step`) drives this process over its stdin and stdout,
one line per command and one `@flow <json>` line per answer (anything else on stdout is noise):

* at start: simulators up, units consuming; answers `ready` with the hub's settings pointed at them
  (URLs and the court's public key);
* `preload`: the court issues one warrant per order; once BNMP has registered them all, BNMP
  reports each as complied by the police (light-filter); answers `preloaded` once the hub has
  delivered every consequence (two court notifications and two SETARIM updates per warrant);
* `go`: the court issues the release orders, each covering its complied warrant, keeping at most
  `spec.in_flight` of them open (issued, and the compliance certificate not yet registered in BNMP):
  a closed loop, so the hub is kept busy without an unbounded queue in front of it;
* `stop`: answers `stopped` with what each simulated system saw and this process's CPU, then exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import structlog

from bench.results import StepSpec
from connectors.bnmp.mapping import digits
from contracts import (
    BnmpDocumentType,
    Envelope,
    ReleaseMotive,
    ReleaseOrderIssued,
    Source,
    WarrantIssued,
    cpf_check_digits,
    format_cnj,
)
from contracts.envelope import AnyPayload
from contracts.people import Person
from hub.domain.topology import in_queue
from hub.settings import HubSettings, revealed_json
from sandbox.demo.driver import JUDGE, preventive_warrant
from sandbox.simulate import SimWorld

__all__ = ["MARK", "main", "order_number", "warrant_number"]

MARK = "@flow "
COURT = Source(connector="court", system="RUPE")
ISSUING_COURT = "tjmg.vep-bh"
_FIRST_PROCESS = 3_000_000  # process numbers NNNNNNN of the flow's cases start here
_PRELOAD_WINDOW = 500  # warrants published at once; their confirms are pipelined
_POLL_S = 0.005
_CERTIFICATE = f"{BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE.value}:"


def process_number(i: int) -> str:
    """The CNJ number of case `i` (real check digits)."""
    return format_cnj(_FIRST_PROCESS + i, 2024, 8, 13, 24)


def warrant_number(i: int) -> str:
    """The arrest warrant of case `i`."""
    return f"{process_number(i)}.0001"


def order_number(i: int) -> str:
    """The release order of case `i`."""
    return f"{process_number(i)}.0002"


def _person(i: int) -> Person:
    """A distinct synthetic person per case (CPF with real check digits), so SETARIM finds no
    other open warrant of theirs: every order is cleared and the person released."""
    nine = f"{100_000_000 + i * 7919 % 899_999_999:09d}"
    return Person(
        cpf=nine + cpf_check_digits(nine),
        name="Pessoa Sintética",
        mother_name="Mãe Sintética",
        birth_date=date(1990, 1, 1),
    )


def warrant_of(i: int, now: datetime) -> WarrantIssued:
    """The preventive-arrest warrant of case `i`."""
    return preventive_warrant(warrant_number(i), process_number(i), _person(i), ISSUING_COURT, now)


def order_of(i: int, unit: str, now: datetime) -> ReleaseOrderIssued:
    """The release order of case `i`, covering its warrant, for the unit holding the person."""
    return ReleaseOrderIssued(
        order_number=order_number(i),
        process_number=process_number(i),
        motive=ReleaseMotive.PROVISIONAL_RELEASE,
        person=_person(i),
        covered_warrants=(warrant_number(i),),
        issuing_court=ISSUING_COURT,
        judge=JUDGE,
        custodial_unit=unit,
        issued_at=now,
        signed_at=now,
    )


def _say(what: str, **detail: Any) -> None:
    print(MARK + json.dumps({"event": what, **detail}, default=str), flush=True)


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Court:
    """The court system: signs what it issues with its key and publishes it with confirms."""

    def __init__(self, world: SimWorld, channel: aio_pika.abc.AbstractChannel) -> None:
        self._world = world
        self._channel = channel
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def issue(self, payload: AnyPayload, now: datetime) -> None:
        """Publish one document as the court would, signed (the integration guide's way)."""
        if self._exchange is None:
            self._exchange = await self._channel.get_exchange(in_queue("court"), ensure=False)
        env = Envelope.new(payload, source=COURT, occurred_at=now)
        body = env.to_bytes()
        await self._exchange.publish(
            aio_pika.Message(
                body,
                message_id=str(env.message_id),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=dict(self._world.court_signer.headers(body)),
            ),
            routing_key="",
        )


async def _until(condition: Any, what: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"flow world: {what} not reached within {within_s:.0f} s")
        await asyncio.sleep(0.05)


async def preload(world: SimWorld, court: Court, n: int, within_s: float) -> dict[str, Any]:
    """Warrants issued, registered by BNMP, then complied with (as BNMP's users report it)."""
    t0 = time.perf_counter()
    for first in range(0, n, _PRELOAD_WINDOW):
        now = datetime.now(UTC)
        batch = range(first, min(n, first + _PRELOAD_WINDOW))
        await asyncio.gather(*(court.issue(warrant_of(i, now), now) for i in batch))
    await _until(lambda: len(world.bnmp.registered) >= n, "every warrant registered", within_s)
    base = datetime.now(UTC)
    for i in range(n):  # distinct, increasing times: the hub's cursor moves past them
        world.bnmp.comply(
            digits(warrant_number(i)), base + timedelta(microseconds=i), "Belo Horizonte/MG"
        )
    # Each warrant: the court is notified of its registration and of its compliance, and SETARIM
    # records it twice (pending, complied). Then nothing of the preload is left in flight.
    await _until(
        lambda: sum(world.court.by_kind.values()) >= 2 * n and world.setarim.effects.calls >= 2 * n,
        "every warrant complied and its consequences delivered",
        within_s,
    )
    return {"warrants": n, "seconds": round(time.perf_counter() - t0, 3)}


class Sender:
    """The release orders, issued in a closed loop: at most `in_flight` open at any time.

    An order is closed when BNMP registers its compliance certificate, the last external call of
    its flow (the hub then records it as certified). BNMP's effect log is append-only, so reading
    it from where the last look stopped costs only the new entries.
    """

    def __init__(self, world: SimWorld, court: Court, n: int, in_flight: int) -> None:
        self._world = world
        self._court = court
        self._n = n
        self._in_flight = max(1, in_flight)
        self._units = list(world.settings.units)
        self._seen = 0
        self.closed = 0
        self.sent = 0
        self.max_open = 0
        self.failed = 0

    def _look(self) -> None:
        log = self._world.bnmp.effects.order
        new = log[self._seen :]
        self._seen += len(new)
        self.closed += sum(1 for key in new if key.startswith(_CERTIFICATE))

    async def _issue(self, i: int) -> None:
        now = datetime.now(UTC)
        try:
            await self._court.issue(order_of(i, self._units[i % len(self._units)], now), now)
        except Exception:  # counted, reported; the hub's side then never sees all orders done
            self.failed += 1
            raise

    async def run(self) -> None:
        """Issue every order, keeping the number open at most `in_flight`."""
        tasks: list[asyncio.Task[None]] = []
        while self.sent < self._n:
            self._look()
            while self.sent < self._n and self.sent - self.closed < self._in_flight:
                tasks.append(asyncio.create_task(self._issue(self.sent)))
                self.sent += 1
            self.max_open = max(self.max_open, self.sent - self.closed)
            await asyncio.sleep(_POLL_S)
        await asyncio.gather(*tasks, return_exceptions=True)


def _duplicates(world: SimWorld) -> dict[str, int]:
    """Calls that repeated an effect already made (BNMP answers 409; SETARIM validates again)."""
    return {
        "bnmp": sum(n - 1 for n in world.bnmp.effects.attempts.values()),
        "setarim": sum(n - 1 for n in world.setarim.effects.attempts.values()),
    }


def _stats(world: SimWorld, before_go: dict[str, int]) -> dict[str, Any]:
    s = world.stats()
    now = _duplicates(world)
    return {
        "duplicate_attempts_while_measured": {k: now[k] - before_go.get(k, 0) for k in now},
        "bnmp": {k: s["bnmp"][k] for k in ("effects", "duplicate_attempts", "calls", "failed")},
        "setarim": {k: s["setarim"][k] for k in ("effects", "duplicate_attempts", "calls")},
        "court": {
            "notifications": sum(world.court.by_kind.values()),
            "by_kind": dict(world.court.by_kind),
            "forged": s["court"]["forged"],
        },
        "units": s["units"],
    }


async def _serve(spec: StepSpec) -> None:
    settings: HubSettings = spec.settings
    world = SimWorld(settings)
    await world.start_http()
    await world.start_units()  # the orchestrator declared the hub's topology beforehand
    conn = await aio_pika.connect(settings.rabbit.url)
    court = Court(world, await conn.channel(publisher_confirms=True, on_return_raises=True))
    _say("ready", settings=json.loads(revealed_json(world.hub_settings())))
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sender: Sender | None = None
    sending: asyncio.Task[None] | None = None
    cpu0 = t0 = 0.0
    before_go: dict[str, int] = {}
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "preload":
                _say("preloaded", **await preload(world, court, spec.messages, spec.timeout_s))
            elif line == "go":
                cpu0, t0, before_go = _cpu_s(), time.perf_counter(), _duplicates(world)
                sender = Sender(world, court, spec.messages, spec.in_flight)
                sending = asyncio.create_task(sender.run())
            elif line == "stop":
                break
        if sending is not None:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
        cpu, seconds = _cpu_s() - cpu0, time.perf_counter() - t0
        _say(
            "stopped",
            cpu_s=round(cpu, 3),
            seconds=round(seconds, 3),
            sent=sender.sent if sender else 0,
            publish_failed=sender.failed if sender else 0,
            max_open=sender.max_open if sender else 0,
            **_stats(world, before_go),
        )
    finally:
        await conn.close()
        await world.stop()


def main(argv: list[str]) -> int:
    """Run the simulators and the court for the step described in the file argv[0]."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    spec = StepSpec.model_validate_json(Path(argv[0]).read_text())
    asyncio.run(_serve(spec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
