"""Secrets handed out once and stored only as a digest: API keys and integration keys.

The secrets are 256-bit random tokens, so a fast SHA-256 digest is the right store (a slow
password hash buys nothing against guessing and would cost every request); lookups are by
digest, and the short prefix is kept in clear so people can tell their keys apart.
"""

import hashlib
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class IssuedKey:
    secret: str  # shown to the person once, never stored
    prefix: str  # stored in clear, shown in lists
    digest: str  # stored; what requests are matched against


def key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_issue(*, kind: str) -> IssuedKey:
    """A new secret like `oncall_<kind>_<random>`; `kind` tells keys apart in logs and scans."""
    secret = f"oncall_{kind}_{secrets.token_urlsafe(32)}"
    return IssuedKey(secret=secret, prefix=secret[: len(kind) + 12], digest=key_digest(secret))
