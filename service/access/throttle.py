"""Per-principal rate limits at the door, with the maintained `limits` library (a moving window in memory).

Each credential has its own budget (a token by its id, a JWT by issuer and subject); anonymous callers share
one budget per client address. Limits are per process: with N replicas a caller gets up to N times the
budget, which is what a limit meant to stop one client starving the others needs. A refusal says when to
try again, in whole seconds, for the Retry-After header.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from projections.access import Principal


@dataclass(frozen=True, slots=True)
class Refused:
    retry_after: int  # seconds
    limit: str


class Throttle:
    def __init__(self, *, authenticated: str | None, anonymous: str | None) -> None:
        """Limits as `limits` writes them, e.g. "600/minute"; None: no limit for that kind of caller."""
        self._authenticated = parse(authenticated) if authenticated else None
        self._anonymous = parse(anonymous) if anonymous else None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def admit(self, principal: Principal, client: str) -> Refused | None:
        """Count one request; None when it may go on, else how long to wait."""
        if principal.kind == "anonymous":
            item, key = self._anonymous, f"anonymous:{client}"
        else:
            item, key = self._authenticated, f"{principal.kind}:{principal.id}"
        if item is None or await self._limiter.hit(item, key):
            return None
        return Refused(await self._retry_after(item, key), str(item))

    async def _retry_after(self, item: RateLimitItem, key: str) -> int:
        reset, _ = await self._limiter.get_window_stats(item, key)
        return max(1, math.ceil(reset - time.time()))
