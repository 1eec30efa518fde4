"""Signing in with a password: limits on failures, and the token a success gets.

Failed sign-ins are limited per account-and-address and per address (429
beyond them, see :mod:`server.ratelimit`); an account failing from anywhere is
slowed down rather than locked (:func:`login_pause`), so a stranger cannot lock
anyone out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Final, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from i18n import _, ngettext
from protocol import TokenOut
from server import ratelimit
from server.dates import Clock
from server.db import transaction
from server.errors import ServiceError
from server.models import AuthToken, User
from server.security import new_token, password_matches, token_digest

#: Failed sign-ins tolerated within :data:`LOGIN_WINDOW` for one account from one
#: address, and from one address whatever the accounts; beyond them, 429.
PAIR_FAILURES: Final = 5
ADDRESS_FAILURES: Final = 20
#: Failed sign-ins to one account, from anywhere, after which its sign-ins wait
#: (:func:`login_pause`) rather than being refused: a stranger cannot lock anyone out.
ACCOUNT_SLOWDOWN_AFTER: Final = 10
FIRST_PAUSE: Final = 1.0
LONGEST_PAUSE: Final = 10.0
LOGIN_WINDOW: Final = dt.timedelta(minutes=15)

#: How a sign-in to an account under attack waits (``asyncio.sleep``, or a test's fake).
Pause = Callable[[float], Awaitable[None]]


def login_pause(account_failures: int) -> float:
    """Seconds a sign-in to an account waits, given its recent failures from anywhere:
    none up to :data:`ACCOUNT_SLOWDOWN_AFTER`, then doubling up to :data:`LONGEST_PAUSE`."""
    beyond = account_failures - ACCOUNT_SLOWDOWN_AFTER
    if beyond < 0:
        return 0.0
    return min(LONGEST_PAUSE, FIRST_PAUSE * float(2 ** min(beyond, 32)))


class Attempt(NamedTuple):
    """A sign-in whose failure is reserved (:mod:`server.ratelimit`), its password unchecked."""

    keys: ratelimit.LoginKeys
    reservation: ratelimit.Reservation
    user: User | None
    account_failures: int  # the account's recent failures before this attempt


class SignIn:
    """Sign-ins to one database: each reserves its failure first, then checks the password.

    Both steps are blocking (a transaction, then bcrypt): callers run them on a
    worker thread.
    """

    def __init__(
        self, factory: sessionmaker[Session], clock: Clock, token_ttl: dt.timedelta
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.token_ttl = token_ttl

    def reserve(self, username: str, address: str) -> Attempt:
        """Record a failure for the attempt, or raise 429 when a limit is reached."""
        keys = ratelimit.LoginKeys.of(username, address)
        limits = (
            (keys.pair, PAIR_FAILURES),
            (keys.address, ADDRESS_FAILURES),
            (keys.account, None),
        )
        try:
            # a failure is recorded before the password is checked (see server.ratelimit)
            with transaction(self.factory) as session:
                reservation = ratelimit.reserve(session, limits, self.clock(), LOGIN_WINDOW)
                user = session.scalar(select(User).where(User.username == username))
        except ratelimit.TooManyAttempts as exc:
            minutes = max(1, (exc.retry_after + 59) // 60)
            raise ServiceError(
                429,
                "too_many_attempts",
                ngettext(
                    "Too many failed sign-ins: try again in {minutes} minute.",
                    "Too many failed sign-ins: try again in {minutes} minutes.",
                    minutes,
                ).format(minutes=minutes),
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        return Attempt(keys, reservation, user, reservation.before[keys.account])

    def check(self, password: str, attempt: Attempt) -> TokenOut:
        """A new token when the password matches (the reserved failure given back), else 401."""
        user = attempt.user
        # the same bcrypt work whether the account is unknown, disabled or active
        matches = password_matches(password, None if user is None else user.password_hash)
        if user is None or not user.active or not matches:
            raise ServiceError(401, "invalid_credentials", _("Wrong user name or password."))
        now = self.clock()
        with transaction(self.factory) as session:
            forgiven = (attempt.keys.account, attempt.keys.pair)
            ratelimit.release(session, forgiven, attempt.reservation.ids)
            token = issue_token(session, user.id, now, self.token_ttl)
        return TokenOut(access_token=token, expires_at=now + self.token_ttl)


def issue_token(session: Session, user_id: int, now: dt.datetime, lifetime: dt.timedelta) -> str:
    """A new bearer token of ``user_id``, valid for ``lifetime`` from ``now`` (only its
    digest is stored)."""
    token = new_token()
    session.add(
        AuthToken(
            token_hash=token_digest(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + lifetime,
            revoked_at=None,
        )
    )
    return token
