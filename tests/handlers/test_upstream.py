"""HTTP outcomes in hub terms, as a table: each answer or failure of an external system → the hub
error (and so the retry, backlog or dead letter), its reason, and how many calls were made.

The external system is an `httpx.MockTransport`, a real httpx transport that answers from a
function: the code under test runs unchanged through `httpx.AsyncClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contracts import ContractError
from hub.errors import HubError, UpstreamRejected, UpstreamThrottled, UpstreamUnavailable
from hub.http.upstream import call, json_of

URL = "http://bnmp.test/v2/api/pecas"

Step = httpx.Response | type[httpx.TransportError]


@dataclass
class Upstream:
    """An external system that answers `steps` in turn (the last one again once they run out)."""

    steps: Sequence[Step]
    calls: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        if isinstance(step, httpx.Response):
            return step
        raise step("simulated", request=request)


async def _call(upstream: Upstream, **options: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        return await call("bnmp", lambda: client.post(URL, json={}), wait_s=0, **options)


def _r(status: int, body: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=body, headers=headers)


# ---------------------------------------------------------------- answers the caller gets

ANSWERED = [
    pytest.param([_r(200, '{"ok": true}')], (), 200, 1, id="200"),
    pytest.param([_r(201)], (), 201, 1, id="201"),
    pytest.param([_r(204)], (), 204, 1, id="204"),
    pytest.param([_r(299)], (), 299, 1, id="299-any-2xx"),
    pytest.param([_r(409, '{"id": "BNMP-1"}')], (409,), 409, 1, id="409-accepted"),
    pytest.param([_r(401)], (401, 409), 401, 1, id="401-accepted-to-renew-the-token"),
    pytest.param([_r(503)], (503,), 503, 1, id="5xx-accepted-wins"),
    pytest.param([_r(503), _r(201)], (), 201, 2, id="503-then-201-retried-in-process"),
    pytest.param([_r(502), _r(504), _r(200)], (), 200, 3, id="two-5xx-then-200"),
    pytest.param([httpx.ConnectError, _r(201)], (), 201, 2, id="refused-then-201"),
    pytest.param([httpx.ReadTimeout, _r(200)], (), 200, 2, id="timeout-then-200"),
    pytest.param([_r(200), _r(503)], (), 200, 1, id="the-first-answer-ends-it"),
]


@pytest.mark.parametrize(("steps", "accept", "status", "calls"), ANSWERED)
async def test_answers_the_caller_receives(
    steps: list[Step], accept: tuple[int, ...], status: int, calls: int
) -> None:
    """A 2xx, or a status the caller accepts, comes back as the response; a failure that the
    in-process retries outlast does not surface at all."""
    upstream = Upstream(steps)
    resp = await _call(upstream, accept=accept, attempts=3)
    assert (resp.status_code, upstream.calls) == (status, calls)


# ---------------------------------------------------------------- failures in hub terms

LONG = "x" * 300

FAILED = [
    # throttled: to the broker's delayed ladder at once, no in-process retry
    pytest.param(
        [_r(429, headers={"Retry-After": "120"})],
        (),
        (UpstreamThrottled, "upstream_throttled", "bnmp throttled: 120"),
        1,
        id="429-with-retry-after",
    ),
    pytest.param(
        [_r(429)], (), (UpstreamThrottled, "upstream_throttled", "bnmp throttled"), 1, id="429"
    ),
    pytest.param(
        [_r(429)],
        (409,),
        (UpstreamThrottled, "upstream_throttled", "bnmp throttled"),
        1,
        id="429-other-status-accepted",
    ),
    # unavailable: tried `attempts` times here, then the connector's in-order backlog
    pytest.param(
        [_r(500)],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: HTTP 500"),
        2,
        id="500",
    ),
    pytest.param(
        [_r(503, "simulated outage")],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: HTTP 503"),
        2,
        id="503",
    ),
    pytest.param(
        [_r(504)],
        (409,),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: HTTP 504"),
        2,
        id="504-other-status-accepted",
    ),
    pytest.param(
        [httpx.ConnectTimeout],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: timeout"),
        2,
        id="connect-timeout",
    ),
    pytest.param(
        [httpx.ReadTimeout],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: timeout"),
        2,
        id="read-timeout",
    ),
    pytest.param(
        [httpx.WriteTimeout],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: timeout"),
        2,
        id="write-timeout",
    ),
    pytest.param(
        [httpx.PoolTimeout],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: timeout"),
        2,
        id="pool-timeout",
    ),
    pytest.param(
        [httpx.ConnectError],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: ConnectError"),
        2,
        id="connection-refused",
    ),
    pytest.param(
        [httpx.ReadError],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: ReadError"),
        2,
        id="connection-reset",
    ),
    pytest.param(
        [httpx.RemoteProtocolError],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: RemoteProtocolError"),
        2,
        id="closed-without-answer",
    ),
    pytest.param(
        [httpx.ConnectError, _r(503)],
        (),
        (UpstreamUnavailable, "upstream_unavailable", "bnmp unavailable: HTTP 503"),
        2,
        id="the-last-failure-is-reported",
    ),
    # rejected: a dead letter at once, with what the system said
    pytest.param(
        [_r(400, "numeroPeca is required")],
        (),
        (UpstreamRejected, "upstream_rejected", "bnmp refused: HTTP 400 numeroPeca is required"),
        1,
        id="400",
    ),
    pytest.param(
        [_r(401, "token missing or expired")],
        (),
        (UpstreamRejected, "upstream_rejected", "bnmp refused: HTTP 401 token missing or expired"),
        1,
        id="401-not-accepted",
    ),
    pytest.param(
        [_r(403)],
        (),
        (UpstreamRejected, "upstream_rejected", "bnmp refused: HTTP 403 "),
        1,
        id="403",
    ),
    pytest.param(
        [_r(404, "not found")],
        (),
        (UpstreamRejected, "upstream_rejected", "bnmp refused: HTTP 404 not found"),
        1,
        id="404",
    ),
    pytest.param(
        [_r(409, '{"id": "BNMP-1"}')],
        (),
        (UpstreamRejected, "upstream_rejected", 'bnmp refused: HTTP 409 {"id": "BNMP-1"}'),
        1,
        id="409-not-accepted",
    ),
    pytest.param(
        [_r(409)],
        (401,),
        (UpstreamRejected, "upstream_rejected", "bnmp refused: HTTP 409 "),
        1,
        id="409-other-status-accepted",
    ),
    pytest.param(
        [_r(422, LONG)],
        (),
        (UpstreamRejected, "upstream_rejected", "bnmp refused: HTTP 422 " + "x" * 200),
        1,
        id="422-body-cut-at-200",
    ),
    pytest.param(
        [_r(302, headers={"Location": "http://elsewhere.test/"})],
        (),
        (UpstreamRejected, "upstream_rejected", "bnmp refused: HTTP 302 "),
        1,
        id="302-not-followed",
    ),
]


@pytest.mark.parametrize(("steps", "accept", "error", "calls"), FAILED)
async def test_failures_become_hub_errors(
    steps: list[Step],
    accept: tuple[int, ...],
    error: tuple[type[HubError], str, str],
    calls: int,
) -> None:
    """Each failure is exactly one hub error, with its reason and message, after `calls` calls
    (with the default two attempts)."""
    upstream = Upstream(steps)
    with pytest.raises(HubError) as caught:
        await _call(upstream, accept=accept)
    assert (type(caught.value), caught.value.reason, str(caught.value)) == error
    assert upstream.calls == calls


@pytest.mark.parametrize("attempts", [1, 2, 4])
async def test_attempts_bound_the_calls(attempts: int) -> None:
    """A system that stays down is called `attempts` times, no more, before the hub gives up."""
    upstream = Upstream([_r(503)])
    with pytest.raises(UpstreamUnavailable):
        await _call(upstream, attempts=attempts)
    assert upstream.calls == attempts


@pytest.mark.parametrize("failure", [UpstreamThrottled, UpstreamRejected])
async def test_only_unavailability_is_retried_in_process(failure: type[HubError]) -> None:
    """Throttling and refusals leave at once, whatever `attempts` allows."""
    status = 429 if failure is UpstreamThrottled else 422
    upstream = Upstream([_r(status), _r(200)])
    with pytest.raises(failure):
        await _call(upstream, attempts=5)
    assert upstream.calls == 1


async def test_the_error_keeps_its_cause() -> None:
    """A transport failure is chained to the httpx error, for the logs."""
    with pytest.raises(UpstreamUnavailable) as caught:
        await _call(Upstream([httpx.ConnectError]), attempts=1)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.system == "bnmp"


# ---------------------------------------------------------------- json_of

JSON_BODIES = [
    pytest.param(b'{"id": "BNMP-1", "numeroPeca": "1"}', {"id": "BNMP-1", "numeroPeca": "1"}),
    pytest.param(b'{"content": [], "last": true}', {"content": [], "last": True}),
    pytest.param(b"[]", []),
    pytest.param(b"null", None),
    pytest.param('{"nome": "João"}'.encode(), {"nome": "João"}),
]


@pytest.mark.parametrize(("body", "parsed"), JSON_BODIES)
def test_json_of(body: bytes, parsed: Any) -> None:
    """A JSON body is returned as parsed; judging its shape is the mapping's job."""
    assert json_of("bnmp", httpx.Response(200, content=body)) == parsed


NOT_JSON = [
    pytest.param(200, b"<html>proxy error</html>", id="html-from-a-proxy"),
    pytest.param(200, b"", id="empty"),
    pytest.param(201, b'{"id": "BNMP-1"', id="truncated"),
    pytest.param(200, b"\x80\x81 not utf-8", id="not-utf-8"),
    pytest.param(409, b"Conflict", id="409-plain-text"),
]


@pytest.mark.parametrize(("status", "body"), NOT_JSON)
def test_json_of_refuses_what_is_not_json(status: int, body: bytes) -> None:
    """A body that is not JSON is a malformed answer, whatever the status said."""
    resp = httpx.Response(status, content=body, headers={"Content-Type": "application/json"})
    with pytest.raises(ContractError) as caught:
        json_of("setarim", resp)
    assert caught.value.reason == "malformed_answer"
    assert str(caught.value) == f"setarim answered HTTP {status} with a body that is not JSON"
