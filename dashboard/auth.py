"""Bearer tokens and their scopes, from ``TIERLINE_API_TOKEN``.

The variable holds one or more tokens separated by spaces or newlines, each ``TOKEN`` or
``TOKEN:scope,scope``. Scopes:

- ``read``: customers, calls, live calls, the queue (numbers masked);
- ``feedback``: record outcomes and tier corrections, take calls from the queue;
- ``pii``: see phone numbers and digit runs in what callers said unmasked.

A bare token has ``read`` and ``feedback``. Tokens are compared in constant time and must be at
least :data:`MIN_TOKEN_LENGTH` characters.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from tierline.core.errors import TierlineError

TOKEN_ENV = "TIERLINE_API_TOKEN"
SCOPES = ("read", "feedback", "pii")
DEFAULT_SCOPES = frozenset({"read", "feedback"})
MIN_TOKEN_LENGTH = 16


class TokenError(TierlineError):
    """``TIERLINE_API_TOKEN`` is missing or malformed."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a short fingerprint of the token (for the audit log) and its scopes."""

    name: str
    scopes: frozenset[str]

    @property
    def pii(self) -> bool:
        return "pii" in self.scopes


def parse_tokens(value: str | None) -> dict[str, frozenset[str]]:
    """Token → scopes.

    Raises:
        TokenError: no token, a short token, or an unknown scope.
    """
    tokens: dict[str, frozenset[str]] = {}
    for entry in (value or "").split():
        token, _, scopes = entry.partition(":")
        if len(token) < MIN_TOKEN_LENGTH:
            raise TokenError(f"{TOKEN_ENV}: a token must be at least {MIN_TOKEN_LENGTH} "
                             "characters (e.g. `python -c 'import secrets; "
                             "print(secrets.token_urlsafe(24))'`)")
        given = frozenset(s for s in scopes.split(",") if s) if scopes else DEFAULT_SCOPES
        unknown = sorted(given - set(SCOPES))
        if unknown:
            raise TokenError(f"{TOKEN_ENV}: unknown scope(s) {', '.join(unknown)} "
                             f"(known: {', '.join(SCOPES)})")
        tokens[token] = given
    if not tokens:
        raise TokenError(f"set {TOKEN_ENV} to the API token(s) (TOKEN or TOKEN:read,feedback,"
                         "pii); the API and the dashboard need one")
    return tokens


def tokens_from_env() -> dict[str, frozenset[str]]:
    return parse_tokens(os.environ.get(TOKEN_ENV))


class Tokens:
    """Checks presented tokens against the configured ones."""

    def __init__(self, tokens: dict[str, frozenset[str]]) -> None:
        self._tokens = [(t.encode(), s) for t, s in tokens.items()]

    def check(self, presented: str) -> Principal | None:
        """The principal of a presented token, or None."""
        raw = presented.encode()
        found = None
        for token, scopes in self._tokens:  # every comparison runs: no early exit
            if hmac.compare_digest(raw, token):
                found = (token, scopes)
        if found is None:
            return None
        name = "token:" + hashlib.blake2b(found[0], digest_size=4).hexdigest()
        return Principal(name, found[1])
