"""The failed sign-in limits, per account-and-address and per address, and the
count per account, shared by every process.

An attempt first *reserves* a failure: in one short transaction it locks its
limited keys, counts their failures within the window and, when under every
limit, records a failure for each key.  Only then is the password checked
(outside any transaction: bcrypt is slow); a success gives the reservation back.
However many attempts arrive at once, across server processes, no more than the
limit are ever checked within the window.  Keys without a limit (the account's,
from anywhere) are only counted: what an attempt makes of the count (a pause) is
the caller's business.

The locks: PostgreSQL transaction-scoped advisory locks, one per limited key,
always taken in the same order (account-and-address, then address); SQLite
serializes writers already (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.models import LoginFailure

#: Stale failures removed per attempt (housekeeping, bounded).
_PURGE_BATCH: Final = 500
#: The longest key the table holds (longer ones are kept as a digest).
_KEY_LENGTH: Final = 200


def _key(kind: str, value: str) -> str:
    key = f"{kind}:{value}"
    if len(key) <= _KEY_LENGTH:
        return key
    return f"{kind}#{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


@dataclass(frozen=True)
class LoginKeys:
    """What a sign-in's failure counts against."""

    account: str
    address: str
    pair: str  # the account, from this address

    @classmethod
    def of(cls, username: str, address: str) -> LoginKeys:
        name = username.lower()
        return cls(_key("user", name), _key("addr", address), _key("pair", f"{name}|{address}"))


@dataclass(frozen=True)
class Reservation:
    """The failures an attempt recorded (``ids``) and each key's count before it."""

    ids: list[int]
    before: dict[str, int]


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
    session: Session,
    limits: Sequence[tuple[str, int | None]],
    now: dt.datetime,
    window: dt.timedelta,
) -> Reservation:
    """Record one failure per key of ``limits`` (``(key, most failures)``; ``None``:
    counted, never refused), or raise.

    Raises :class:`TooManyAttempts` (recording nothing) when a key is at its limit.
    """
    since = now - window
    for key, limit in limits:
        if limit is not None:
            _lock(session, key)
    before: dict[str, int] = {}
    for key, limit in limits:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.key == key, LoginFailure.at > since
            )
        ).one()
        if limit is not None and count >= limit:
            retry = int((oldest + window - now).total_seconds()) + 1
            raise TooManyAttempts(max(1, retry))
        before[key] = count
    _purge(session, since)
    rows = [LoginFailure(key=key, at=now) for key, _limit in limits]
    session.add_all(rows)
    session.flush()
    return Reservation([row.id for row in rows], before)


def release(session: Session, forgiven: Sequence[str], reserved: Sequence[int]) -> None:
    """A successful sign-in: the failures of the ``forgiven`` keys are forgotten, the
    reservation returned."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.key.in_(list(forgiven)) | LoginFailure.id.in_(list(reserved))
        )
    )
