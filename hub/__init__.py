"""The court–prison message hub: engine, store, ops and the composition root."""

__all__: list[str] = []
