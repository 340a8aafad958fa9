"""A BNMP 3.0 stand-in on loopback: OAuth2 token, register peças, light-filter changes, faults.

Registrations are keyed on `numeroPeca`: a second registration of the same document answers 409 with
the first id and counts as a duplicate attempt, not a second effect. `POST /_sim/warrant-change`
makes BNMP report a warrant as complied (by the police) or expired, as its own users would.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Form, Header, HTTPException, Response
from pydantic import AwareDatetime, BaseModel

from sandbox.simkit import Effects, Faults, install

__all__ = ["BnmpSimulator", "create_app"]


class Change(BaseModel):
    """A change BNMP reports through light-filter."""

    numeroPeca: str  # noqa: N815 - BNMP's field names
    status: str
    dataAlteracao: AwareDatetime  # noqa: N815
    localCumprimento: str | None = None  # noqa: N815
    responsavelNome: str | None = None  # noqa: N815
    responsavelCargo: str | None = None  # noqa: N815


class BnmpSimulator:
    """The simulator's state: tokens, registered peças, changes, faults and effects."""

    def __init__(self, client_id: str = "hub", client_secret: str = "hub-secret") -> None:
        self.credentials = (client_id, client_secret)
        self.tokens: set[str] = set()
        self.registered: dict[str, dict[str, Any]] = {}
        self.changes: list[Change] = []
        self.faults = Faults()
        self.effects = Effects()


def _token_route(app: FastAPI, sim: BnmpSimulator) -> None:
    @app.post("/token")
    async def token(
        client_id: Annotated[str, Form()],
        client_secret: Annotated[str, Form()],
        grant_type: Annotated[str, Form()],
    ) -> dict[str, Any]:
        if (client_id, client_secret) != sim.credentials or grant_type != "client_credentials":
            raise HTTPException(401, "invalid_client")
        value = secrets.token_urlsafe(16)
        sim.tokens.add(value)
        return {"access_token": value, "token_type": "Bearer", "expires_in": 300}


def _auth(sim: BnmpSimulator, authorization: str | None, orgao: str | None) -> None:
    if not authorization or authorization.removeprefix("Bearer ") not in sim.tokens:
        raise HTTPException(401, "token missing or expired")
    if not orgao:
        raise HTTPException(400, "x-orgao-ativo is required")


def _register_route(app: FastAPI, sim: BnmpSimulator) -> None:
    @app.post("/v2/api/pecas", status_code=201)
    async def register(
        peca: dict[str, Any],
        response: Response,
        authorization: Annotated[str | None, Header()] = None,
        x_orgao_ativo: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        _auth(sim, authorization, x_orgao_ativo)
        number = str(peca.get("numeroPeca", ""))
        if not number.isdigit() or "tipoPeca" not in peca:
            raise HTTPException(422, "numeroPeca (digits) and tipoPeca are required")
        key = f"{peca['tipoPeca']}:{number}"  # one document of each type per number
        if not sim.effects.record(key):
            response.status_code = 409
            return sim.registered[key]
        sim.registered[key] = {
            "id": f"BNMP-{len(sim.registered) + 1:07d}",
            "numeroPeca": number,
            "tipoPeca": peca["tipoPeca"],
            "status": "Ativo",
        }
        return sim.registered[key]


def _changes_routes(app: FastAPI, sim: BnmpSimulator) -> None:
    @app.post("/v2/api/pecas/light-filter")
    async def light_filter(
        body: dict[str, Any],
        page: int = 0,
        size: int = 200,
        authorization: Annotated[str | None, Header()] = None,
        x_orgao_ativo: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        _auth(sim, authorization, x_orgao_ativo)
        since = datetime.fromisoformat(str(body.get("dataAlteracaoInicio")))
        found = sorted(
            (c for c in sim.changes if c.dataAlteracao >= since), key=lambda c: c.dataAlteracao
        )
        chunk = found[page * size : (page + 1) * size]
        return {
            "content": [c.model_dump(mode="json") for c in chunk],
            "totalElements": len(found),
            "last": (page + 1) * size >= len(found),
        }

    @app.post("/_sim/warrant-change")
    async def warrant_change(change: Change) -> dict[str, int]:
        sim.changes.append(change)
        return {"changes": len(sim.changes)}


def create_app(sim: BnmpSimulator) -> FastAPI:
    """The simulator as an ASGI app (serve it with uvicorn on 127.0.0.1)."""
    app = FastAPI(title="BNMP 3.0 simulator")
    install(app, sim.faults, sim.effects)
    _token_route(app, sim)
    _register_route(app, sim)
    _changes_routes(app, sim)
    return app
