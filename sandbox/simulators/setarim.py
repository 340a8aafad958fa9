"""A SETARIM stand-in on loopback: it answers impediments from its own record of open warrants.

Warrants reach its record through `PUT /mandados/{numero}` (the hub forwards warrant events) or
`POST /_sim/mandados` (warrants the archive already had). A validation lists, as impediments, every
open (pending or complied) warrant of the same person that the release order does not cover.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException

from sandbox.simkit import Effects, Faults, install

__all__ = ["SetarimSimulator", "create_app"]

_OPEN = frozenset({"pendente", "cumprido"})


class SetarimSimulator:
    """The archive: warrants by number, with their person, court and process."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.warrants: dict[str, dict[str, Any]] = {}
        self.faults = Faults()
        self.effects = Effects()
        self.validations: dict[str, int] = {}

    def person_key(self, pessoa: dict[str, Any]) -> str:
        """The archive's key for a person (CPF, else RJI)."""
        return str(pessoa.get("cpf") or pessoa.get("rji") or "")

    def impediments(self, request: dict[str, Any]) -> list[dict[str, str]]:
        """Open warrants of the person that the order does not cover."""
        who = self.person_key(request.get("pessoa") or {})
        covered = set(request.get("mandadosAbrangidos") or [])
        return [
            {
                "orgao": w["orgao"],
                "processo": w["numeroProcesso"],
                "mandado": number,
                "descricao": w.get("descricao", "mandado em aberto"),
            }
            for number, w in sorted(self.warrants.items())
            if w.get("pessoa_key") == who and w["situacao"] in _OPEN and number not in covered
        ]

    def upsert(self, number: str, record: dict[str, Any]) -> None:
        """Record a warrant or its new situation."""
        current = self.warrants.setdefault(number, {"situacao": "pendente"})
        if "pessoa" in record:
            current["pessoa_key"] = self.person_key(record["pessoa"])
        current.update({k: v for k, v in record.items() if k != "pessoa"})


def create_app(sim: SetarimSimulator) -> FastAPI:
    """The simulator as an ASGI app."""
    app = FastAPI(title="SETARIM simulator")
    install(app, sim.faults, sim.effects)

    @app.post("/validacoes")
    async def validate(request: dict[str, Any]) -> dict[str, Any]:
        order = str(request.get("numeroAlvara", ""))
        if not order:
            raise HTTPException(422, "numeroAlvara is required")
        sim.effects.record(f"validation:{order}")
        sim.validations[order] = sim.validations.get(order, 0) + 1
        return {
            "certidao": f"CV-{len(sim.validations):06d}-{sim.validations[order]}",
            "dataValidacao": sim.clock().isoformat(),
            "impedimentos": sim.impediments(request),
        }

    @app.put("/mandados/{number}")
    async def record(number: str, body: dict[str, Any]) -> dict[str, str]:
        sim.effects.record(f"warrant:{number}:{body.get('situacao')}")
        sim.upsert(number, body)
        return {"numeroMandado": number, "situacao": sim.warrants[number]["situacao"]}

    @app.post("/_sim/mandados")
    async def preload(body: dict[str, Any]) -> dict[str, int]:
        sim.upsert(str(body["numeroMandado"]), body)
        return {"warrants": len(sim.warrants)}

    return app
