"""Principals for tests: one of each role, and clerks scoped where a test needs them."""

from __future__ import annotations

from events.access import Role, ScopeKind
from projections.access import ANONYMOUS, Principal, Scope

__all__ = ["ADMIN", "ANONYMOUS", "EVERY_ROLE", "INSPECTOR", "INTEGRATOR", "clerk", "town_clerk"]

ADMIN = Principal(kind="token", id="00000000000a", label="test admin", role=Role.ADMIN)
INSPECTOR = Principal(kind="token", id="00000000000b", label="test inspector", role=Role.INSPECTOR)
INTEGRATOR = Principal(kind="token", id="00000000000c", label="test integrator", role=Role.INTEGRATOR)


def clerk(community_id: str) -> Principal:
    """A clerk of one community."""
    return _clerk(ScopeKind.COMMUNITY, community_id, "00000000000d")


def town_clerk(town_id: str) -> Principal:
    """A clerk of one town: every community in it."""
    return _clerk(ScopeKind.TOWN, town_id, "00000000000e")


def _clerk(kind: ScopeKind, ident: str, token_id: str) -> Principal:
    scope = Scope(kind=kind, id=ident)
    return Principal(kind="token", id=token_id, label=f"clerk of {ident}", role=Role.CLERK, scope=scope)


# One of each, the clerks of 舒苑社区 and of the town it is in (古塘街道), by a name for test tables.
EVERY_ROLE: dict[str, Principal] = {
    "anonymous": ANONYMOUS,
    "clerk": clerk("shuyuan"),
    "town clerk": town_clerk("gutang"),
    "inspector": INSPECTOR,
    "integrator": INTEGRATOR,
    "admin": ADMIN,
}
