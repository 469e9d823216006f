"""Why a request is not let in: each carries its reason in words for the client."""

from __future__ import annotations

from events.errors import QinglianError


class Unauthenticated(QinglianError):
    """A credential was presented and is not good: malformed, unknown, expired, revoked, or a bad JWT."""


class AnonymousRefused(QinglianError):
    """No credential, and this service serves no anonymous callers."""
