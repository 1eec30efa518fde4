"""Pages of the change feed built by hand, for the demo and the tests."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from protocol.pages import PageBuilder


def test_changes_are_numbered_in_order_and_the_page_ends_at_the_last() -> None:
    builder = PageBuilder(cursor_prefix="demo-")
    builder.add("organisation", 1, {"id": 1, "name": "Banque Mirabeau", "plan": "enterprise"})
    gone = builder.add("ticket", 7, None)
    page = builder.page(has_more=True, estimate=12)
    assert [(c.seq, c.cursor, c.entity, c.op) for c in page.changes] == [
        (1, "demo-1", "organisation", "upsert"),
        (2, "demo-2", "ticket", "delete"),
    ]
    assert gone.data is None
    assert (page.next_cursor, page.has_more, page.estimate) == ("demo-2", True, 12)


def test_an_empty_page_keeps_the_cursor_before_the_first_change() -> None:
    page = PageBuilder().page()
    assert (page.changes, page.next_cursor, page.has_more) == ([], "c0", False)


def test_builders_sharing_numbers_make_pages_that_follow_each_other() -> None:
    numbers = itertools.count(1)
    first, second = PageBuilder(numbers=numbers), PageBuilder(numbers=numbers)
    first.add("ticket", 1, None)
    second.add("ticket", 2, None)
    made = first.page()
    assert made.next_cursor == "c1"
    assert second.page().next_cursor == "c2"
    first.add("ticket", 3, None)
    assert [c.id for c in made.changes] == [1]  # a page made earlier does not grow
    assert [c.id for c in first.page().changes] == [1, 3]


def test_an_entity_the_feed_does_not_know_is_refused() -> None:
    with pytest.raises(ValidationError):
        PageBuilder().add("invoice", 1, {"id": 1})
