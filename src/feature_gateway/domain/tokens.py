"""API tokens: their format, how they are hashed and checked, when they stop working.

A token reads ``fmg_<token id>_<secret>``. The prefix lets secret scanners spot leaked
tokens; the id (public, shown in lists) finds the stored row with one primary-key lookup;
the secret holds 256 random bits. Only a SHA-256 hash of the whole token is stored, and
it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import NamedTuple

# The public prefix of every token, for secret scanners; bandit takes it for a password.
TOKEN_PREFIX = "fmg_"  # nosec B105
_ID_BYTES = 8  # 16 hex digits: unique enough for an id; the secret carries the security
_SECRET_BYTES = 32  # 256 bits, as SPEC §7 requires
_ID = "[0-9a-f]{16}"
# Written so that Python and ECMA-262 (JSON Schema in the API document) read it alike.
TOKEN_PATTERN = re.compile(f"{TOKEN_PREFIX}({_ID})_[A-Za-z0-9_-]{{43}}")
TOKEN_ID_PATTERN = f"^{_ID}$"
# The latest expiry a token may have: 9999-12-31T23:59:59.999Z (and well inside a BIGINT).
MAX_EXPIRES_TIME = 253_402_300_799_999
# Groups one token may carry (SPEC §12): a team or a few, never a directory dump.
MAX_TOKEN_GROUPS = 64
# last_used_time is refreshed at most this often: no write on every request.
LAST_USED_REFRESH_MS = 60_000


class NewToken(NamedTuple):
    token_id: str
    token: str  # shown once, never stored
    token_hash: str


def new_token() -> NewToken:
    token_id = secrets.token_hex(_ID_BYTES)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return NewToken(token_id, token, hash_token(token))


def hash_token(token: str) -> str:
    # A fast hash is enough: the secret is 256 random bits, not a guessable password.
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token, None for anything else."""
    match = TOKEN_PATTERN.fullmatch(token)
    return match[1] if match else None


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def is_expired(expires_time: int | None, now: int) -> bool:
    return expires_time is not None and expires_time <= now


def needs_last_used_refresh(last_used_time: int | None, now: int) -> bool:
    return last_used_time is None or now - last_used_time >= LAST_USED_REFRESH_MS
