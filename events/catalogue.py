"""Every event type the log may hold, in one explicit registry (no metaclass, no import-time discovery)."""

from __future__ import annotations

from events.disclosure import DisclosureCorrected, DisclosurePublished
from events.hierarchy import (
    CommunityRegistered,
    CommunityRenamed,
    CommunityRetired,
    CommunityTransferred,
    TownRegistered,
)
from events.recognition import DemonstrationPointDesignated, DutyReportFiled, LeadingTalentRecognized
from events.registry import Registry
from events.rules import RuleRevised
from events.standard import StandardRevised
from events.supervision import (
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
        # recognition
        DemonstrationPointDesignated,
        LeadingTalentRecognized,
        DutyReportFiled,
        # the standard itself
        StandardRevised,
    ),
    # (TYPE, version read) -> pure function returning the payload one version up. None shipped yet.
    upcasters={},
)
