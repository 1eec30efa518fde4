"""The injected clock every test uses: time moves only when the test says so."""

from __future__ import annotations

import datetime as dt

#: Monday 2 March 2026, 09:00 UTC (10:00 in Paris): inside business hours.
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class FakeClock:
    """Time that only moves when a test says so."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
