"""Benchmarks of the hub against a raw aio-pika baseline, in one run on one broker and database.

`python -m bench` (see `bench.cli`) runs each scenario in its own vhost and schema, each measured
step in a process of its own, in rounds; it prints medians and within-round ratios and saves JSON.
"""

__all__: list[str] = []
