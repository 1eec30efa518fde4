"""A start's heap, out of the garbage collector's way once the window is up."""

from __future__ import annotations

import gc

from desktop.warmup import hold_collector, settle_heap


def test_a_start_holds_the_collector_then_freezes_what_it_made() -> None:
    gc.unfreeze()
    try:
        hold_collector()
        assert not gc.isenabled()  # no full collection while the queue is built
        made = [[index] for index in range(1000)]  # the queue's columns, say
        settle_heap()
        assert gc.isenabled()  # collecting again: reference cycles made later are freed
        tracked = {id(item) for item in gc.get_objects()}
        assert not any(id(item) in tracked for item in made)  # collections skip them
        assert gc.get_freeze_count() >= len(made)
        later = [0]
        assert any(item is later for item in gc.get_objects())
    finally:
        gc.enable()
        gc.unfreeze()
