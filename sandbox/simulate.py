"""All four external systems on loopback, for tests, the demo, and a person trying the hub.

`SimWorld` starts the BNMP, SETARIM and court simulators as real HTTP servers (uvicorn on 127.0.0.1)
and the custodial units as AMQP clients, and says where they are, as settings for the hub.
`python -m sandbox.simulate` runs them on their own until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from connectors.court.signing import CourtSigner
from hub.domain.grants import grants
from hub.http.server import HttpServer
from hub.settings import CourtWebhook, HubSettings
from sandbox.brokerusers import BrokerUsers
from sandbox.simulators.bnmp import BnmpSimulator
from sandbox.simulators.bnmp import create_app as bnmp_app
from sandbox.simulators.court import CourtSimulator
from sandbox.simulators.court import create_app as court_app
from sandbox.simulators.custodial_unit import UnitSimulator
from sandbox.simulators.setarim import SetarimSimulator
from sandbox.simulators.setarim import create_app as setarim_app

__all__ = ["HttpServer", "SimWorld"]


@dataclass
class SimWorld:
    """BNMP, SETARIM, a court system and the custodial units, all on loopback."""

    settings: HubSettings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        self.bnmp = BnmpSimulator(
            s.bnmp.client_id, s.bnmp.client_secret.get_secret_value(), self.clock
        )
        self.setarim = SetarimSimulator(self.clock)
        self.court = CourtSimulator(secrets.token_urlsafe(24))  # this world's court system's
        # The court systems' signing key, new each run; what they publish is signed with it.
        self.court_signer = CourtSigner.generate("sim-court", "RUPE")
        # Each unit logs in as its own RabbitMQ user, made for this world (`start_units`).
        self.security = s.security.model_copy(update={"user_prefix": f"sim{secrets.token_hex(3)}-"})
        unit_users = {self.security.unit_user(u) for u in s.units}
        self.users = BrokerUsers.of(
            s.rabbit.url,
            s.rabbit.management_url,
            (g for g in grants(s.units, self.security) if g.user in unit_users),
        )
        self.unit_urls = self.unit_urls_at(s.rabbit.url)
        self.units = UnitSimulator(s.rabbit.url, list(s.units), self.clock, self.unit_urls)
        self._servers = {
            "bnmp": HttpServer(bnmp_app(self.bnmp), self.ports.get("bnmp")),
            "setarim": HttpServer(setarim_app(self.setarim), self.ports.get("setarim")),
            "court": HttpServer(court_app(self.court), self.ports.get("court")),
        }

    def hub_settings(self) -> HubSettings:
        """The hub's settings pointed at these simulators, trusting the simulated court's key.

        The checks stay as the settings have them (production's: signatures and unit identity
        required); the users' prefix is this world's, so the hub knows its units' logins.
        """
        s = self.settings
        keys = s.security.court_keys | {self.court_signer.key_id: self.court_signer.court_key()}
        return s.model_copy(
            update={
                "security": self.security.model_copy(update={"court_keys": keys}),
                "bnmp": s.bnmp.model_copy(update={"url": self._servers["bnmp"].url}),
                "setarim": s.setarim.model_copy(update={"url": self._servers["setarim"].url}),
                "court": s.court.model_copy(update={"webhooks": {"*": self._court_webhook()}}),
            }
        )

    def _court_webhook(self) -> CourtWebhook:
        """The simulated court system takes every court's notifications (one secret)."""
        url = f"{self._servers['court'].url}/notifications"
        return CourtWebhook(url=url, secret=SecretStr(self.court.secret))

    def unit_urls_at(self, amqp_url: str) -> dict[str, str]:
        """Each unit's AMQP URL, as its own user, through `amqp_url`'s host and port."""
        return {
            u: self.users.url(self.security.unit_user(u), amqp_url) for u in self.settings.units
        }

    def url(self, name: str) -> str:
        """Where simulator `name` listens."""
        return self._servers[name].url

    async def start_http(self) -> None:
        """Start the HTTP simulators (the units need the hub's queues: `start_units` after it)."""
        for server in self._servers.values():
            await server.start()

    async def start_units(self) -> None:
        """Create the units' users, then connect each unit to its queue as its own user."""
        await self.users.create()
        await self.units.start()

    async def stop(self) -> None:
        """Stop everything; the units' users go too."""
        await self.units.stop()
        with contextlib.suppress(Exception):  # the broker may be gone: its users with it
            await self.users.delete()
        for server in self._servers.values():
            await server.stop()

    def stats(self) -> dict[str, Any]:
        """What each simulated system saw."""
        return {
            "bnmp": self.bnmp.effects.summary() | {"registered": len(self.bnmp.registered)},
            "setarim": self.setarim.effects.summary() | {"warrants": len(self.setarim.warrants)},
            "court": {"by_kind": dict(self.court.by_kind), "forged": self.court.forged},
            "units": {
                "receipts": self.units.receipts,
                "released": sum(self.units.released.values()),
                "kept": sum(self.units.kept.values()),
                "released_twice": sum(1 for n in self.units.released.values() if n > 1),
            },
        }


async def _serve_forever(ports: dict[str, int]) -> None:
    world = SimWorld(HubSettings(), ports=ports)
    await world.start_http()
    await world.start_units()
    print({name: world.url(name) for name in ("bnmp", "setarim", "court")}, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await world.stop()


def main() -> None:
    """Run the simulators on the ports of the default settings until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bnmp", type=int, default=8101)
    parser.add_argument("--setarim", type=int, default=8102)
    parser.add_argument("--court", type=int, default=8103)
    args = parser.parse_args()
    asyncio.run(_serve_forever({"bnmp": args.bnmp, "setarim": args.setarim, "court": args.court}))


if __name__ == "__main__":
    main()
