"""Once started, a hub process puts what it loaded out of the cyclic collector's reach."""

from __future__ import annotations

import gc

from hub.app import settle_heap


def test_settle_heap_freezes_what_is_alive() -> None:
    kept = [object() for _ in range(1000)]
    before = gc.get_freeze_count()
    try:
        settle_heap()
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()  # the test process goes on starting and stopping hubs
