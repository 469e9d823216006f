"""Who may record what: a minimal role model, until users carry signed tokens.

Reading is open to every role. Each command (an event type) names the roles that may record it, as data:
clerks keep a community's own records, inspectors record supervision, administrators may record anything —
the registry, recognitions and the standard are theirs alone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from events.errors import QinglianError


class Role(enum.StrEnum):
    READER = "reader"
    CLERK = "clerk"
    INSPECTOR = "inspector"
    ADMIN = "admin"


_CLERK = frozenset(
    {
        "DisclosurePublished",
        "DisclosureCorrected",
        "TrainingHeld",
        "RuleRevised",
        "MeetingHeld",
        "FindingRectified",
        "DutyReportFiled",
    }
)
_INSPECTOR = frozenset({"SpotCheckRecorded", "ReportReceived", "ReportClosed"})

MAY_RECORD: Mapping[Role, frozenset[str]] = {
    Role.READER: frozenset(),
    Role.CLERK: _CLERK,
    Role.INSPECTOR: _INSPECTOR,
}


def may_record(role: Role, event_type: str) -> bool:
    """Whether `role` may record an event of `event_type` (admins may record every type)."""
    return role is Role.ADMIN or event_type in MAY_RECORD.get(role, frozenset())


def refusal(role: Role, event_type: str) -> str:
    """Why `role` may not record `event_type`, in words for the client."""
    allowed = sorted(r.value for r in Role if may_record(r, event_type))
    return f"role {role.value!r} may not record {event_type}; it takes one of: {', '.join(allowed)}"


def parse_role(text: str | None, default: Role = Role.READER) -> Role | None:
    """The role a header names (case-insensitive), `default` when absent, None when it names no role."""
    if text is None or not text.strip():
        return default
    try:
        return Role(text.strip().lower())
    except ValueError:
        return None


class NotAllowed(QinglianError):
    """The caller's role may not record this kind of event; nothing was written."""

    def __init__(self, role: Role, event_type: str) -> None:
        self.role = role
        self.event_type = event_type
        super().__init__(refusal(role, event_type))
