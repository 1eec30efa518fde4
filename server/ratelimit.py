"""The failed-login rate limit, per account and per address, shared by every process.

An attempt first *reserves* a failure: in one short transaction it locks its
keys, counts their failures within the window and, when under every limit,
records a failure for each key.  Only then is the password checked (outside any
transaction: bcrypt is slow); a success gives the reservation back.  However
many attempts arrive at once, across server processes, no more than the limit
are ever checked within the window.

The locks: PostgreSQL transaction-scoped advisory locks, one per key, always
taken in the same order (account, then address); SQLite serializes writers
already (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.models import LoginFailure

#: Stale failures removed per attempt (housekeeping, bounded).
_PURGE_BATCH: Final = 500


class TooManyAttempts(Exception):
    """A key is at its limit; ``retry_after`` seconds until its oldest failure expires."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id for ``key``."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


def _lock(session: Session, key: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_lock_id(key))))


def _purge(session: Session, since: dt.datetime) -> None:
    """Forget expired failures, skipping rows another attempt is deleting."""
    stale = (
        select(LoginFailure.id)
        .where(LoginFailure.at <= since)
        .order_by(LoginFailure.id)
        .limit(_PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(stale))
    if ids:
        session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))


def reserve(
    session: Session, limits: Sequence[tuple[str, int]], now: dt.datetime, window: dt.timedelta
) -> list[int]:
    """Record one failure per key of ``limits`` (``(key, most failures)``), or raise.

    Returns the ids of the recorded failures, for :func:`release`.  Raises
    :class:`TooManyAttempts` (recording nothing) when a key is at its limit.
    """
    since = now - window
    for key, _limit in limits:
        _lock(session, key)
    for key, limit in limits:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.key == key, LoginFailure.at > since
            )
        ).one()
        if count >= limit:
            retry = int((oldest + window - now).total_seconds()) + 1
            raise TooManyAttempts(max(1, retry))
    _purge(session, since)
    rows = [LoginFailure(key=key, at=now) for key, _limit in limits]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def release(session: Session, account_key: str, reserved: Sequence[int]) -> None:
    """A successful sign-in: the account's failures are forgiven, the reservation returned."""
    session.execute(
        delete(LoginFailure).where(
            (LoginFailure.key == account_key) | LoginFailure.id.in_(list(reserved))
        )
    )
