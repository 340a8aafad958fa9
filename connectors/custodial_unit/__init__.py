"""Custodial-unit connector: prisons and police lock-ups that comply with release orders."""

from connectors.custodial_unit.handlers import spec

__all__ = ["spec"]
