"""The measured steps, each run in a worker process, and the whole flow's simulators' process."""

__all__: list[str] = []
