"""The ops API against a real hub, broker and database: browse, show, replay safely, archive."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.routing import APIRoute

from hub.ops.api import jobs, letters, reads
from hub.settings import HubSettings
from tests.factories import (
    CPF,
    ORDER,
    UNIT,
    WARRANT,
    make_envelope,
    make_receipt,
    make_release_order,
    make_revocation,
    make_warrant,
)
from tests.integration.harness import amqp, database, depth, wait_for

from .scenario import (
    ADMIN,
    OPERATOR,
    VIEWER,
    FakeBnmp,
    Running,
    ops_settings_of,
    publish,
    running,
)

REASON = {"reason": "BNMP fixed the signature check (ticket 4711)"}


async def _bnmp_id(settings: HubSettings, order: str = ORDER) -> str | None:
    async with database(settings) as db:
        found = await db.fetchval(
            "SELECT bnmp_id FROM release_orders WHERE order_number = $1", order
        )
    return found if isinstance(found, str) else None


async def _one_parked(r: Running) -> dict[str, Any]:
    rows: list[dict[str, Any]] = await wait_for(r.parked, what="a dead letter")
    assert len(rows) == 1
    return rows[0]


async def _letter_row(settings: HubSettings, letter_id: int) -> dict[str, Any]:
    async with database(settings) as db:
        row = await db.fetchrow("SELECT * FROM dead_letters WHERE id = $1", letter_id)
    assert row is not None
    return dict(row)


async def test_anonymous_callers_get_401_everywhere_but_health_and_metrics(
    settings: HubSettings,
) -> None:
    """Every /api route refuses a caller without a valid token; health and metrics are open."""
    s = ops_settings_of(settings)
    async with running(s) as r:
        routes = [
            x for router in (reads, letters, jobs) for x in router.routes if isinstance(x, APIRoute)
        ]
        assert all(x.path.startswith("/api") for x in routes)
        assert len(routes) >= 15
        for route in routes:
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            for method in route.methods or ():
                for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "t-admin"}):
                    answer = await r.client.request(method, path, headers=headers, json=REASON)
                    assert answer.status_code == 401, (method, path, headers)
        assert (await r.client.get("/health")).status_code == 200
        assert (await r.client.get("/metrics")).status_code == 200
        assert (await r.client.get("/")).status_code == 200  # the static shell holds no data


async def test_writes_need_the_role_and_a_reason(settings: HubSettings) -> None:
    """Viewers cannot replay, operators cannot edit, and nobody acts without a reason."""
    s = ops_settings_of(settings)
    async with running(s, FakeBnmp()) as r:
        await publish(s, "hub.court.in", make_release_order())
        letter = await _one_parked(r)
        url = f"/api/dead-letters/{letter['id']}"
        assert (
            await r.client.post(f"{url}/replay", json=REASON, headers=VIEWER)
        ).status_code == 403
        edit = {**REASON, "body": "{}"}
        assert (
            await r.client.post(f"{url}/edit-replay", json=edit, headers=OPERATOR)
        ).status_code == 403
        for body in ({}, {"reason": "   "}, {"reason": "ok"}):
            answer = await r.client.post(f"{url}/replay", json=body, headers=OPERATOR)
            assert answer.status_code == 422, body
        assert (await r.client.post(f"{url}/archive", json={}, headers=OPERATOR)).status_code == 422
        assert await r.audit("dead_letter.replayed") == []


async def test_browse_filter_and_show_with_personal_data_masked(settings: HubSettings) -> None:
    """Dead letters are found by connector, kind, process or text; bodies are masked below admin."""
    s = ops_settings_of(settings)
    async with running(s, FakeBnmp()) as r:
        await publish(s, "hub.court.in", make_release_order())
        letter = await _one_parked(r)

        async def count(query: str) -> int:
            page = await r.client.get(f"/api/dead-letters?{query}", headers=VIEWER)
            assert page.status_code == 200
            return int(page.json()["total"])

        assert await count("connector=bnmp") == 1
        assert await count("connector=bnmp&kind=court.release_order.issued") == 1
        assert await count("kind=court.warrant.issued") == 0
        assert await count(f"process={ORDER[:25]}") == 1
        assert await count(f"search={ORDER[-9:]}") == 1
        assert await count("error=upstream_rejected&status=any") == 1
        assert await count("since=2999-01-01") == 0
        groups = (await r.client.get("/api/dead-letters/groups", headers=VIEWER)).json()
        assert [(g["error_type"], g["connector"], g["count"]) for g in groups] == [
            ("UpstreamRejected", "bnmp", 1)
        ]

        shown = await r.client.get(f"/api/dead-letters/{letter['id']}", headers=OPERATOR)
        text = shown.text
        assert shown.status_code == 200
        assert CPF not in text
        assert "Fulano" not in text
        body = shown.json()
        assert body["body"]["masked"]
        assert body["verdict"]["allowed"]
        assert body["queue"] == "hub.bnmp.out"
        assert "missing judge signature" in body["error_message"]
        assert await r.audit("dead_letter.viewed") == []

        unmasked = (await r.client.get(f"/api/dead-letters/{letter['id']}", headers=ADMIN)).json()
        assert unmasked["body"]["content"]["payload"]["person"]["cpf"] == CPF
        viewed = await r.audit("dead_letter.viewed")
        assert [(v["actor"], v["detail"]["id"]) for v in viewed] == [("ops:ada", letter["id"])]


async def test_replay_one_moves_the_order_and_is_audited(settings: HubSettings) -> None:
    """After BNMP is fixed, a replay delivers the order again: registered, row replayed, audited."""
    s = ops_settings_of(settings)
    bnmp = FakeBnmp()
    async with running(s, bnmp) as r:
        await publish(s, "hub.court.in", make_release_order())
        letter = await _one_parked(r)
        bnmp.accept_all()
        answer = await r.client.post(
            f"/api/dead-letters/{letter['id']}/replay", json=REASON, headers=OPERATOR
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["message_id"] == str(letter["message_id"])  # same id: inbox dedups
        assert await wait_for(lambda: _bnmp_id(s), what="registration") == "BNMP-42"
        again = await r.client.post(
            f"/api/dead-letters/{letter['id']}/replay", json=REASON, headers=OPERATOR
        )
        assert again.status_code == 409
        assert again.json()["code"] == "already_replayed"
    last = bnmp.calls[-1]
    assert not last.refused
    assert last.headers["x-hub-replay-of"] == str(letter["id"])
    assert last.headers["x-hub-replayed-by"] == "ops:otto"
    assert last.headers["x-hub-attempt"] == 0
    assert "x-hub-error-reason" not in last.headers
    row = await _letter_row(s, letter["id"])
    assert row["status"] == "replayed"
    assert row["status_by"] == "ops:otto"
    assert row["replays"] == 1
    entries = await r.audit("dead_letter.replayed")
    assert [(e["actor"], e["subject"], e["detail"]["reason"]) for e in entries] == [
        ("ops:otto", ORDER, REASON["reason"])
    ]


async def _revoke_meanwhile(r: Running, letter_id: int) -> None:
    """The parked warrant may be replayed, until the court's counter-warrant revokes it."""
    preview = (await r.client.get(f"/api/dead-letters/{letter_id}", headers=VIEWER)).json()
    assert preview["verdict"]["allowed"]
    await publish(r.settings, "hub.court.in", make_revocation())

    async def revoked() -> bool:
        async with database(r.settings) as db:
            state = await db.fetchval(
                "SELECT state FROM warrants WHERE warrant_number = $1", WARRANT
            )
        return bool(state == "revoked")

    await wait_for(revoked, what="the counter-warrant")


async def test_replay_of_a_warrant_revoked_meanwhile_is_refused_and_audited(
    settings: HubSettings,
) -> None:
    """A warrant that failed to reach BNMP and was then revoked is never delivered by a replay."""
    s = ops_settings_of(settings)
    bnmp = FakeBnmp(refuse=lambda env: env.kind == "court.warrant.issued")
    reason = {"reason": "operator retries the arrest warrant after the BNMP outage"}
    async with running(s, bnmp) as r:
        await publish(s, "hub.court.in", make_warrant())
        letter = await _one_parked(r)
        await _revoke_meanwhile(r, letter["id"])
        issued = "court.warrant.issued"  # the counter-warrant's own call may come at any time
        calls_before = [c.kind for c in bnmp.calls].count(issued)
        answer = await r.client.post(
            f"/api/dead-letters/{letter['id']}/replay", json=reason, headers=OPERATOR
        )
        assert answer.status_code == 409, answer.text
        refusal = answer.json()
        assert refusal["code"] == "warrant_revoked"
        assert "revoked" in refusal["why"]
        async with amqp(s) as channel:
            assert await depth(channel, "hub.bnmp.out") == 0
        assert [c.kind for c in bnmp.calls].count(issued) == calls_before  # never seen again
    entries = await r.audit("dead_letter.replay_refused")
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["actor"], entry["subject"]) == ("ops:otto", WARRANT)
    assert entry["detail"]["code"] == "warrant_revoked"
    assert entry["detail"]["reason"] == reason["reason"]
    assert entry["detail"]["why"] == refusal["why"]
    row = await _letter_row(s, letter["id"])
    assert (row["status"], row["refused_code"]) == ("parked", "warrant_revoked")


async def test_edit_and_replay_sends_a_new_linked_copy(settings: HubSettings) -> None:
    """A broken body cannot be replayed as is; an admin's edit goes out with a new, linked id."""
    s = ops_settings_of(settings)
    async with running(s, FakeBnmp()) as r:
        broken = b'{"kind": "custodial_unit.receipt.acknowledged", "payload": {}}'
        await publish(s, "hub.custodial_unit.in", broken)
        letter = await _one_parked(r)
        url = f"/api/dead-letters/{letter['id']}"
        plain = await r.client.post(f"{url}/replay", json=REASON, headers=ADMIN)
        assert plain.status_code == 409
        assert plain.json()["code"] == "unparseable"

        await publish(s, "hub.court.in", make_release_order())
        await wait_for(lambda: r.parked(2), what="the order's BNMP dead letter")  # BNMP refuses
        body = make_envelope(make_receipt()).to_json()
        edit = {"reason": "unit sent a truncated receipt; fixed by hand", "body": body}
        answer = await r.client.post(f"{url}/edit-replay", json=edit, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        new_id = answer.json()["message_id"]
        assert new_id != str(letter["message_id"])

        async def received() -> bool:
            async with database(s) as db:
                state = await db.fetchval(
                    "SELECT state FROM release_orders WHERE order_number = $1", ORDER
                )
            return bool(state == "received")

        await wait_for(received, what="the receipt to apply")
    entry = (await r.audit("dead_letter.edited_and_replayed"))[0]
    assert entry["actor"] == "ops:ada"
    assert entry["detail"]["replayed_as"] == new_id
    assert "payload.order_number" in entry["detail"]["edited_paths"]
    assert CPF not in json.dumps(entry["detail"])


async def test_archive_and_restore_are_audited(settings: HubSettings) -> None:
    """Archiving hides a dead letter from the parked list, restoring brings it back: audited."""
    s = ops_settings_of(settings)
    async with running(s, FakeBnmp()) as r:
        await publish(s, "hub.court.in", make_release_order())
        letter = await _one_parked(r)
        url = f"/api/dead-letters/{letter['id']}"
        archived = await r.client.post(f"{url}/archive", json=REASON, headers=OPERATOR)
        assert archived.status_code == 200
        assert archived.json()["changed"] == [letter["id"]]
        listed = (await r.client.get("/api/dead-letters", headers=VIEWER)).json()
        assert listed["total"] == 0
        refused = await r.client.post(f"{url}/replay", json=REASON, headers=OPERATOR)
        assert refused.status_code == 409
        assert refused.json()["code"] == "archived"
        twice = await r.client.post(f"{url}/archive", json=REASON, headers=OPERATOR)
        assert twice.status_code == 409
        restored = await r.client.post(f"{url}/restore", json=REASON, headers=OPERATOR)
        assert restored.status_code == 200
        listed = (await r.client.get("/api/dead-letters", headers=VIEWER)).json()
        assert [d["id"] for d in listed["items"]] == [letter["id"]]
        actions = [e["action"] for e in (await r.client.get("/api/audit", headers=VIEWER)).json()]
    assert actions == ["dead_letter.restored", "dead_letter.replay_refused", "dead_letter.archived"]


async def test_timeline_shows_one_message_sent_to_its_set_and_each_delivery(
    settings: HubSettings,
) -> None:
    """An order is sent once to BNMP, SETARIM and its unit (one outbox row, the others in `cc`);
    the timeline shows the delivery BNMP's connector made, as the technical acknowledgement."""
    s = ops_settings_of(settings)
    bnmp = FakeBnmp()
    bnmp.accept_all()
    async with running(s, bnmp) as r:
        await publish(s, "hub.court.in", make_release_order())
        assert await wait_for(lambda: _bnmp_id(s), what="registration") == "BNMP-42"

        async def delivered() -> dict[str, Any] | None:
            found = await r.client.get(f"/api/timeline/{ORDER}", headers=VIEWER)
            body: dict[str, Any] = found.json()
            labels = [e["label"] for e in body["events"]]
            return (
                body if "court.release_order.issued delivered to hub.bnmp.out" in labels else None
            )

        body = await wait_for(delivered, what="the delivery on the timeline")
    sent = [o for o in body["outbox"] if o["kind"] == "court.release_order.issued"]
    assert len(sent) == 1
    assert sent[0]["routing_key"] == "hub.bnmp.out"
    assert sent[0]["cc"] == ["hub.setarim.out", f"hub.custodial_unit.{UNIT}.out"]
