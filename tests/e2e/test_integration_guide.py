"""The README's integration guide works as written: Debian's openssl signs, amqp-tools carry."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from uuid import uuid4

import pytest

import connectors
from hub.app import Hub
from hub.domain.topology import unit_queue
from hub.settings import CourtKey, HubSettings
from tests.factories import UNIT, make_envelope, make_release_order
from tests.integration.harness import database, wait_for


def _tools() -> None:
    if all(shutil.which(t) for t in ("amqp-publish", "amqp-consume", "openssl")):
        return
    message = "amqp-tools or openssl missing (run `bash deploy/tools.sh`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


async def _run(*argv: str, cwd: Path | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def _sh(script: str, cwd: Path) -> str:
    return await _run("bash", "-euo", "pipefail", "-c", script, cwd=cwd)


async def test_a_court_publishes_and_a_unit_consumes_with_amqp_tools(
    settings: HubSettings, tmp_path: Path
) -> None:
    """A document signed with openssl and sent by `amqp-publish` reaches the unit's queue."""
    _tools()
    await _sh("openssl genpkey -algorithm ed25519 -out court.pem", tmp_path)
    public = await _sh(
        "openssl pkey -in court.pem -pubout -outform DER | tail -c 32 | base64", tmp_path
    )
    keys = {"rupe-2026": CourtKey(system="RUPE", public_key=public.strip(), courts=("tjmg.*",))}
    settings = settings.model_copy(
        update={"security": settings.security.model_copy(update={"court_keys": keys})}
    )
    order = make_envelope(make_release_order(), message_id=uuid4())
    (tmp_path / "alvara.json").write_text(order.to_json())
    publish = (
        f'amqp-publish --url "{settings.rabbit.url}" -e hub.court.in -C application/json -p'
        ' -H "x-court-key-id: rupe-2026"'
        ' -H "x-court-signature: $(openssl pkeyutl -sign -inkey court.pem -rawin -in alvara.json'
        ' | base64 -w0)" -b "$(cat alvara.json)"'
    )
    async with Hub(settings, specs=connectors.SPECS, background=False):
        await _sh(publish, tmp_path)

        async def accepted() -> bool:
            async with database(settings) as db:
                return bool(await db.fetchval("SELECT count(*) FROM release_orders") == 1)

        await wait_for(accepted, what="the signed order accepted")
        out = await _run(
            "amqp-consume", "--url", settings.rabbit.url, "-q", unit_queue(UNIT), "-c", "1", "cat"
        )
    assert order.payload.business_key in out
