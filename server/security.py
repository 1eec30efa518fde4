"""Passwords (bcrypt, cost 10, as the contract requires) and opaque bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

import bcrypt

BCRYPT_COST: Final = 10
# bcrypt only reads the first 72 bytes of a password; longer ones are hashed first
# (SHA-256, base64) so that no two long passwords sharing a prefix collide.
_BCRYPT_MAX: Final = 72


def _prepare(password: str) -> bytes:
    raw = password.encode("utf-8")
    if len(raw) > _BCRYPT_MAX:
        raw = hashlib.sha256(raw).hexdigest().encode("ascii")
    return raw


def hash_password(password: str, cost: int = BCRYPT_COST) -> str:
    return bcrypt.hashpw(_prepare(password), bcrypt.gensalt(rounds=cost)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prepare(password), password_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash never matches
        return False


#: Checked against when the account does not exist, so both cases take as long.
_DUMMY_HASH: Final = hash_password("offimizer: no such user")


def password_matches(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches; with no hash (no such account) the same bcrypt
    work is done against a dummy hash, so that the answer's timing tells nothing."""
    if password_hash is None:
        verify_password(password, _DUMMY_HASH)
        return False
    return verify_password(password, password_hash)


def new_token() -> str:
    """A fresh opaque bearer token (256 bits of randomness)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
