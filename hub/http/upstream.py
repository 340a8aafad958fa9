"""Calling an external system over HTTP: short in-process retries, and its failures in hub terms.

Timeouts, connection errors and 5xx become `UpstreamUnavailable` (retried here a couple of times
within a second, then the delivery waits in the connector's in-order backlog); 429 becomes
`UpstreamThrottled` (the broker's delayed ladder); other 4xx become
`UpstreamRejected` (dead letter); an answer that is not the JSON expected becomes a `ContractError`
(dead letter, with the reason).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from contracts import ContractError
from hub.errors import UpstreamRejected, UpstreamThrottled, UpstreamUnavailable

__all__ = ["call", "json_of"]


def _check(system: str, resp: httpx.Response, accept: Collection[int]) -> httpx.Response:
    code = resp.status_code
    if code in accept or 200 <= code < 300:
        return resp
    if code == 429:
        raise UpstreamThrottled(system, resp.headers.get("Retry-After", ""))
    if code >= 500:
        raise UpstreamUnavailable(system, f"HTTP {code}")
    raise UpstreamRejected(f"{system} refused: HTTP {code} {resp.text[:200]}")


async def call(
    system: str,
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    accept: Collection[int] = (),
    attempts: int = 2,
    wait_s: float = 0.2,
) -> httpx.Response:
    """Send with up to `attempts` quick tries; return the response or raise a hub error."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(UpstreamUnavailable),
        stop=stop_after_attempt(attempts),
        wait=wait_fixed(wait_s),
        reraise=True,
    ):
        with attempt:
            try:
                resp = await send()
            except httpx.TimeoutException as e:
                raise UpstreamUnavailable(system, "timeout") from e
            except httpx.TransportError as e:
                raise UpstreamUnavailable(system, type(e).__name__) from e
            return _check(system, resp, accept)
    raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying reraises


def json_of(system: str, resp: httpx.Response) -> Any:
    """The response's JSON, or a `ContractError` saying the system answered garbage."""
    try:
        return resp.json()
    except ValueError:
        raise ContractError(
            f"{system} answered HTTP {resp.status_code} with a body that is not JSON",
            reason="malformed_answer",
        ) from None
