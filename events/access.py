"""Access: who was allowed to act, and since when, recorded like everything else.

A built-in token is granted, changed by a new grant under the same id, and revoked, each as an event on the
stream `access-<token id>`. An event holds the token's public id, its label, role, scope, expiry and who
issued it; never the secret, nor anything derived from it (its hash lives beside the log, in a table only
the service reads), so the log may be exported and read without handing out a way in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


class Role(enum.StrEnum):
    ANONYMOUS = "anonymous"  # no credential: never granted, only assumed
    CLERK = "clerk"  # a community's or a town's own records
    INSPECTOR = "inspector"  # reads everything, records supervision
    INTEGRATOR = "integrator"  # reads everything but restricted fields, subscribes
    ADMIN = "admin"  # the registry, the standard, designations and grants


class ScopeKind(enum.StrEnum):
    CITY = "city"  # everything: the scope of every role but a clerk
    TOWN = "town"
    COMMUNITY = "community"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessGranted:
    TYPE: ClassVar[str] = "AccessGranted"
    VERSION: ClassVar[int] = 1

    token_id: str
    label: str
    role: Role
    scope_kind: ScopeKind
    # The town's or the community's id; "" for the whole city.
    scope_id: str
    granted_at: datetime
    # None: until revoked.
    expires_at: datetime | None
    # Who issued it: a principal's description, e.g. "token:ab12cd34ef56 (ops)" or "cli".
    issuer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRevoked:
    TYPE: ClassVar[str] = "AccessRevoked"
    VERSION: ClassVar[int] = 1

    token_id: str
    revoked_at: datetime
    reason: str
    issuer: str
