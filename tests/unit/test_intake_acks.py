"""Which acks the intake sends for a loop turn's settlements: one `multiple` ack for what lies
below the lowest tag still being handled, one ack each for the rest."""

from __future__ import annotations

import asyncio
import random

import pytest

from hub.amqp.intake import Settlements, settlement_frames


@pytest.mark.parametrize(
    ("open_tags", "acks", "registered", "multiple", "single"),
    [
        ({1, 2, 3}, [1, 2, 3], 3, 3, []),  # all done: one frame
        ({1, 2, 3}, [3, 1, 2], 3, 3, []),  # in any order
        ({1, 2, 3, 4}, [1, 2], 4, 2, []),  # 3 and 4 still handled: not covered
        ({1, 2, 3, 4}, [1, 2, 4], 4, 2, [4]),  # 3 still handled: 4 alone
        ({1, 2, 3, 4}, [3, 4], 4, None, [3, 4]),  # 1 still handled: nothing multiple
        ({5, 9, 12}, [9, 12], 12, None, [9, 12]),  # gaps (settled earlier) do not matter
        ({5, 9, 12}, [5, 12], 12, 5, [12]),
        ({7}, [7], 7, 7, []),
        ({7, 8}, [], 8, None, []),
        # tag 2 never reached a handler: nothing multiple may cover it
        ({1, 3}, [1, 3], 1, 1, [3]),
        ({3, 4}, [3, 4], 1, None, [3, 4]),
    ],
)
def test_settlement_frames(
    open_tags: set[int], acks: list[int], registered: int, multiple: int | None, single: list[int]
) -> None:
    """A multiple ack never covers a tag still being handled, nor one never registered."""
    got_multiple, got_single = settlement_frames(open_tags, acks, registered)
    assert (got_multiple, got_single) == (multiple, single)
    still_open = open_tags - set(acks)
    if got_multiple is not None:
        assert all(t > got_multiple for t in still_open)
        assert got_multiple <= registered


class _Broker:
    """A channel as the broker keeps it: the tags outstanding. An ack or nack of a tag that is not
    outstanding closes a real channel (PRECONDITION_FAILED); here it is recorded. Every write
    yields to the loop, as a write to aiormq's bounded frame buffer may."""

    def __init__(self, tags: range) -> None:
        self.outstanding = set(tags)
        self.errors: list[str] = []

    def _settle(self, tag: int, multiple: bool) -> None:
        if tag not in self.outstanding:
            self.errors.append(f"unknown delivery tag {tag}")
        covered = {t for t in self.outstanding if t <= tag} if multiple else {tag}
        self.outstanding -= covered

    async def basic_ack(self, tag: int, multiple: bool = False, wait: bool = True) -> None:
        await asyncio.sleep(0)
        self._settle(tag, multiple)

    async def basic_nack(
        self, tag: int, multiple: bool = False, requeue: bool = True, wait: bool = True
    ) -> None:
        await asyncio.sleep(0)
        self._settle(tag, multiple)


@pytest.mark.parametrize("seed", range(20))
async def test_settlements_never_ack_a_tag_twice(seed: int) -> None:
    """300 deliveries settled in a random order over many loop turns, writes yielding: every tag
    is settled exactly once, and none is covered before it is settled."""
    rng = random.Random(seed)
    broker = _Broker(range(1, 301))
    s = Settlements(broker)
    order = list(range(1, 301))
    for tag in order:
        s.received(tag)
    rng.shuffle(order)
    while order:
        for _ in range(rng.randint(1, 12)):  # what one loop turn settles
            if order:
                tag = order.pop()
                s.settle(tag, "nack" if rng.random() < 0.05 else "ack")
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0)
    await s.drain()
    assert broker.errors == []
    assert broker.outstanding == set()


async def test_a_delivery_whose_handler_never_started_is_never_acked() -> None:
    """Tag 5 never reaches `received` (its handler did not start): every other tag is acked, 5
    stays outstanding (the broker redelivers it when the channel closes), nothing is unknown."""
    broker = _Broker(range(1, 11))
    s = Settlements(broker)
    tags = [t for t in range(1, 11) if t != 5]
    for tag in tags:
        s.received(tag)
    for tag in tags:
        s.settle(tag, "ack")
    await s.drain()
    assert broker.errors == []
    assert broker.outstanding == {5}
