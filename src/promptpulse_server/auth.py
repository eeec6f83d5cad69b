"""API keys: random, with a recognisable prefix, stored only as a SHA-256 hash that is looked up
by index. A key is never logged; it is shown once, when it is made."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "pp_"
HEADER = "X-API-Key"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def shown_prefix(key: str) -> str:
    """The part of a key shown in lists, to tell keys apart."""
    return key[: len(KEY_PREFIX) + 6]


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def looks_like_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and 20 <= len(key) <= 200
