"""Fixtures of the queue's plain parts (no Qt): a clock the test moves, a demo cache."""

from __future__ import annotations

import pytest

from desktop.demo_data import seed_demo
from desktop.models.queue import QueueState
from sync.cache import Cache
from tests.caches import cache as cache
from tests.clock import T0 as T0
from tests.clock import FakeClock as FakeClock

#: The demo agent the queues are for.
ME = 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def demo(cache: Cache) -> Cache:
    """A cache of 240 demo tickets as they stand at T0."""
    seed_demo(cache, now=T0, count=240)
    return cache


def read_queue(cache: Cache, clock: FakeClock, *, eager_limit: int = 5_000) -> QueueState:
    queue = QueueState(cache, me=ME, clock=clock, eager_limit=eager_limit)
    queue.reload()
    return queue
