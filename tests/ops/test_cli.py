"""The shell commands do what the web does, with the same roles, reasons and audit."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from hub.ops.cli import ops_app
from hub.settings import HubSettings
from tests.factories import CPF, ORDER, make_envelope, make_receipt, make_release_order
from tests.integration.harness import amqp, database, depth, wait_for

from .scenario import FakeBnmp, ops_settings_of, publish, release_orders, running

REASON = "BNMP confirmed the fix by phone"


async def cli(settings: HubSettings, *args: str) -> Result:
    """Run `python -m hub …` in-process (in a thread: the command runs its own event loop)."""
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(ops_app, list(args), obj=settings))


async def _parked_id(settings: HubSettings) -> int:
    async with running(settings, FakeBnmp()) as r:
        await publish(settings, "hub.court.in", make_release_order())
        rows = await wait_for(r.parked, what="a dead letter")
    return int(rows[0]["id"])


async def test_list_show_replay_and_archive_from_the_shell(settings: HubSettings) -> None:
    """The CLI lists and shows (masked), refuses writes without an operator token, and replays."""
    s = ops_settings_of(settings)
    letter = await _parked_id(s)
    listed = await cli(s, "dlq", "list", "--json")
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.output)
    assert [d["id"] for d in page["items"]] == [letter]
    assert "UpstreamRejected" in (await cli(s, "dlq", "groups")).output
    shown = await cli(s, "dlq", "show", str(letter))
    assert shown.exit_code == 0
    assert "replay: ok" in shown.output
    assert CPF not in shown.output

    replay = ("dlq", "replay", str(letter), "--reason", REASON)
    assert (await cli(s, *replay)).exit_code == 3
    assert (await cli(s, *replay, "--token", "t-viewer")).exit_code == 3
    done = await cli(s, *replay, "--token", "t-operator")
    assert done.exit_code == 0, done.output
    assert "replayed" in done.output
    async with amqp(s) as channel:
        assert await depth(channel, "hub.bnmp.out") == 1  # no hub is running: it waits there
    archive = await cli(
        s, "dlq", "archive", str(letter), "--reason", REASON, "--token", "t-operator"
    )
    assert archive.exit_code == 2
    assert "it is replayed" in archive.output
    async with database(s) as db:
        entry = await db.fetchrow(
            "SELECT actor, detail FROM audit_log WHERE action = 'dead_letter.replayed'"
        )
    assert entry is not None
    assert entry["actor"] == "ops:otto"
    assert entry["detail"]["reason"] == REASON


async def test_status_and_timeline_from_the_shell(settings: HubSettings) -> None:
    """`status` shows the queues and `timeline` an order's history, in the terminal."""
    s = ops_settings_of(settings)
    await _parked_id(s)
    status = await cli(s, "status", "--json")
    assert status.exit_code == 0, status.output
    doc = json.loads(status.output)
    assert doc["queues"]["source"] == "management"
    assert doc["overview"]["dead_letters_parked"] == 1
    table = await cli(s, "status")
    assert "hub.bnmp.out" in table.output
    assert "dead letters parked: 1" in table.output
    timeline = await cli(s, "timeline", ORDER)
    assert timeline.exit_code == 0
    assert "state: dispatched" in timeline.output
    assert "new → dispatched" in timeline.output
    assert (await cli(s, "timeline", f"{ORDER[:-1]}9")).exit_code == 1


async def test_a_staged_bulk_replay_from_the_shell(settings: HubSettings) -> None:
    """`dlq replay --connector bnmp` runs the staged replay in the foreground and reports it."""
    s = ops_settings_of(settings)
    bnmp = FakeBnmp()
    async with running(s, bnmp) as r:
        await publish(s, "hub.court.in", *release_orders(21, 22, 23))
        await wait_for(lambda: r.parked(3), what="three dead letters")
        bnmp.accept_all()
        args = ("dlq", "replay", "--connector", "bnmp", "--reason", REASON)
        everything = await cli(s, "dlq", "replay", "--reason", REASON, "--token", "t-operator")
        assert everything.exit_code == 2  # no filter: refused
        done = await cli(s, *args, "--token", "t-operator")
        assert done.exit_code == 0, done.output
        assert "done: 3 ok, 0 failed" in done.output
        assert await r.parked() == []


async def test_python_dash_m_hub_has_the_ops_commands(settings: HubSettings) -> None:
    """`python -m hub dlq list` runs as a real process, configured from HUB_* variables."""
    s = ops_settings_of(settings)
    env = {
        **os.environ,
        "HUB_RABBIT__URL": s.rabbit.url,
        "HUB_RABBIT__MANAGEMENT_URL": s.rabbit.management_url,
        "HUB_POSTGRES__DSN": s.postgres.dsn,
        "HUB_POSTGRES__SCHEMA": s.postgres.schema_,
        "HUB_UNITS": json.dumps(list(s.units)),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "dlq", "list", "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out) == {"total": 0, "items": []}


async def test_four_eyes_and_reveal_from_the_shell(settings: HubSettings, tmp_path: Path) -> None:
    """An admin asks for an edit from the shell, cannot approve it, another admin does; showing
    a body as it is takes an admin, a reason, and leaves an audit entry."""
    s = ops_settings_of(settings)
    doc = json.loads(make_envelope(make_receipt()).to_bytes())
    doc["schema_version"] = 9
    async with running(s, FakeBnmp()) as r:
        await publish(s, "hub.court.in", make_release_order())
        await publish(s, "hub.custodial_unit.in", json.dumps(doc).encode())
        rows = await wait_for(lambda: r.parked(2), what="two dead letters")
    letter = next(row["id"] for row in rows if row["queue"] == "hub.custodial_unit.in")
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**doc, "schema_version": 1}))
    asked = await cli(s, "dlq", "edit-replay", str(letter), "--body-file", str(fixed),
                      "--reason", REASON, "--token", "t-admin")  # fmt: skip
    assert asked.exit_code == 0, asked.output
    request = asked.output.split("request ")[1].split()[0]
    pending = await cli(s, "dlq", "approvals", "--token", "t-operator", "--json")
    assert [a["id"] for a in json.loads(pending.output)] == [int(request)]
    approve = ("dlq", "approve", request, "--reason", "checked with the unit")
    assert (await cli(s, *approve, "--token", "t-admin")).exit_code == 2  # not their own
    done = await cli(s, *approve, "--token", "t-admin2")
    assert done.exit_code == 0, done.output
    assert "replayed" in done.output

    shown = await cli(s, "dlq", "show", str(letter), "--token", "t-admin")
    assert CPF not in shown.output
    reveal = ("dlq", "show", str(letter), "--reveal", "--reason", "the unit asks what it sent")
    assert (await cli(s, *reveal, "--token", "t-operator")).exit_code == 3
    revealed = await cli(s, *reveal, "--token", "t-admin")
    assert revealed.exit_code == 0, revealed.output
    assert '"schema_version": 9' in revealed.output
    async with database(s) as db:
        actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert "dead_letter.revealed" in actions
    assert actions.index("approval.requested") < actions.index("approval.approved")
