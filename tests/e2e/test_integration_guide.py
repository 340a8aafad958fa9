"""The README's integration guide works as written, with Debian's amqp-tools (not our code)."""

from __future__ import annotations

import asyncio
import os
import shutil
from uuid import uuid4

import pytest

from hub.app import Hub
from hub.settings import HubSettings
from hub.topology import unit_queue
from tests.factories import UNIT, make_envelope, make_release_order
from tests.integration.harness import database, wait_for
from tests.integration.test_delivery import COURT


def _tools() -> None:
    if shutil.which("amqp-publish") and shutil.which("amqp-consume"):
        return
    message = "amqp-tools missing (run `bash deploy/tools.sh`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


async def _run(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_a_court_publishes_and_a_unit_consumes_with_amqp_tools(settings: HubSettings) -> None:
    url = settings.rabbit.url
    _tools()
    order = make_envelope(make_release_order(), message_id=uuid4())
    url = (
        settings.rabbit.url.rstrip("/")
        if settings.rabbit.url.count("/") > 3
        else settings.rabbit.url
    )
    async with Hub(settings, specs=[COURT], background=False):
        await _run(
            "amqp-publish",
            "--url",
            url,
            "-e",
            "hub.court.in",
            "-C",
            "application/json",
            "-p",
            "-b",
            order.to_json(),
        )

        async def dispatched() -> bool:
            async with database(settings) as db:
                return bool(await db.fetchval("SELECT count(*) FROM release_orders") == 1)

        await wait_for(dispatched, what="the order accepted")
        out = await _run("amqp-consume", "--url", url, "-q", unit_queue(UNIT), "-c", "1", "cat")
    assert order.payload.business_key in out
    assert '"kind":"court.release_order.issued"' in out.replace(" ", "")
