"""The court's system as the hub calls it: one signed webhook per notification."""

from __future__ import annotations

import httpx

from connectors.court.mapping import SIGNATURE_HEADER, sign
from hub.http.upstream import call
from hub.settings import CourtSettings

__all__ = ["CourtClient"]

SYSTEM = "court"


class CourtClient:
    """Posts notifications to the court system registered for a court unit (or the default)."""

    def __init__(self, settings: CourtSettings, http: httpx.AsyncClient) -> None:
        self._s = settings
        self._http = http

    def url_for(self, court: str | None) -> str:
        """The webhook of `court`, or the default one."""
        return self._s.webhooks.get(court or "", self._s.webhook_url)

    async def probe(self, court: str | None = None) -> str:
        """A synthetic round trip to the court system's health endpoint (beside its webhook)."""
        url = self.url_for(court).rsplit("/", 1)[0] + "/health"
        resp = await call(SYSTEM, lambda: self._http.get(url, timeout=self._s.timeout_s))
        return resp.text[:100]

    async def notify(self, court: str | None, body: bytes, message_id: str, kind: str) -> None:
        """POST the envelope, signed; a 2xx is the court system's acknowledgement."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._s.webhook_secret, body),
            "X-Hub-Message-Id": message_id,
            "X-Hub-Kind": kind,
        }
        await call(
            SYSTEM,
            lambda: self._http.post(
                self.url_for(court), content=body, headers=headers, timeout=self._s.timeout_s
            ),
        )
