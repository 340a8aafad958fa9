"""`python -m hub run`: the hub as a long-running service, stopped cleanly by SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal

import structlog

from hub.app import Hub, settle_heap
from hub.http.server import HttpServer
from hub.ops.api import create_app
from hub.ops.service import OpsService
from hub.settings import HubSettings

__all__ = ["serve"]

log = structlog.get_logger("hub.service")


async def serve(settings: HubSettings, *, dashboard: bool = True) -> int:
    """Start the hub (and its ops service), wait for a stop signal, stop cleanly; return 0.

    Refuses (returns 2) to start with a demo's secrets or users unless `HUB_DEMO=true`.
    """
    unfit = settings.demo_settings_in_use()
    if unfit and not settings.demo:
        for what in unfit:
            log.error("hub.refused_to_start", why=what)
        log.error("hub.refused_to_start", fix="set real values, or HUB_DEMO=true for a demo")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Hub(settings) as hub:
        ops = None
        if dashboard:
            ops = HttpServer(create_app(OpsService.from_hub(hub)), settings.ops.port)
            await ops.start()
            log.info("ops.listening", url=ops.url)
        settle_heap()
        await stop.wait()
        log.info("hub.stopping")
        if ops is not None:
            await ops.stop()
    return 0
