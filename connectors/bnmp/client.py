"""BNMP 3.0's API as the hub uses it: an OAuth2 token, register a peça, page through changes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from hub.http.upstream import call, json_of
from hub.settings import BnmpSettings

__all__ = ["BnmpClient", "Criteria"]

SYSTEM = "bnmp"


@dataclass(frozen=True)
class Criteria:
    """What a `light-filter` query asks for: documents changed in a window of time, of a person
    (CPF or RJI), of a process (20 digits); whatever is None is not asked."""

    since: datetime | None = None
    until: datetime | None = None
    cpf: str | None = None
    rji: str | None = None
    process: str | None = None

    def body(self) -> dict[str, str]:
        """The query's JSON body, in BNMP's field names."""
        fields = {
            "dataAlteracaoInicio": self.since.isoformat() if self.since else None,
            "dataAlteracaoFim": self.until.isoformat() if self.until else None,
            "numeroCpf": self.cpf,
            "numeroIndividuo": self.rji,
            "numeroProcesso": self.process,
        }
        return {k: v for k, v in fields.items() if v is not None}


class BnmpClient:
    """Registers documents and reads changes; every failure is already a hub error."""

    def __init__(self, settings: BnmpSettings, http: httpx.AsyncClient) -> None:
        self._s = settings
        self._http = http
        self._token: str | None = None
        self._expires = 0.0

    async def _bearer(self, *, fresh: bool = False) -> dict[str, str]:
        if fresh or self._token is None or time.monotonic() > self._expires:
            data = {
                "grant_type": "client_credentials",
                "client_id": self._s.client_id,
                "client_secret": self._s.client_secret.get_secret_value(),
            }
            resp = await call(
                SYSTEM,
                lambda: self._http.post(
                    f"{self._s.url}/token", data=data, timeout=self._s.timeout_s
                ),
            )
            body = json_of(SYSTEM, resp)
            self._token = str(body["access_token"]) if isinstance(body, dict) else ""
            self._expires = time.monotonic() + float(body.get("expires_in", 60)) - 10
        return {"Authorization": f"Bearer {self._token}", "x-orgao-ativo": self._s.acting_unit}

    async def _post(self, path: str, payload: Any, *, accept: tuple[int, ...] = ()) -> Any:
        url = f"{self._s.url}{path}"

        async def send(headers: dict[str, str]) -> httpx.Response:
            return await self._http.post(
                url, json=payload, headers=headers, timeout=self._s.timeout_s
            )

        first = await self._bearer()
        resp = await call(SYSTEM, lambda: send(first), accept=(401, *accept))
        if resp.status_code == 401:  # the token expired early: one fresh try
            fresh = await self._bearer(fresh=True)
            resp = await call(SYSTEM, lambda: send(fresh), accept=accept)
        return json_of(SYSTEM, resp)

    async def probe(self) -> str:
        """A synthetic round trip: obtain a fresh OAuth2 token (touches no document)."""
        await self._bearer(fresh=True)
        return "token issued"

    async def register(self, peca: dict[str, Any]) -> Any:
        """Register a peça; an already registered one (409) answers with its existing id."""
        return await self._post("/v2/api/pecas", peca, accept=(409,))

    async def changes(self, since: datetime, page: int, size: int = 200) -> Any:
        """One page of documents changed since `since` (warrants issued, complied, revoked...),
        oldest change first."""
        return await self.pieces(Criteria(since=since), page, size)

    async def pieces(self, criteria: Criteria, page: int, size: int = 200) -> Any:
        """One page of `pecas/light-filter`: the documents that match `criteria` (a person, a
        process, a window of change times), oldest change first. BNMP answers at most 10 000
        results per query and pages of at most 1000."""
        return await self._post(
            f"/v2/api/pecas/light-filter?page={page}&size={min(size, 1000)}&sort=dataAlteracao,ASC",
            criteria.body(),
        )
