"""What a viewer reads through the real API: an allowlist of non-personal fields, whatever the
body holds, and nothing of a secret (sigiloso) document."""

from __future__ import annotations

import json
from typing import Any

from contracts import Envelope
from hub.settings import HubSettings
from tests.factories import CPF, T0, WARRANT, make_envelope, make_release_order, make_warrant
from tests.integration.harness import wait_for

from .scenario import OPERATOR, VIEWER, FakeBnmp, Running, ops_settings_of, publish, running

NAME = "Fulano de Tal"
MOTHER = "Beltrana de Tal"
SPACED_CPF = f"{CPF[:3]} {CPF[3:6]} {CPF[6:9]} {CPF[9:]}"


def _malformed(**payload: Any) -> bytes:
    """A release order whose payload says `payload` (keys the contract does not know)."""
    doc = json.loads(make_envelope(make_release_order()).to_bytes())
    doc["payload"] = {**doc["payload"], **payload}
    return json.dumps(doc).encode()


async def _everything_a_viewer_reads(r: Running) -> str:
    """The dead-letter list, groups, each detail, the audit and the orders, as a viewer."""
    texts: list[str] = []
    for path in (
        "/api/dead-letters?status=any&limit=500",
        "/api/dead-letters/groups?status=any",
        "/api/audit?everything=true&limit=500",
        "/api/orders",
    ):
        answer = await r.client.get(path, headers=VIEWER)
        assert answer.status_code == 200, path
        texts.append(answer.text)
    page = (await r.client.get("/api/dead-letters?status=any&limit=500", headers=VIEWER)).json()
    for item in page["items"]:
        detail = await r.client.get(f"/api/dead-letters/{item['id']}", headers=VIEWER)
        assert detail.status_code == 200
        texts.append(detail.text)
    return "\n".join(texts)


async def test_malformed_bodies_and_upstream_errors_show_a_viewer_nothing_personal(
    settings: HubSettings,
) -> None:
    """Keys masking did not know (`CPF`, `nome`, `mae`), a CPF written with spaces where a number
    should be, and BNMP's error echoing the person's name: a viewer reads none of them, while the
    order's number and the failure's codes stay readable."""
    s = ops_settings_of(settings)

    def echo_the_name(env: Envelope) -> bool:
        raise_with = f"BNMP: pessoa {NAME} (CPF {CPF}) sem mandado"
        raise UpstreamEcho(raise_with)

    bnmp = FakeBnmp(refuse=echo_the_name)
    bodies = [
        _malformed(CPF=CPF, nome=NAME, mae=MOTHER),
        _malformed(order_number=SPACED_CPF),
        b"pessoa " + NAME.encode() + b" cpf " + CPF.encode(),
    ]
    async with running(s, bnmp) as r:
        await publish(s, "hub.court.in", *bodies, make_release_order())
        rows = await wait_for(lambda: r.parked(4), what="four dead letters")
        assert {row["queue"] for row in rows} == {"hub.court.in", "hub.bnmp.out"}
        seen = await _everything_a_viewer_reads(r)
        refused = next(row for row in rows if row["queue"] == "hub.bnmp.out")
        operator = await r.client.get(f"/api/dead-letters/{refused['id']}", headers=OPERATOR)
    for secret in (CPF, SPACED_CPF, CPF[:3] + " " + CPF[3:6], NAME, "Fulano", MOTHER, '"nome"'):
        assert secret not in seen, secret
    assert "court.release_order.issued" in seen
    assert "upstream_rejected" in seen or "UpstreamEcho" in seen
    shown = operator.json()
    assert NAME in shown["error_message"]  # an operator reads BNMP's words (they act on them)
    assert "Fulano" not in json.dumps(shown["body"])  # but the body through the allowlist too
    assert CPF not in operator.text  # and the words scrubbed of CPFs


class UpstreamEcho(Exception):
    """An upstream refusal whose message repeats what it was sent."""


async def test_a_secret_document_is_absent_for_a_viewer(settings: HubSettings) -> None:
    """A secret warrant's timeline, audit entries and dead letters do not exist for a viewer (not
    refused: absent); an operator sees them, and a public order stays visible to both."""
    s = ops_settings_of(settings)
    bnmp = FakeBnmp()  # refuses everything: each document leaves a dead letter
    async with running(s, bnmp) as r:
        # the order covers no warrant (flagrante): it is processed and refused by BNMP alone
        flagrante = make_release_order(covered_warrants=(), flagrante=True, arrest_date=T0.date())
        await publish(s, "hub.court.in", make_warrant(secrecy="secret"), flagrante)
        rows = await wait_for(lambda: r.parked(2), what="two dead letters")
        secret = next(row for row in rows if row["correlation_id"] == WARRANT)
        order = make_release_order().order_number

        async def as_(who: dict[str, str], path: str) -> Any:
            answer = await r.client.get(path, headers=who)
            return answer.status_code, answer.json()

        assert (await as_(VIEWER, f"/api/timeline/{WARRANT}"))[0] == 404
        assert (await as_(OPERATOR, f"/api/timeline/{WARRANT}"))[0] == 200
        assert (await as_(VIEWER, f"/api/timeline/{order}"))[0] == 200
        assert (await as_(VIEWER, f"/api/dead-letters/{secret['id']}"))[0] == 404
        assert (await as_(OPERATOR, f"/api/dead-letters/{secret['id']}"))[0] == 200
        _, page = await as_(VIEWER, "/api/dead-letters?status=any")
        assert [d["correlation_id"] for d in page["items"]] == [order]
        assert page["total"] == 1
        _, groups = await as_(VIEWER, "/api/dead-letters/groups?status=any")
        assert sum(g["count"] for g in groups) == 1
        _, listed = await as_(OPERATOR, "/api/dead-letters?status=any")
        assert listed["total"] == 2
        _, viewer_audit = await as_(VIEWER, "/api/audit?everything=true&limit=500")
        _, operator_audit = await as_(OPERATOR, "/api/audit?everything=true&limit=500")
        assert WARRANT not in json.dumps(viewer_audit)
        assert any(e["subject"] == WARRANT for e in operator_audit)
        assert any(e["subject"] == order for e in viewer_audit)
        _, subject_audit = await as_(VIEWER, f"/api/audit?everything=true&subject={WARRANT}")
        assert subject_audit == []
        search = await as_(VIEWER, f"/api/dead-letters?status=any&search={WARRANT[-9:]}")
        assert search[1]["total"] == 0
