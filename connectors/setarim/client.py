"""SETARIM's API as the hub uses it: validate a release order; record a warrant event."""

from __future__ import annotations

from typing import Any

import httpx

from hub.http.upstream import call, json_of
from hub.settings import SetarimSettings

__all__ = ["SetarimClient"]

SYSTEM = "setarim"


class SetarimClient:
    """Two calls, each already translated into hub errors."""

    def __init__(self, settings: SetarimSettings, http: httpx.AsyncClient) -> None:
        self._s = settings
        self._http = http

    async def validate(self, request: dict[str, Any]) -> Any:
        """Ask for the Certidão de Validação of a release order."""
        resp = await call(
            SYSTEM,
            lambda: self._http.post(
                f"{self._s.url}/validacoes", json=request, timeout=self._s.timeout_s
            ),
        )
        return json_of(SYSTEM, resp)

    async def probe(self) -> str:
        """A synthetic round trip to SETARIM's health endpoint."""
        resp = await call(
            SYSTEM, lambda: self._http.get(f"{self._s.url}/health", timeout=self._s.timeout_s)
        )
        return resp.text[:100]

    async def record(self, warrant: dict[str, Any]) -> None:
        """Tell SETARIM of a warrant issued, revoked, complied or expired (idempotent there)."""
        await call(
            SYSTEM,
            lambda: self._http.put(
                f"{self._s.url}/mandados/{warrant['numeroMandado']}",
                json=warrant,
                timeout=self._s.timeout_s,
            ),
        )
