"""The AsyncAPI document is generated from the hub's broker, committed, and covers each channel."""

from __future__ import annotations

import json
from pathlib import Path

from hub.asyncapi import render, specification
from hub.domain.topology import unit_queue

ROOT = Path(__file__).resolve().parents[2]


def test_committed_asyncapi_matches_the_code() -> None:
    """contracts/asyncapi.json is what `python -m hub asyncapi` writes."""
    committed = (ROOT / "contracts/asyncapi.json").read_text(encoding="utf-8")
    assert committed == render(), "contracts/asyncapi.json drifted: run `python -m hub asyncapi`"


def test_every_external_channel_is_documented_with_the_envelope_schema() -> None:
    """The in-exchanges and each unit's queue are channels whose payload is the envelope."""
    doc = specification()
    addresses = {c.get("address") for c in doc["channels"].values()} | set(doc["channels"])
    assert {"hub.court.in", "hub.custodial_unit.in"} <= addresses
    assert any(unit_queue("mg.ceresp-bh") in str(a) for a in addresses)
    assert "Envelope" in doc["components"]["schemas"]
    assert "guest" not in json.dumps(doc)
