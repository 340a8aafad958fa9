"""Court connector: release orders, warrants and counter-warrants in; notifications out."""

from connectors.court.handlers import spec

__all__ = ["spec"]
