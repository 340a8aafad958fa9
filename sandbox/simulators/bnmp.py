"""A BNMP 3.0 stand-in on loopback: the register of warrants, with its own users.

It speaks BNMP's words: piece statuses ("Aguardando Cumprimento", "Cumprido", "Revogado"), piece
types ("Mandado de Prisão", "Alvará de Soltura", ...), event types ("Cumprimento de Mandado de
Prisão", "Revogação Automática", ...) and the person's `statusPessoa` ("Procurado", "Preso", "Em
Liberdade", "Aguardando Soltura"). Endpoints:

* `POST /token` (OAuth2 client credentials) and `POST /v2/api/pecas`: the hub registers a peça.
  Keyed on type and `numeroPeca`: a second registration of the same document answers 409 with the
  first id and counts as a duplicate attempt, not a second effect. A register does what the peça
  says: a contramandado revokes its warrant, an alvará the warrants it lists.
* `POST /v2/api/pecas/light-filter`: the pieces changed in a window (`dataAlteracaoInicio`,
  `dataAlteracaoFim`), of a person (`numeroCpf`, `numeroIndividuo`) or a process
  (`numeroProcesso`), oldest change first, in Spring pages; each item as `connectors.bnmp.mapping`
  describes it, with its current status and the event that made its last change.
* What BNMP's own users do, which the hub never carried (`/_sim/...`, and the same as methods):
  a court (of another state, say) issues a warrant; the police comply with one (the person's other
  pending warrants become complied with it, R417 art.12 sole §); a warrant expires (revoked
  automatically, S003 art.7 sole §) or is revoked; and, to test the hub, BNMP drifts (any status
  or event label, known or not) or serves an item as given (a malformed one, say).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Form, Header, HTTPException, Response
from pydantic import AwareDatetime, BaseModel

from sandbox.simkit import Effects, Faults, install

__all__ = ["BnmpSimulator", "Issue", "Piece", "create_app"]

PENDING, COMPLIED, REVOKED = "Aguardando Cumprimento", "Cumprido", "Revogado"
ARREST_WARRANT = "Mandado de Prisão"
# The piece types the hub registers, as BNMP names them, and the simulator's short key for each.
_SLUGS = {
    "Alvará de Soltura": "release_order",
    "Ordem de Liberação": "release_order",
    "Ordem de Desinternação": "release_order",
    "Certidão de Cumprimento de Alvará de Soltura": "release_compliance_certificate",
    ARREST_WARRANT: "warrant",
    "Contramandado": "counter_warrant",
    "Certidão de Cumprimento de Mandado de Prisão": "warrant_compliance_certificate",
}
_RELEASES = ("Alvará de Soltura", "Ordem de Liberação", "Ordem de Desinternação")


@dataclass
class Piece:
    """A peça as the register holds it: its labels, its person, its last change and event."""

    id: str
    numeroPeca: str  # noqa: N815 - BNMP's field names
    tipo: str
    status: str
    changed_at: datetime
    processo: str
    pessoa: dict[str, Any]
    orgao: str | int | None = None
    sigla: str | None = None
    sigilo: str = "Aberto"
    validade: date | None = None
    especie: str | None = None
    evento: dict[str, Any] | None = None

    def person_key(self) -> str:
        """The register's key of the person: CPF, else RJI."""
        return str(self.pessoa.get("numeroCpf") or self.pessoa.get("numeroIndividuo") or "")


class Issue(BaseModel):
    """A warrant a court issues in BNMP itself (`POST /_sim/warrants`)."""

    numeroProcesso: str  # noqa: N815 - BNMP's field names; 20 digits
    numeroCpf: str | None = None  # noqa: N815
    numeroIndividuo: str | None = None  # noqa: N815
    nomePessoa: str = "Pessoa Procurada"  # noqa: N815
    idOrgaoJudiciario: str | int = 4321  # noqa: N815
    siglaTribunal: str = "TJSP"  # noqa: N815
    dataValidade: date | None = None  # noqa: N815
    especiePrisao: str = "Prisão Preventiva"  # noqa: N815
    sigilo: str = "Aberto"
    sequencia: int = 1
    at: AwareDatetime | None = None


class BnmpSimulator:
    """The register: tokens, registered peças, the pieces and their changes, faults, effects."""

    def __init__(
        self,
        client_id: str = "hub",
        client_secret: str = "hub-secret",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.credentials = (client_id, client_secret)
        self.clock = clock  # the world's time: what the register stamps its changes with
        self.tokens: set[str] = set()
        self.registered: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, dict[str, Any]] = {}  # each registered peça, as the hub sent it
        self.pieces: dict[str, Piece] = {}
        self.person_status: dict[str, str] = {}
        self.raw_items: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.faults = Faults()
        self.effects = Effects()

    # ---------------------------------------------------------------- what the register does

    def _id(self) -> str:
        return f"BNMP-{next(self._ids):07d}"

    def _change(
        self, piece: Piece, status: str, at: datetime, event: str | None, **detail: Any
    ) -> Piece:
        piece.status, piece.changed_at = status, at
        piece.evento = (
            {"descricaoTipoEvento": event, "dataEvento": at.isoformat(), **detail}
            if event
            else None
        )
        return piece

    def issue(self, order: Issue) -> Piece:
        """A court issues a warrant in BNMP (S004 item 10): a 28-digit number of its own."""
        at = order.at or self.clock()
        first26 = f"{order.numeroProcesso}01{order.sequencia:04d}"
        number = f"{first26}{int(first26) % 89 + 10:02d}"  # BNMP's real check digits are not public
        pessoa = {
            "numeroCpf": order.numeroCpf,
            "numeroIndividuo": order.numeroIndividuo,
            "nomePessoa": order.nomePessoa,
        }
        piece = Piece(
            id=self._id(),
            numeroPeca=number,
            tipo=ARREST_WARRANT,
            status=PENDING,
            changed_at=at,
            processo=order.numeroProcesso,
            pessoa=pessoa,
            orgao=order.idOrgaoJudiciario,
            sigla=order.siglaTribunal,
            sigilo=order.sigilo,
            validade=order.dataValidade,
            especie=order.especiePrisao,
        )
        self._change(piece, PENDING, at, "Expedição de Mandado de Prisão")
        self.pieces[number] = piece
        self.person_status.setdefault(piece.person_key(), "Procurado")
        return piece

    def comply(
        self,
        number: str,
        at: datetime | None = None,
        place: str = "Belo Horizonte/MG",
        by: tuple[str, str] = ("Delegado de Plantão", "delegado de polícia"),
    ) -> list[Piece]:
        """The police comply with a warrant (Prov. Conj. 154/2025); the person's other pending
        warrants become complied with it (R417 art.12 sole §). Returns the pieces changed."""
        at = at or self.clock()
        piece = self._piece(number)
        detail = {"localEvento": place, "responsavelNome": by[0], "responsavelCargo": by[1]}
        changed = [self._change(piece, COMPLIED, at, "Cumprimento de Mandado de Prisão", **detail)]
        for other in self.pieces.values():
            if other is not piece and other.status == PENDING and _same_person(other, piece):
                changed.append(
                    self._change(other, COMPLIED, at, "Cumprimento Automático", **detail)
                )
        self.person_status[piece.person_key()] = "Preso"
        return changed

    def expire(self, number: str, at: datetime | None = None) -> Piece:
        """A pending warrant's validity passed: BNMP revokes it (S003 art.7 sole §)."""
        return self._change(
            self._piece(number), REVOKED, at or self.clock(), "Revogação Automática"
        )

    def expire_due(self, today: date, at: datetime | None = None) -> list[Piece]:
        """Revoke every pending warrant whose validity date is before `today`."""
        return [
            self.expire(p.numeroPeca, at)
            for p in list(self.pieces.values())
            if p.status == PENDING and p.validade is not None and p.validade < today
        ]

    def revoke(
        self, number: str, at: datetime | None = None, event: str = "Revogação por Contramandado"
    ) -> Piece:
        """A warrant revoked in BNMP (a contramandado or an alvará issued there)."""
        return self._change(self._piece(number), REVOKED, at or self.clock(), event)

    def drift(
        self, number: str, status: str, event: str | None = None, at: datetime | None = None
    ) -> Piece:
        """BNMP says whatever it is told to: any status and event label, known to the hub or not."""
        return self._change(self._piece(number), status, at or self.clock(), event)

    def _piece(self, number: str) -> Piece:
        """The warrant `number`; one BNMP holds before the hub's registration of it reaches the
        simulator (the police act on what BEMP and PCNet show) is there with what is known."""
        if number not in self.pieces:
            self.pieces[number] = Piece(
                id=self._id(),
                numeroPeca=number,
                tipo=ARREST_WARRANT,
                status=PENDING,
                changed_at=self.clock(),
                processo=number[:20],
                pessoa={},
            )
        return self.pieces[number]

    def set_person_status(self, person: str, label: str) -> None:
        """The person's `statusPessoa` (CPF or RJI), as BNMP will show it from now on."""
        self.person_status[person] = label

    def serve_raw(self, item: dict[str, Any]) -> None:
        """Serve `item` as it is in every light-filter answer whose window it falls in."""
        self.raw_items.append(item)

    def _register_effects(self, peca: dict[str, Any], at: datetime) -> None:
        """What a peça the hub registers does in the register."""
        tipo = str(peca["tipoPeca"])
        refs = [
            self.pieces[r]
            for r in map(str, peca.get("pecasReferenciadas") or ())
            if r in self.pieces
        ]
        if tipo == ARREST_WARRANT:
            self._register_warrant(peca, at)
        elif tipo == "Contramandado":
            for w in (w for w in refs if w.status == PENDING):
                self._change(w, REVOKED, at, "Revogação por Contramandado")
        elif tipo in _RELEASES:
            for w in (w for w in refs if w.status == COMPLIED):
                self._change(w, REVOKED, at, "Revogação por Alvará de Soltura")
            if key := _person_of(peca):
                self.person_status[key] = "Aguardando Soltura"
        elif tipo == "Certidão de Cumprimento de Alvará de Soltura" and peca.get("liberado"):
            for ref in map(str, peca.get("pecasReferenciadas") or ()):
                order = self.registered.get(f"release_order:{ref}")
                if order is not None and order.get("pessoa"):
                    self.person_status[order["pessoa"]] = "Em Liberdade"

    def _register_warrant(self, peca: dict[str, Any], at: datetime) -> None:
        """A warrant the hub registers: in the register, pending compliance."""
        number = str(peca["numeroPeca"])
        pessoa = peca.get("pessoa") or {}
        validity = peca.get("dataValidade")
        known = self.pieces.get(number)
        if known is not None:  # acted on before the registration arrived: keep its status
            known.pessoa = known.pessoa or {
                "numeroCpf": pessoa.get("numeroCpf"),
                "numeroIndividuo": pessoa.get("numeroIndividuo"),
                "nomePessoa": pessoa.get("nome"),
            }
            known.orgao = known.orgao or peca.get("orgaoJudiciario")
            return
        piece = Piece(
            id=self._id(),
            numeroPeca=number,
            tipo=ARREST_WARRANT,
            status=PENDING,
            changed_at=at,
            processo=str(peca.get("numeroProcesso", number[:20])),
            pessoa={
                "numeroCpf": pessoa.get("numeroCpf"),
                "numeroIndividuo": pessoa.get("numeroIndividuo"),
                "nomePessoa": pessoa.get("nome"),
            },
            orgao=peca.get("orgaoJudiciario"),
            sigilo=str(peca.get("sigilo") or "Aberto"),
            validade=date.fromisoformat(validity) if validity else None,
            especie=peca.get("especiePrisao"),
        )
        self.pieces[number] = self._change(piece, PENDING, at, "Expedição de Mandado de Prisão")
        self.person_status.setdefault(piece.person_key(), "Procurado")

    # ---------------------------------------------------------------- what BNMP serves

    def item(self, piece: Piece) -> dict[str, Any]:
        """A piece as light-filter serves it."""
        return {
            "id": piece.id,
            "numeroPeca": piece.numeroPeca,
            "descricaoTipoPeca": piece.tipo,
            "descricaoStatus": piece.status,
            "dataAlteracao": piece.changed_at.isoformat(),
            "numeroProcesso": piece.processo,
            **piece.pessoa,
            "statusPessoa": self.person_status.get(piece.person_key()),
            "idOrgaoJudiciario": piece.orgao,
            "siglaTribunal": piece.sigla,
            "sigilo": piece.sigilo,
            "dataValidade": piece.validade.isoformat() if piece.validade else None,
            "especiePrisao": piece.especie,
            "evento": piece.evento,
        }

    def found(self, criteria: dict[str, Any]) -> list[dict[str, Any]]:
        """The items matching a light-filter query, oldest change first."""
        since = _time(criteria.get("dataAlteracaoInicio"))
        until = _time(criteria.get("dataAlteracaoFim"))
        wanted = {k: criteria.get(k) for k in ("numeroCpf", "numeroIndividuo", "numeroProcesso")}
        items = [self.item(p) for p in self.pieces.values()] + list(self.raw_items)

        def matches(item: dict[str, Any]) -> bool:
            at = _time(item.get("dataAlteracao"))
            if at is not None and (
                (since is not None and at < since) or (until is not None and at > until)
            ):
                return False
            return all(v is None or item.get(k) == v for k, v in wanted.items())

        far = datetime.max.replace(tzinfo=UTC)
        return sorted(
            (i for i in items if matches(i)), key=lambda i: _time(i.get("dataAlteracao")) or far
        )


def _person_of(peca: dict[str, Any]) -> str:
    pessoa = peca.get("pessoa") or {}
    return str(pessoa.get("numeroCpf") or pessoa.get("numeroIndividuo") or "")


def _same_person(a: Piece, b: Piece) -> bool:
    return bool(a.person_key()) and a.person_key() == b.person_key()


def _time(value: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return at if at is None or at.tzinfo is not None else None


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
        slug = _SLUGS.get(str(peca.get("tipoPeca")))
        if not number.isdigit() or slug is None:
            raise HTTPException(422, "numeroPeca (digits) and a known tipoPeca are required")
        key = f"{slug}:{number}"  # one document of each type per number
        if not sim.effects.record(key):
            response.status_code = 409
            return {k: v for k, v in sim.registered[key].items() if k != "pessoa"}
        sim.registered[key] = {
            "id": sim._id(),
            "numeroPeca": number,
            "tipoPeca": peca["tipoPeca"],
            "status": "Ativo",
            "pessoa": _person_of(peca),
        }
        sim.documents[key] = peca
        sim._register_effects(peca, sim.clock())
        return {k: v for k, v in sim.registered[key].items() if k != "pessoa"}


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
        found = sim.found(body)
        chunk = found[page * size : (page + 1) * size]
        return {
            "content": chunk,
            "totalElements": len(found),
            "totalPages": (len(found) + size - 1) // size,
            "last": (page + 1) * size >= len(found),
        }


class _At(BaseModel):
    at: AwareDatetime | None = None


class _Drift(BaseModel):
    status: str
    event: str | None = None
    at: AwareDatetime | None = None


def _sim_routes(app: FastAPI, sim: BnmpSimulator) -> None:
    @app.post("/_sim/warrants")
    async def issue(order: Issue) -> dict[str, Any]:
        return sim.item(sim.issue(order))

    @app.post("/_sim/warrants/{number}/comply")
    async def comply(number: str, body: _At) -> list[dict[str, Any]]:
        return [sim.item(p) for p in sim.comply(number, body.at)]

    @app.post("/_sim/warrants/{number}/expire")
    async def expire(number: str, body: _At) -> dict[str, Any]:
        return sim.item(sim.expire(number, body.at))

    @app.post("/_sim/warrants/{number}/drift")
    async def drift(number: str, body: _Drift) -> dict[str, Any]:
        return sim.item(sim.drift(number, body.status, body.event, body.at))

    @app.post("/_sim/items")
    async def raw(item: dict[str, Any]) -> dict[str, int]:
        sim.serve_raw(item)
        return {"items": len(sim.raw_items)}


def create_app(sim: BnmpSimulator) -> FastAPI:
    """The simulator as an ASGI app (serve it with uvicorn on 127.0.0.1)."""
    app = FastAPI(title="BNMP 3.0 simulator")
    install(app, sim.faults, sim.effects)
    _token_route(app, sim)
    _register_route(app, sim)
    _changes_routes(app, sim)
    _sim_routes(app, sim)
    return app
