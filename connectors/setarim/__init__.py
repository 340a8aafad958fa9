"""SETARIM connector: the MG police archive that checks release orders for impediments."""

from connectors.setarim.handlers import spec

__all__ = ["spec"]
