"""Plays the demo's steps against the running hub: documents from the courts over AMQP, BNMP's own
changes, and the faults (pure builders for the documents, a thin driver for the I/O)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4

import aio_pika

from connectors.bnmp.mapping import digits
from contracts import (
    Envelope,
    ReleaseMotive,
    ReleaseOrderIssued,
    Source,
    WarrantIssued,
    WarrantRevoked,
    WarrantSpecies,
)
from contracts.envelope import AnyPayload
from contracts.people import Person
from hub.domain.topology import in_queue
from sandbox.demo.scenario import Step, process_of
from sandbox.simulate import SimWorld

__all__ = ["Driver", "malformed", "order_of", "preventive_warrant", "warrant_of"]

COURT = Source(connector="court", system="RUPE")
JUDGE = "Juíza de Plantão"


def _person(p: Any) -> Person:
    return Person(cpf=p.cpf, name=p.name, mother_name=p.mother_name, birth_date=date(1990, 1, 1))


def warrant_number(i: int, seq: int = 1) -> str:
    """Warrant `seq` of case `i`."""
    return f"{process_of(i)}.{seq:04d}"


def warrant_of(params: dict[str, Any], now: datetime) -> WarrantIssued:
    """A preventive-arrest warrant for case `i`."""
    i, seq = params["i"], params.get("seq", 1)
    return preventive_warrant(
        warrant_number(i, seq), process_of(i), _person(params["person"]), params["court"], now
    )


def preventive_warrant(
    number: str, process: str, person: Person, court: str, now: datetime
) -> WarrantIssued:
    """A preventive-arrest warrant issued and signed `now`, valid for a year."""
    return WarrantIssued(
        warrant_number=number,
        process_number=process,
        species=WarrantSpecies.PREVENTIVE,
        reason="garantia da ordem pública",
        legal_ground="CPP art. 312",
        offence="CP art. 157",
        valid_until=(now + timedelta(days=365)).date(),
        issued_at=now,
        signed_at=now,
        judge=JUDGE,
        issuing_court=court,
        person=person,
    )


def order_of(params: dict[str, Any], now: datetime) -> ReleaseOrderIssued:
    """The release order of case `i` (flagrante: no warrant, the arrest date instead)."""
    i = params["i"]
    flagrante = bool(params.get("flagrante"))
    return ReleaseOrderIssued(
        order_number=f"{process_of(i)}.0002",
        process_number=process_of(i),
        motive=ReleaseMotive.PROVISIONAL_RELEASE,
        person=_person(params["person"]),
        covered_warrants=() if flagrante else (warrant_number(i),),
        flagrante=flagrante,
        arrest_date=(now - timedelta(days=1)).date() if flagrante else None,
        issuing_court=params["court"],
        judge=JUDGE,
        custodial_unit=params["unit"],
        issued_at=now,
        signed_at=now,
    )


def counter_warrant_of(i: int, court: str, now: datetime) -> WarrantRevoked:
    """The contramandado of case `i`'s warrant."""
    return WarrantRevoked(
        counter_warrant_number=warrant_number(i, 9),
        warrant_number=warrant_number(i),
        reason="revogação da preventiva",
        issued_at=now,
        signed_at=now,
        issuing_court=court,
    )


def malformed(which: str, now: datetime) -> bytes:
    """Bad input a court system might send: each must end as a dead letter with its reason."""
    good = Envelope.new(
        order_of(
            {"i": 90000, "person": _Nobody, "court": "tjmg.vep-bh", "unit": "mg.ceresp-bh"}, now
        ),
        source=COURT,
        occurred_at=now,
    )
    doc = json.loads(good.to_json())
    if which == "not_json":
        return b"{this is not json"
    if which == "bad_cnj":
        pn = doc["payload"]["process_number"]  # wrong check digits (R65 MOD 97-10)
        doc["payload"]["process_number"] = f"{pn[:8]}{(int(pn[8:10]) + 1) % 100:02d}{pn[10:]}"
    elif which == "unknown_kind":
        doc["kind"] = doc["payload"]["kind"] = "court.release_order.cancelled"
    elif which == "old_schema":
        doc["schema_version"] = 99
    elif which == "wrong_queue":
        doc = {**doc, "kind": "custodial_unit.receipt.acknowledged"}
    return json.dumps(doc).encode()


class _Nobody:
    cpf, name, mother_name = "52998224725", "Pessoa Exemplo", "Mãe Exemplo"


class Driver:
    """Executes steps: publishes as the courts, reports as BNMP, breaks what the script breaks."""

    def __init__(
        self, world: SimWorld, channel: aio_pika.abc.AbstractChannel, clock: Callable[[], datetime]
    ) -> None:
        self.world = world
        self.channel = channel
        self.clock = clock
        self.sent_orders: list[str] = []
        self.refused_expected = 0

    async def _publish(self, body: bytes, message_id: str | None = None) -> None:
        """Publish as a court system does: signed with the court's key (even the bad documents,
        which the hub must refuse for what they say, not for a missing signature)."""
        ex = await self.channel.get_exchange(in_queue("court"), ensure=False)
        signature: dict[str, Any] = dict(self.world.court_signer.headers(body))
        await ex.publish(
            aio_pika.Message(
                body,
                message_id=message_id or str(uuid4()),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=signature,
            ),
            routing_key="",
        )

    async def _court(self, payload: AnyPayload) -> None:
        env = Envelope.new(payload, source=COURT, occurred_at=self.clock())
        await self._publish(env.to_bytes(), str(env.message_id))

    def _bnmp_change(self, i: int, what: str) -> None:
        """BNMP's own users act on case `i`'s warrant: the police comply with it (Prov. Conj.
        154/2025), or its validity passes and BNMP revokes it (S003 art.7 sole §)."""
        number, bnmp = digits(warrant_number(i)), self.world.bnmp
        if what == "complied":
            bnmp.comply(number, self.clock(), "Belo Horizonte/MG")
        else:
            bnmp.expire(number, self.clock())

    async def do(self, step: Step) -> None:
        """Carry out one step."""
        p, now = step.params, self.clock()
        match step.action:
            case "warrant":
                await self._court(warrant_of(p, now))
            case "order":
                order = order_of(p, now)
                await self._court(order)
                self.sent_orders.append(order.order_number)
            case "counter_warrant":
                await self._court(counter_warrant_of(p["i"], "tjmg.vep-bh", now))
            case "complied" | "expired":
                self._bnmp_change(p["i"], step.action)
            case "malformed":
                await self._publish(malformed(p["which"], now))
            case "bnmp_down" | "bnmp_up":
                self.world.bnmp.faults.down = step.action == "bnmp_down"
            case "units_slow" | "units_fast":
                self.world.units.faults.slow_s = 4.0 if step.action == "units_slow" else 0.0
