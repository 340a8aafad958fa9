"""Shared building blocks of every contract: the frozen base models, secrecy and text types."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from contracts.errors import ContractError
from contracts.ids import warrant_process

__all__ = [
    "Contract",
    "ExternalId",
    "PayloadModel",
    "PersonName",
    "Secrecy",
    "Text",
    "require_not_after",
    "require_process_prefix",
    "require_year_not_after",
]

_MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|\ufffd")


class Secrecy(StrEnum):
    """Visibility of a document or message, as BNMP's sigilo: aberto, restrito, sigiloso."""

    PUBLIC = "public"
    RESTRICTED = "restricted"
    SECRET = "secret"

    @property
    def rank(self) -> int:
        """Return the order of strictness: public 0 < restricted 1 < secret 2."""
        return _SECRECY_RANK[self]


_SECRECY_RANK = {Secrecy.PUBLIC: 0, Secrecy.RESTRICTED: 1, Secrecy.SECRET: 2}


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _no_mojibake(value: str) -> str:
    if _MOJIBAKE.search(value):
        raise ValueError("looks like mojibake (UTF-8 decoded as Latin-1); fix the encoding")
    return value


# Free text: non-blank, bounded.
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000), AfterValidator(_not_blank)]
# A person's name: non-blank, bounded, and not mojibake (S001 art.376: safe identification).
PersonName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_not_blank),
    AfterValidator(_no_mojibake),
]
# An opaque identifier issued by an external system (certificate number, BNMP id).
ExternalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,63}$")]


class Contract(BaseModel):
    """Base of every contract model: frozen and closed to unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _require_kind(schema: dict[str, Any]) -> None:
    # `kind` has a default for convenience in code, but on the wire it is the discriminator.
    required = schema.setdefault("required", [])
    if "kind" not in required:
        required.insert(0, "kind")


class PayloadModel(Contract):
    """Base of every message payload: a versioned contract with a business key."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_require_kind)

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def business_key(self) -> str:
        """Return the order or warrant number this payload is about (the default correlation)."""
        raise NotImplementedError

    @property
    def dedup_key(self) -> str:
        """Return a key that identifies this business fact, for deduplication by business id."""
        return f"{self.business_key}|{type(self).__name__}"

    @property
    def min_secrecy(self) -> Secrecy:
        """Return the least strict envelope secrecy allowed to carry this payload."""
        return Secrecy.PUBLIC


def require_not_after(
    earlier: date | datetime | None, later: date | datetime | None, message: str
) -> None:
    """Raise `ContractError(message)` when both values are set and `earlier` is after `later`."""
    if earlier is not None and later is not None and earlier > later:
        raise ContractError(message, reason="impossible_timeline")


def require_process_prefix(number: str, process_number: str, what: str) -> None:
    """Raise when a warrant/document number does not start with its process number (S004 10.4)."""
    if warrant_process(number) != process_number:
        raise ContractError(
            f"{what} {number} does not belong to process {process_number} "
            "(its prefix must be the process number)",
            reason="process_mismatch",
        )


def require_year_not_after(process_number: str, moment: datetime, what: str) -> None:
    """Raise when the filing year of a CNJ number is later than the document's date (R65)."""
    year = int(process_number[11:15])
    if year > moment.year:
        raise ContractError(
            f"{what} {process_number} has year {year}, later than the document date "
            f"{moment.date().isoformat()}",
            reason="impossible_timeline",
        )
