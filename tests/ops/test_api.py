"""The ops API against a real hub, broker and database: browse, show, replay safely, archive."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import uuid4

import aio_pika
from fastapi.routing import APIRoute

from hub.ops.api import approvals, jobs, letters, reads
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
    ADMIN2,
    METRICS,
    OPERATOR,
    VIEWER,
    FakeBnmp,
    Running,
    ops_settings_of,
    publish,
    running,
)

REASON = {"reason": "BNMP fixed the signature check (ticket 4711)"}


async def _state(settings: HubSettings) -> str | None:
    async with database(settings) as db:
        found = await db.fetchval("SELECT state FROM release_orders WHERE order_number = $1", ORDER)
    return found if isinstance(found, str) else None


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


async def test_anonymous_callers_get_401_everywhere_but_health(settings: HubSettings) -> None:
    """Every /api route refuses a caller without a valid token, and so does /metrics; only health
    and the static shell are open. A metrics-only token reads /metrics and nothing else."""
    s = ops_settings_of(settings)
    async with running(s) as r:
        routes = [
            x
            for router in (reads, letters, jobs, approvals)
            for x in router.routes
            if isinstance(x, APIRoute)
        ]
        assert all(x.path.startswith("/api") for x in routes)
        assert len(routes) >= 20
        nobody: tuple[dict[str, str], ...] = (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": "t-admin"},
            METRICS,
        )
        for route in routes:
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            for method in route.methods or ():
                for headers in nobody:
                    answer = await r.client.request(method, path, headers=headers, json=REASON)
                    assert answer.status_code == 401, (method, path, headers)
                    assert answer.headers["www-authenticate"] == "Bearer"
        assert (await r.client.get("/health")).status_code == 200
        assert (await r.client.get("/metrics")).status_code == 401
        assert (await r.client.get("/metrics", headers=METRICS)).status_code == 200
        assert (await r.client.get("/metrics", headers=VIEWER)).status_code == 200
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
        broken = await r.client.post(f"{url}/replay", content=b"{not json", headers=OPERATOR)
        assert broken.status_code == 422
        assert broken.json()["detail"][0]["loc"][0] == "body"
        # The role is checked before the body is read: a viewer's garbage is not even parsed.
        garbage = await r.client.post(f"{url}/replay", content=b"{not json", headers=VIEWER)
        assert garbage.status_code == 403
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

        url = f"/api/dead-letters/{letter['id']}"
        for who in (VIEWER, OPERATOR, ADMIN):  # an admin too: only a reveal shows it all
            shown = await r.client.get(url, headers=who)
            text = shown.text
            assert shown.status_code == 200
            assert CPF not in text
            assert "Fulano" not in text
            body = shown.json()
            assert body["body"]["masked"]
            assert body["body"]["content"]["payload"]["order_number"] == ORDER
            assert body["verdict"]["allowed"]
            assert body["queue"] == "hub.bnmp.out"
        assert "missing judge signature" in body["error_message"]  # an operator's: the words
        viewed = (await r.client.get(url, headers=VIEWER)).json()
        assert "missing judge signature" not in viewed["error_message"]  # a viewer's: hidden

        reveal = f"{url}/reveal"
        why = {"reason": "the court asks which CPF the order names"}
        assert (await r.client.post(reveal, json=why, headers=OPERATOR)).status_code == 403
        assert (await r.client.post(reveal, json={}, headers=ADMIN)).status_code == 422
        assert await r.audit("dead_letter.revealed") == []
        revealed = await r.client.post(reveal, json=why, headers=ADMIN)
        assert revealed.status_code == 200
        assert revealed.json()["body"]["content"]["payload"]["person"]["cpf"] == CPF
        assert not revealed.json()["body"]["masked"]
        seen = await r.audit("dead_letter.revealed")
        assert [(v["actor"], v["detail"]["id"], v["detail"]["reason"]) for v in seen] == [
            ("ops:ada", letter["id"], why["reason"])
        ]


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


async def test_edit_and_replay_waits_for_a_second_admin(settings: HubSettings) -> None:
    """A receipt with a wrong schema version cannot be replayed as it is; an admin's repair waits
    for another admin, who may not be the same one; once approved it goes out as a new, linked
    copy and the audit names both people and both reasons."""
    s = ops_settings_of(settings)
    async with running(s, FakeBnmp()) as r:
        doc = json.loads(make_envelope(make_receipt()).to_bytes())
        doc["schema_version"] = 9
        await publish(s, "hub.custodial_unit.in", json.dumps(doc).encode())
        letter = await _one_parked(r)
        url = f"/api/dead-letters/{letter['id']}"
        plain = await r.client.post(f"{url}/replay", json=REASON, headers=ADMIN)
        assert plain.status_code == 409
        assert plain.json()["code"] == "unparseable"

        await publish(s, "hub.court.in", make_release_order())
        await wait_for(lambda: r.parked(2), what="the order's BNMP dead letter")  # BNMP refuses
        person = {**doc, "schema_version": 1}
        person["payload"] = {**doc["payload"], "unit": "mg.ceresp-bh"}
        locked = {"reason": "unit sent the wrong unit id", "body": json.dumps(person)}
        refused = await r.client.post(f"{url}/edit-replay", json=locked, headers=ADMIN)
        assert refused.status_code == 409
        assert refused.json()["code"] == "locked_field"

        fixed = {**doc, "schema_version": 1}
        ask = {
            "reason": "the unit's system sent schema version 9 by mistake",
            "body": json.dumps(fixed),
        }
        asked = await r.client.post(f"{url}/edit-replay", json=ask, headers=ADMIN)
        assert asked.status_code == 202, asked.text
        request = asked.json()
        assert (request["state"], request["requested_by"]) == ("pending", "ops:ada")
        assert request["changes"] == [{"path": "schema_version", "before": 9, "after": 1}]
        approve = f"/api/approvals/{request['id']}/approve"
        ok = {"reason": "checked with the unit: only the version was wrong"}
        assert (await r.client.post(approve, json=ok, headers=ADMIN)).status_code == 403
        assert (await r.client.post(approve, json=ok, headers=OPERATOR)).status_code == 403
        assert await _state(s) == "dispatched"  # nothing ran yet
        decided = await r.client.post(approve, json=ok, headers=ADMIN2)
        assert decided.status_code == 200, decided.text
        answer = decided.json()
        assert answer["approval"]["state"] == "approved"
        assert answer["approval"]["decided_by"] == "ops:bea"
        assert answer["replay"]["replayed"]
        new_id = answer["replay"]["message_id"]
        assert new_id != str(letter["message_id"])
        again = await r.client.post(approve, json=ok, headers=ADMIN2)
        assert again.status_code == 409

        async def received() -> bool:
            return await _state(s) == "received"

        await wait_for(received, what="the receipt to apply")
    requested = (await r.audit("approval.requested"))[0]
    assert (requested["actor"], requested["detail"]["reason"]) == ("ops:ada", ask["reason"])
    approved = (await r.audit("approval.approved"))[0]
    assert approved["actor"] == "ops:bea"
    assert approved["detail"]["reason"] == ok["reason"]
    assert approved["detail"]["requested_by"] == "ops:ada"
    assert approved["detail"]["request_reason"] == ask["reason"]
    entry = (await r.audit("dead_letter.edited_and_replayed"))[0]
    assert entry["actor"] == "ops:ada"
    assert entry["detail"]["replayed_as"] == new_id
    assert entry["detail"]["edited_paths"] == ["schema_version"]
    assert (entry["detail"]["approved_by"], entry["detail"]["approval_reason"]) == (
        "ops:bea",
        ok["reason"],
    )
    assert entry["detail"]["reason"] == ask["reason"]
    assert CPF not in json.dumps(entry["detail"])


async def test_a_rejected_edit_never_runs(settings: HubSettings) -> None:
    """Rejected by a second admin, with a reason: nothing is replayed, and it cannot be approved
    afterwards."""
    s = ops_settings_of(settings)
    async with running(s, FakeBnmp()) as r:
        doc = json.loads(make_envelope(make_receipt()).to_bytes())
        doc["schema_version"] = 9
        await publish(s, "hub.custodial_unit.in", json.dumps(doc).encode())
        letter = await _one_parked(r)
        await publish(s, "hub.court.in", make_release_order())
        await wait_for(lambda: r.parked(2), what="the order's BNMP dead letter")
        ask = {
            "reason": "repair the schema version",
            "body": json.dumps({**doc, "schema_version": 1}),
        }
        asked = await r.client.post(
            f"/api/dead-letters/{letter['id']}/edit-replay", json=ask, headers=ADMIN
        )
        assert asked.status_code == 202, asked.text
        base = f"/api/approvals/{asked.json()['id']}"
        no = {"reason": "the unit must send it again itself"}
        rejected = await r.client.post(f"{base}/reject", json=no, headers=ADMIN2)
        assert rejected.status_code == 200
        assert rejected.json()["approval"]["state"] == "rejected"
        assert rejected.json()["replay"] is None
        late = await r.client.post(f"{base}/approve", json=no, headers=ADMIN2)
        assert late.status_code == 409
        listed = (await r.client.get("/api/approvals", headers=OPERATOR)).json()
        assert [(a["id"], a["state"]) for a in listed] == [(asked.json()["id"], "rejected")]
        assert (await r.client.get("/api/approvals", headers=VIEWER)).status_code == 403
    assert (await _letter_row(s, letter["id"]))["status"] == "parked"
    assert await r.audit("dead_letter.edited_and_replayed") == []
    rejected_entry = (await r.audit("approval.rejected"))[0]
    assert (rejected_entry["actor"], rejected_entry["detail"]["reason"]) == (
        "ops:bea",
        no["reason"],
    )


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


async def test_only_what_the_hub_sent_is_replayed_to_an_outbound_queue(
    settings: HubSettings,
) -> None:
    """A message someone put straight into BNMP's queue is dead-lettered there like the hub's
    own; a replay checks the outbox and refuses it, so it never reaches BNMP through the hub, even
    when it copies an order the hub knows (which the business state alone would let through)."""
    s = ops_settings_of(settings)
    bnmp = FakeBnmp()
    async with running(s, bnmp) as r:
        await publish(s, "hub.court.in", make_release_order())
        (own,) = await wait_for(r.parked, what="the order's own dead letter")
        forged = make_envelope(make_release_order(), message_id=uuid4())
        async with amqp(s) as channel:
            message = aio_pika.Message(forged.to_bytes(), message_id=str(forged.message_id))
            await channel.default_exchange.publish(message, routing_key="hub.bnmp.out")
        rows = await wait_for(lambda: r.parked(2), what="the forged copy's dead letter")
        letter = next(row for row in rows if row["id"] != own["id"])
        assert letter["queue"] == "hub.bnmp.out"
        bnmp.accept_all()
        shown = (await r.client.get(f"/api/dead-letters/{letter['id']}", headers=VIEWER)).json()
        assert shown["verdict"]["code"] == "not_sent_by_hub"
        calls = len(bnmp.calls)
        answer = await r.client.post(
            f"/api/dead-letters/{letter['id']}/replay", json=REASON, headers=OPERATOR
        )
        assert answer.status_code == 409
        assert answer.json()["code"] == "not_sent_by_hub"
        async with amqp(s) as channel:
            assert await depth(channel, "hub.bnmp.out") == 0
        assert len(bnmp.calls) == calls
        mine = await r.client.post(
            f"/api/dead-letters/{own['id']}/replay", json=REASON, headers=OPERATOR
        )
        assert mine.status_code == 200, mine.text  # the hub's own copy goes out again


async def test_a_request_not_decided_in_time_expires(settings: HubSettings) -> None:
    """Past `approval_ttl_s` a request can no longer be approved: it is closed as expired."""
    s = ops_settings_of(settings, approval_ttl_s=0.001)
    async with running(s, FakeBnmp()) as r:
        await publish(s, "hub.court.in", make_release_order())
        doc = json.loads(make_envelope(make_receipt()).to_bytes())
        doc["schema_version"] = 9
        await publish(s, "hub.custodial_unit.in", json.dumps(doc).encode())
        rows = await wait_for(lambda: r.parked(2), what="two dead letters")
        letter = next(row for row in rows if row["queue"] == "hub.custodial_unit.in")
        ask = {
            "reason": "repair the schema version",
            "body": json.dumps({**doc, "schema_version": 1}),
        }
        asked = await r.client.post(
            f"/api/dead-letters/{letter['id']}/edit-replay", json=ask, headers=ADMIN
        )
        assert asked.status_code == 202, asked.text
        ok = {"reason": "approved far too late"}
        late = await r.client.post(
            f"/api/approvals/{asked.json()['id']}/approve", json=ok, headers=ADMIN2
        )
        assert late.status_code == 409
        assert "expired" in late.json()["detail"]
        listed = (await r.client.get("/api/approvals", headers=OPERATOR)).json()
        assert [a["state"] for a in listed] == ["expired"]
    assert await r.audit("dead_letter.edited_and_replayed") == []
    assert [e["actor"] for e in await r.audit("approval.expired")] == ["ops:bea"]
