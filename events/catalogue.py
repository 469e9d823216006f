"""Every event type the log may hold, in one explicit registry (no metaclass, no import-time discovery)."""

from __future__ import annotations

from events.hierarchy import (
    CommunityRegistered,
    CommunityRenamed,
    CommunityRetired,
    CommunityTransferred,
    TownRegistered,
)
from events.registry import Registry

CATALOGUE = Registry(
    event_types=(
        TownRegistered,
        CommunityRegistered,
        CommunityRenamed,
        CommunityTransferred,
        CommunityRetired,
    ),
    # (TYPE, version read) -> pure function returning the payload one version up. None shipped yet.
    upcasters={},
)
