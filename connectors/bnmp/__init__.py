"""BNMP connector: the hub's side of the national warrant bank (REST, OAuth2)."""

from connectors.bnmp.handlers import spec

__all__ = ["spec"]
