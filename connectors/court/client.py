"""The court's system as the hub calls it: one signed webhook per notification, to that court's
own system only (`CourtSettings.webhook_for`)."""

from __future__ import annotations

import time

import httpx

from connectors.court.mapping import MESSAGE_ID_HEADER, SIGNATURE_HEADER, sign
from contracts import ContractError
from hub.http.upstream import call
from hub.settings import CourtSettings, CourtWebhook

__all__ = ["CourtClient"]

SYSTEM = "court"


class CourtClient:
    """Posts notifications to the court system registered for a court unit."""

    def __init__(self, settings: CourtSettings, http: httpx.AsyncClient) -> None:
        self._s = settings
        self._http = http

    def webhook_for(self, court: str | None) -> CourtWebhook:
        """The webhook of `court`'s system; refuses (`no_webhook`) a court that has none, so its
        notifications wait in the dead-letter store for an operator instead of going elsewhere."""
        hook = self._s.webhook_for(court)
        if hook is None:
            raise ContractError(
                f"no webhook is configured for court {court} (HUB_COURT__WEBHOOKS): held for an "
                "operator to replay once it is",
                reason="no_webhook",
            )
        return hook

    async def probe(self) -> str:
        """A synthetic round trip to each court system's health endpoint (beside its webhook)."""
        answers = []
        for url in sorted({h.url.rsplit("/", 1)[0] + "/health" for h in self._s.webhooks.values()}):
            answers.append(await self._get(url))
        return " | ".join(answers) or "no court webhook configured"

    async def _get(self, url: str) -> str:
        resp = await call(SYSTEM, lambda: self._http.get(url, timeout=self._s.timeout_s))
        return resp.text[:100]

    async def notify(self, court: str | None, body: bytes, message_id: str, kind: str) -> None:
        """POST the envelope, signed with that court's secret; a 2xx is its acknowledgement."""
        hook = self.webhook_for(court)
        signature = sign(hook.secret.get_secret_value(), body, message_id, int(time.time()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            MESSAGE_ID_HEADER: message_id,
            "X-Hub-Kind": kind,
        }
        timeout = self._s.timeout_s
        await call(
            SYSTEM,
            lambda: self._http.post(hook.url, content=body, headers=headers, timeout=timeout),
        )
