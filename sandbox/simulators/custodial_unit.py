"""Custodial units on loopback: each consumes its queue over AMQP and answers as a prison would.

On a release order: acknowledge receipt. On SETARIM's certificate (forwarded by the hub): with no
impediment, release and certify; with impediments, keep the person and certify why. Deliveries are
deduplicated by message id; `released` counts releases per order (a second one would be a duplicated
effect). Faults: `down` (not consuming), `slow_s`, `duplicate_receipts` (send each receipt twice,
once as a copy and once as a new message), `compliance_first` (certify compliance before
acknowledging receipt: the certificate overtakes the receipt), `headers` (sent with every answer,
e.g. forged `x-hub-*` ones). Behaviours a unit may have: `hold_impeded` (an order with impediments
waits for their regularisation, S000 art.4 §2: the unit certifies only once a later certificate
clears it), `release_lag_s` (the release happens that long before the unit certifies it: the
certificate carries both times, R417 art.9).
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

from connectors.custodial_unit.client import UnitClient
from connectors.custodial_unit.mapping import compliance_for, receipt_for
from contracts import (
    ComplianceCertified,
    Envelope,
    ReceiptAcknowledged,
    ReleaseOrderIssued,
    Source,
    ValidationCompleted,
)
from contracts.people import Official

__all__ = ["UnitFaults", "UnitSimulator"]

OFFICIAL = Official(name="Agente Plantonista", role="agente de segurança penitenciária")


@dataclass
class UnitFaults:
    """What the units do wrong."""

    slow_s: float = 0.0
    duplicate_receipts: bool = False
    compliance_first: bool = False
    receipt_after_s: float = 0.0  # with compliance_first: how long after the compliance
    headers: dict[str, Any] = field(default_factory=dict)
    hold_impeded: bool = False
    release_lag_s: float = 0.0


@dataclass
class _Unit:
    client: UnitClient
    orders: dict[str, ReleaseOrderIssued] = field(default_factory=dict)
    early: dict[str, ValidationCompleted] = field(default_factory=dict)
    unreceived: dict[str, tuple[Envelope, ReceiptAcknowledged]] = field(default_factory=dict)


class UnitSimulator:
    """Several units, each with its own connection (and its own user, where `urls` gives one)."""

    def __init__(
        self,
        url: str,
        units: list[str],
        clock: Callable[[], datetime],
        urls: Mapping[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.faults = UnitFaults()
        self.seen: set[str] = set()
        self.released: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()
        self.receipts = 0
        urls = urls or {}
        self._units = {u: _Unit(UnitClient(urls.get(u, url), u)) for u in units}

    async def start(self) -> None:
        """Connect every unit and start consuming."""
        for name, unit in self._units.items():
            await unit.client.start(functools.partial(self._on, name))

    async def leave(self, unit: str) -> None:
        """Disconnect unit `unit` alone: someone else (a test) speaks for it from now on."""
        await self._units.pop(unit).client.stop()

    async def stop(self) -> None:
        """Disconnect every unit."""
        for unit in self._units.values():
            await unit.client.stop()

    def _source(self, unit: str) -> Source:
        return Source(connector="custodial_unit", system="SIGPRI", unit=unit)

    async def _send(
        self,
        unit: str,
        payload: ReceiptAcknowledged | ComplianceCertified,
        cause: Envelope,
        key: str,
    ) -> Envelope:
        env = Envelope.new(
            payload,
            source=self._source(unit),
            correlation_id=cause.correlation_id,
            causation_id=cause.message_id,
            occurred_at=self.clock(),
            message_id=uuid5(NAMESPACE_URL, f"unit:{unit}:{key}"),
        )
        await self._units[unit].client.answer(env, self.faults.headers or None)
        return env

    async def _on(self, unit: str, env: Envelope) -> None:
        if str(env.message_id) in self.seen:
            return  # a copy: this unit already acted on it
        self.seen.add(str(env.message_id))
        if self.faults.slow_s:
            await asyncio.sleep(self.faults.slow_s)
        p = env.payload
        if isinstance(p, ReleaseOrderIssued):
            await self._receive(unit, env, p)
        elif isinstance(p, ValidationCompleted):
            await self._comply(unit, env, p)

    async def _receive(self, unit: str, env: Envelope, order: ReleaseOrderIssued) -> None:
        u = self._units[unit]
        u.orders[order.order_number] = order
        receipt = receipt_for(order, unit, self.clock(), OFFICIAL)  # received now...
        if self.faults.compliance_first:
            u.unreceived[order.order_number] = (env, receipt)  # ...said after the compliance
        else:
            await self._acknowledge(unit, env, receipt)
        if order.order_number in u.early:
            await self._comply(unit, env, u.early.pop(order.order_number))

    async def _acknowledge(self, unit: str, env: Envelope, receipt: ReceiptAcknowledged) -> None:
        u = self._units[unit]
        sent = await self._send(unit, receipt, env, f"receipt:{receipt.order_number}")
        self.receipts += 1
        if self.faults.duplicate_receipts:
            await u.client.answer(sent)  # the same message again
            await u.client.answer(sent.model_copy(update={"message_id": uuid4()}))  # a new one

    async def _comply(self, unit: str, env: Envelope, validation: ValidationCompleted) -> None:
        u = self._units[unit]
        order = u.orders.get(validation.order_number)
        if order is None:
            u.early[validation.order_number] = validation  # the certificate overtook the order
            return
        if validation.impediments and self.faults.hold_impeded:
            return  # kept open: the impediments may yet be regularised
        certificate = compliance_for(order, unit, self.clock(), OFFICIAL, validation.impediments)
        if certificate.released and self.faults.release_lag_s:
            released = certificate.certified_at - timedelta(seconds=self.faults.release_lag_s)
            certificate = ComplianceCertified.model_validate(
                {**certificate.model_dump(), "released_at": released}
            )
        await self._send(unit, certificate, env, f"compliance:{order.order_number}")
        (self.released if certificate.released else self.kept)[order.order_number] += 1
        if (held := u.unreceived.pop(order.order_number, None)) is not None:
            if self.faults.receipt_after_s:
                await asyncio.sleep(self.faults.receipt_after_s)  # the unit's own pace
            await self._acknowledge(unit, *held)
