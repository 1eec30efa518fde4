"""The cache the console's tests start from, shared by their conftests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.cache import Cache
from tests.clock import FakeClock


@pytest.fixture
def cache(tmp_path: Path, clock: FakeClock) -> Iterator[Cache]:
    """A fresh cache in the test's folder, read at the test's ``clock``."""
    opened = Cache.open(tmp_path / "cache.sqlite3", clock=clock)
    yield opened
    opened.close()
