"""Connectors: one package per external system (court, SETARIM, custodial unit, BNMP).

`SPECS` is the only list of them; `hub.app` wires each into the broker.
"""

from connectors import bnmp, court, custodial_unit, setarim
from hub.connector import ConnectorSpec

__all__ = ["SPECS"]

SPECS: tuple[ConnectorSpec, ...] = (court.spec, setarim.spec, custodial_unit.spec, bnmp.spec)
