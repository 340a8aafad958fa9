"""The persons a message names: the person a document is about, and the officials who act."""

from __future__ import annotations

from datetime import date

from pydantic import model_validator

from contracts.base import Contract, PersonName, Text
from contracts.errors import ContractError
from contracts.ids import Cpf, Rji

__all__ = ["Official", "Person"]


class Person(Contract):
    """Qualificação: the one person a warrant or release order is about (R417 art.4).

    BNMP keys persons by CPF, or by RJI when there is no CPF. An "RJI de Exceção" (physical
    identity certain, qualification unknown) needs a physical description and a photo and may
    omit the name (R417 art.4 §7).
    """

    cpf: Cpf | None = None
    rji: Rji | None = None
    name: PersonName | None = None
    mother_name: PersonName | None = None
    birth_date: date | None = None
    rji_exception: bool = False
    physical_description: Text | None = None
    photo_ref: Text | None = None

    @model_validator(mode="after")
    def _identified(self) -> Person:
        if self.cpf is None and self.rji is None:
            raise ContractError(
                "person has neither CPF nor RJI: documents against an unidentified person are "
                "forbidden (R417 art.4 §6)",
                reason="unidentified_person",
            )
        if self.rji_exception:
            self._check_exception()
        elif self.name is None:
            raise ContractError(
                "person has no name; only an RJI de Exceção may omit it", reason="missing_name"
            )
        return self

    def _check_exception(self) -> None:
        missing = [
            label
            for label, value in (
                ("rji", self.rji),
                ("physical_description", self.physical_description),
                ("photo_ref", self.photo_ref),
            )
            if value is None
        ]
        if missing:
            raise ContractError(
                "RJI de Exceção needs " + ", ".join(missing) + " (R417 art.4 §7)",
                reason="incomplete_rji_exception",
            )


class Official(Contract):
    """A named official and their role, e.g. who received or complied with an order."""

    name: PersonName
    role: Text
