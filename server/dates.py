"""Time at the server: the clock it reads, and the dates and times it accepts.

The server reads the time through a :data:`Clock` it is given (tests give a fake
one); :func:`utc_now` is the real one.

Dates from clients are aware ones only, within years the server computes with:
converting an instant to UTC or to the business time zone, or stepping to the
next month, must never leave the years a ``datetime`` can hold (1 to 9999),
whatever the offset.  Anything else is refused (422) naming the field, never a
server error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

from i18n import _
from server.errors import ServiceError

Clock = Callable[[], dt.datetime]

#: The first and last years a date given to the server may fall in.
FIRST_YEAR: Final = 1970
LAST_YEAR: Final = 2999
EARLIEST: Final = dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.UTC)
#: The first instant after the accepted ones.
BEYOND: Final = dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def out_of_range(field: str) -> ServiceError:
    return ServiceError(
        422,
        "invalid_request",
        _("Dates must lie between the years {first} and {last}.").format(
            first=FIRST_YEAR, last=LAST_YEAR
        ),
        field,
    )


def instant(value: dt.datetime, field: str) -> dt.datetime:
    """``value`` if the server accepts it, else a 422 naming ``field``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ServiceError(
            422,
            "invalid_request",
            _("A date and time must carry its time zone (for example Z)."),
            field,
        )
    # comparing aware datetimes subtracts offsets as timedeltas: it cannot overflow
    if not EARLIEST <= value < BEYOND:
        raise out_of_range(field)
    return value
