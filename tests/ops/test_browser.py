"""A real browser (Debian's headless Chromium, driven by Playwright) uses the dashboard."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect

from hub.http.server import listening_socket
from hub.ops import create_app
from hub.settings import HubSettings
from tests.factories import ORDER, make_envelope, make_receipt, make_release_order
from tests.integration.harness import database, wait_for

from .scenario import ops_settings_of, publish, running

pytestmark = pytest.mark.browser

BROWSER = os.environ.get("HUB_BROWSER", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
REASON = "the receipt arrived before the order; the order is known now"


def _require_browser() -> None:
    if os.access(BROWSER, os.X_OK):
        return
    message = f"no chromium at {BROWSER} (run `bash deploy/tools.sh`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port, in this event loop."""
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, "127.0.0.1", port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        return server.started

    try:
        await wait_for(started, what="uvicorn to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _state(settings: HubSettings) -> str | None:
    async with database(settings) as db:
        found = await db.fetchval("SELECT state FROM release_orders WHERE order_number = $1", ORDER)
    return found if isinstance(found, str) else None


async def _sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/")
    await page.fill("#token", "t-operator")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).to_contain_text("otto (operator)")


async def _replay_in_the_dashboard(page: Page, base: str) -> None:
    """Find the dead letter of the order, check the verdict, replay it with a reason."""
    await _sign_in(page, base)
    await page.click("a[data-view=dead-letters]")
    row = page.locator(f"#dl-table tr[data-subject='{ORDER}']")
    await expect(row).to_have_count(1)
    await row.click()
    await expect(page.locator("#dl-verdict")).to_contain_text("Replay allowed")
    await page.fill("#dl-reason", REASON)
    await page.screenshot(path=ARTIFACTS / "dead-letter.png", full_page=True)
    await page.click("#dl-replay")
    await expect(page.locator("#dl-result")).to_contain_text("Replayed as")
    await expect(row).to_have_count(0)  # gone from the parked list
    await expect(page.locator("#dl-empty")).to_be_visible()


async def _see_the_order_move(page: Page, base: str) -> None:
    """The order's timeline shows the new state and the operator's reason; then the overview."""
    await page.goto(f"{base}/#timeline/{ORDER}")
    await expect(page.locator("#tl-state")).to_have_text("received", timeout=15_000)
    events = page.locator("#tl-events")
    await expect(events).to_contain_text("dispatched → received")
    await expect(events).to_contain_text(REASON)
    await page.screenshot(path=ARTIFACTS / "timeline.png", full_page=True)
    await page.click("a[data-view=overview]")
    await expect(page.locator("#connectors .connector")).to_have_count(4)
    await expect(page.locator("#queue-chart svg")).to_be_visible()
    await page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)


async def test_an_operator_replays_a_dead_letter_and_sees_the_order_move(
    settings: HubSettings,
) -> None:
    """In the dashboard an operator replays a dead letter with a reason; the order moves on."""
    _require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    s = ops_settings_of(settings)
    async with running(s) as r:
        await publish(s, "hub.custodial_unit.in", make_receipt())  # before the order: refused
        await wait_for(r.parked, what="the early receipt to be parked")
        await publish(s, "hub.court.in", make_release_order())

        async def dispatched() -> bool:
            return await _state(s) == "dispatched"

        await wait_for(dispatched, what="the order")
        async with serve(create_app(r.ops)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=BROWSER, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1500, "height": 1100})
                await _replay_in_the_dashboard(page, base)
                await _see_the_order_move(page, base)
            finally:
                await browser.close()
    assert await _state(s) == "received"
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


async def test_a_viewer_sees_no_button_that_acts(settings: HubSettings) -> None:
    """A viewer reads the dead letters but is offered no replay, archive, bulk action or
    approvals tab; the body shows only its non-personal fields."""
    _require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    s = ops_settings_of(settings)
    async with running(s) as r:
        await publish(s, "hub.custodial_unit.in", make_receipt())  # before the order: parked
        await wait_for(r.parked, what="the early receipt to be parked")
        async with serve(create_app(r.ops)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=BROWSER, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1500, "height": 1100})
                await page.goto(f"{base}/")
                await page.fill("#token", "t-viewer")
                await page.click("#login-form button[type=submit]")
                await expect(page.locator("#who")).to_contain_text("vera (viewer)")
                await expect(page.locator("a[data-view=approvals]")).to_be_hidden()
                await page.click("a[data-view=dead-letters]")
                row = page.locator(f"#dl-table tr[data-subject='{ORDER}']")
                await expect(row).to_have_count(1)
                await expect(row.locator("input[type=checkbox]")).to_have_count(0)
                for button in ("#bulk-replay", "#bulk-replay-all", "#bulk-archive"):
                    await expect(page.locator(button)).to_be_hidden()
                await row.click()
                await expect(page.locator("#dl-viewer-note")).to_be_visible()
                for button in ("#dl-replay", "#dl-archive", "#dl-reveal", "#dl-reason"):
                    await expect(page.locator(button)).to_have_count(0)
                await expect(page.locator("#dl-body")).to_contain_text(ORDER)
                await page.screenshot(path=ARTIFACTS / "viewer.png", full_page=True)
            finally:
                await browser.close()


async def _as(page: Page, base: str, token: str, who: str) -> None:
    await page.goto(f"{base}/")
    if await page.locator("#logout").is_visible():
        await page.click("#logout")
    await page.fill("#token", token)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).to_contain_text(who)


async def test_an_admin_reveals_edits_and_another_approves(settings: HubSettings) -> None:
    """An admin reveals a broken receipt with a reason, repairs its schema version and asks for
    approval; a second admin approves it in the Approvals view and the order moves on."""
    _require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    s = ops_settings_of(settings)
    doc = json.loads(make_envelope(make_receipt()).to_bytes())
    doc["schema_version"] = 9
    async with running(s) as r:
        await publish(s, "hub.court.in", make_release_order())

        async def dispatched() -> bool:
            return await _state(s) == "dispatched"

        await wait_for(dispatched, what="the order")
        await publish(s, "hub.custodial_unit.in", json.dumps(doc).encode())
        await wait_for(r.parked, what="the broken receipt to be parked")
        async with serve(create_app(r.ops)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=BROWSER, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1500, "height": 1100})
                await _as(page, base, "t-admin", "ada (admin)")
                await page.click("a[data-view=dead-letters]")
                await page.locator(f"#dl-table tr[data-subject='{ORDER}']").click()
                await expect(page.locator("#dl-body")).not_to_contain_text("received_by")
                await page.fill("#dl-reason", "the unit's schema version looks wrong")
                await page.click("#dl-reveal")
                await expect(page.locator("#dl-result")).to_contain_text("Revealed")
                await expect(page.locator("#dl-body")).to_contain_text("received_by")
                await page.click("#dl-detail details summary")
                edited = json.dumps({**doc, "schema_version": 1}, indent=2)
                await page.fill("#dl-edit-body", edited)
                await page.fill("#dl-reason", "the unit's system sent schema version 9")
                await page.click("#dl-edit-replay")
                await expect(page.locator("#dl-result")).to_contain_text("waits for a second")

                await _as(page, base, "t-admin2", "bea (admin)")
                await page.click("a[data-view=approvals]")
                row = page.locator("#approvals tr[data-approval]")
                await expect(row).to_have_count(1)
                await expect(row).to_contain_text("schema_version: 9 → 1")
                page.once("dialog", lambda d: asyncio.ensure_future(d.accept("checked it")))
                await page.screenshot(path=ARTIFACTS / "approvals.png", full_page=True)
                await row.locator("button.approve").click()
                await expect(page.locator("#approvals-result")).to_contain_text("replayed as")
            finally:
                await browser.close()

        async def received() -> bool:
            return await _state(s) == "received"

        await wait_for(received, what="the repaired receipt to apply")
