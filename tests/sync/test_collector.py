"""The cycle collector: paused during bulk work, and kept off a start's long-lived heap."""

from __future__ import annotations

import gc

import pytest

from sync.collector import collector_paused, freeze_heap, hold_collector


def test_bulk_work_pauses_the_collector_and_lets_it_run_again() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a page that cannot be stored")
    assert gc.isenabled()  # whatever happened inside


def test_a_collector_paused_by_someone_else_stays_paused() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_start_holds_the_collector_then_freezes_what_it_made() -> None:
    gc.unfreeze()
    try:
        hold_collector()
        assert not gc.isenabled()  # no full collection while the queue is built
        made = [[index] for index in range(1000)]  # the queue's columns, say
        freeze_heap()
        assert gc.isenabled()  # collecting again: reference cycles made later are freed
        tracked = {id(item) for item in gc.get_objects()}
        assert not any(id(item) in tracked for item in made)  # collections skip them
        assert gc.get_freeze_count() >= len(made)
        later = [0]
        assert any(item is later for item in gc.get_objects())
    finally:
        gc.enable()
        gc.unfreeze()
