"""Personal data in messages, and a pure function that masks it before logs or dashboards."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PII_FIELDS", "mask"]

# Field names whose values are personal data, wherever they appear in a message tree.
PII_FIELDS = frozenset(
    {
        "addresses",
        "birth_date",
        "cpf",
        "mother_name",
        "name",
        "phones",
        "photo_ref",
        "physical_description",
        "rji",
    }
)
_NAME_FIELDS = frozenset({"name", "mother_name"})
_KEEP = 4


def _mask_cpf(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 11:
        return f"***.***.{digits[6:9]}-{digits[9:]}"
    return _mask_tail(value)


def _mask_tail(value: str) -> str:
    hidden = max(len(value) - _KEEP, 0)
    return "*" * hidden + value[hidden:] if hidden else "*" * len(value)


def _mask_value(key: str, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [_mask_value(key, item) for item in value]
    text = str(value)
    if key == "cpf":
        return _mask_cpf(text)
    if key == "rji":
        return _mask_tail(text)
    if key in _NAME_FIELDS:
        return text[:1] + "***"
    return "***"


def _walk(node: object) -> object:
    if isinstance(node, Mapping):
        return {
            key: _mask_value(key, value) if key in PII_FIELDS else _walk(value)
            for key, value in node.items()
        }
    if isinstance(node, list | tuple):
        return [_walk(item) for item in node]
    return node


def mask(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy of a message dict with every personal-data field masked.

    CPFs keep their last five digits (``***.***.789-09``), RJIs their last four characters, names
    their first letter (``F***``); other personal fields become ``***``. Use it on
    `model_dump(mode="json")` output before logging or showing a message.
    """
    return {key: _mask_value(key, v) if key in PII_FIELDS else _walk(v) for key, v in obj.items()}
