"""Every event type the log may hold, in one explicit registry (no metaclass, no import-time discovery), and
what each event is about."""

from __future__ import annotations

from events.access import AccessGranted, AccessRevoked
from events.disclosure import DisclosureCorrected, DisclosurePublished
from events.erasure import Erased
from events.hierarchy import (
    CommunityRegistered,
    CommunityRenamed,
    CommunityRetired,
    CommunityTransferred,
    TownRegistered,
)
from events.recognition import DemonstrationPointDesignated, DutyReportFiled, LeadingTalentRecognized
from events.registry import Event, Registry
from events.rules import RuleRevised
from events.standard import UPCASTERS as STANDARD_UPCASTERS
from events.standard import StandardRevised
from events.supervision import (
    UPCASTERS,
    FindingRectified,
    MeetingHeld,
    ReportClosed,
    ReportReceived,
    SpotCheckRecorded,
)
from events.training import TrainingHeld

CATALOGUE = Registry(
    event_types=(
        # registry
        TownRegistered,
        CommunityRegistered,
        CommunityRenamed,
        CommunityTransferred,
        CommunityRetired,
        # disclosure 公开
        DisclosurePublished,
        DisclosureCorrected,
        # training 五个一
        TrainingHeld,
        # rule revision
        RuleRevised,
        # meetings and supervision
        MeetingHeld,
        SpotCheckRecorded,
        FindingRectified,
        ReportReceived,
        ReportClosed,
        # restricted text forgotten
        Erased,
        # recognition
        DemonstrationPointDesignated,
        LeadingTalentRecognized,
        DutyReportFiled,
        # the standard itself
        StandardRevised,
        # who may act
        AccessGranted,
        AccessRevoked,
    ),
    # (TYPE, version read) -> pure function returning the payload one version up.
    upcasters={**UPCASTERS, **STANDARD_UPCASTERS},
)


# Streams are `category-id` (message-db): a town's, a community's, and the standard's one stream.
STANDARD_STREAM = "standard-main"


def subject_of(event: Event) -> tuple[str, str] | None:
    """What an event is about, as (category, id): its town, its community, ("standard", "main") or a
    token's grants ("access", token id); None for an event about none of them. The stream it belongs to is
    `category-id`."""
    if isinstance(event, AccessGranted | AccessRevoked):
        return ("access", event.token_id)
    if isinstance(event, TownRegistered):
        return ("town", event.town_id)
    if isinstance(event, StandardRevised):
        return ("standard", "main")
    community_id = getattr(event, "community_id", None)
    return ("community", community_id) if isinstance(community_id, str) else None
