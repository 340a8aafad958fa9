"""Connectors: one package per external system (court, SETARIM, custodial unit, BNMP)."""

__all__: list[str] = []
