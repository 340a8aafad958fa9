"""The measured steps (run in worker processes) and the not-yet-runnable whole-flow scenario."""

__all__: list[str] = []
