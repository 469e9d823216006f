"""The domain's enumerations as GraphQL enums, each value described with its Chinese term.

The enums are the core's own (`events.*`, `projections.*`), so values pass between the API and the commands
unchanged; this module only gives them GraphQL names and descriptions. Their labels in Chinese and English
(`Query.enumLabels`) are the core's too (`projections.wording.LABELS`), but for the enums that only sort
or step a list, labelled here (`LABELS`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

import strawberry

from events.disclosure import Channel, DisclosureCategory
from events.hierarchy import CommunityKind, TownKind
from events.recognition import Level
from events.rules import RuleDocument
from events.standard import Text
from events.supervision import MeetingKind
from events.training import TrainingKind
from projections.unmet import Reason, RecordType
from projections.wording import Lang
from service.read.series import Step
from service.read.views import CommunityOrder


def _describe(
    cls: type[enum.Enum], description: str, values: Mapping[str, str], name: str | None = None
) -> None:
    """Make `cls` a GraphQL enum (named `name`, default its class name), each value described by
    `values[member.value]`."""
    strawberry.enum(cls, name=name, description=description)
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    missing = {member.value for member in cls} - set(values)
    assert not missing, f"{cls.__name__} values without a description: {missing}"
    definition.values = [dataclasses.replace(v, description=values[v.value]) for v in definition.values]


@strawberry.enum(description="Which way a list is sorted.")
class OrderDirection(enum.Enum):
    ASC = strawberry.enum_value("asc", description="Smallest first (升序).")
    DESC = strawberry.enum_value("desc", description="Largest first (降序).")


@strawberry.enum(description="What changed a status or a coverage that a subscription tells of.")
class ChangeCause(enum.Enum):
    RECORD = strawberry.enum_value(
        "record", description="A record (记录), or a revision of the standard, changed it."
    )
    DATE = strawberry.enum_value(
        "date",
        description="A date passed (到期): a due date with its grace, or an age limit, with no new record.",
    )


_describe(
    TownKind,
    "A town (镇) or a subdistrict (街道) of the city.",
    {
        "town": "A town (镇).",
        "subdistrict": "A subdistrict (街道).",
    },
)
_describe(
    CommunityKind,
    "An urban community (社区) or a village (村).",
    {
        "community": "An urban community (社区).",
        "village": "A village (村).",
    },
)
_describe(
    DisclosureCategory,
    "What a disclosure (公开) makes public.",
    {
        "party_affairs": "Party affairs (党务公开).",
        "residents_affairs": "Residents' affairs (居务公开).",
        "finance": "Finances (财务公开).",
        "major_matter": "Major decisions, appointments, projects and large sums (三重一大).",
        "annual_plan": "The year's construction plan (建设计划).",
    },
)
_describe(
    Channel,
    "Where a disclosure was published.",
    {
        "notice_board": "The community's notice board (公开栏).",
        "online": "Online (网上公开).",
    },
)
_describe(
    TrainingKind,
    'A kind of integrity education; the first five are the "five ones" (五个一).',
    {
        "warning_site_visit": "A visit to an integrity warning-education site (廉政警示参观).",
        "warning_meeting": "A warning-education meeting (警示教育会议).",
        "case_analysis": "An analysis of a typical case (典型案例剖析).",
        "integrity_course": "A course on integrity (清廉专题培训).",
        "democratic_life_meeting": "A democratic-life meeting on integrity (清廉专题民主生活会).",
        "other": "Any other integrity education (其他).",
    },
)
_describe(
    RuleDocument,
    "A community's own rules, kept in versions.",
    {
        "residents_convention": "The residents' convention (居民公约).",
        "village_rules": "The village rules (村规民约).",
        "autonomy_charter": "The autonomy charter (自治章程).",
        "micro_power_list": "The list of micro-powers (小微权力清单).",
        "burden_reduction_list": "The burden-reduction list (减负清单).",
        "certificate_list": "The list of certificates the community issues (证明事项清单).",
    },
)
_describe(
    MeetingKind,
    "A kind of residents' meeting.",
    {
        "representatives": "A residents' representatives meeting (居民代表会议).",
        "consultation": "A democratic consultation (民主恳谈会).",
        "council": "A residents' council (居民议事会).",
    },
)
_describe(
    Level,
    "The level of a recognition.",
    {
        "provincial": "Provincial (省级).",
        "prefecture": "Prefecture, e.g. Ningbo (宁波市级).",
        "city": "City, e.g. Cixi (慈溪市级).",
    },
)
_describe(
    CommunityOrder,
    "What a list of communities is sorted by (ties broken by id).",
    {
        "name": (
            "The community's name as of the date asked (名称), in pinyin order (拼音排序): syllable "
            "by syllable, each by its letters then its tone, a polyphone read as in its phrase "
            "(长丰 changfeng); other text with case and accents ignored, digits before letters; names "
            "with the same pinyin by the name's code points, then by id."
        ),
        "score": "The share of the standard's criteria met (得分).",
        "last_activity": "The last day the community recorded something (最近活动).",
    },
)

_describe(
    Step,
    "How far apart a series' points are. A month or a quarter later keeps the day of the month (or the "
    "month's last day, where it has fewer).",
    {
        "day": "Every day (日).",
        "week": "Every 7 days (周).",
        "month": "Every month (月).",
        "quarter": "Every three months (季度).",
    },
    name="SeriesStep",
)
_describe(
    Lang,
    "A language of the words the API renders: messages and labels.",
    {
        "zh": "Chinese (中文), in simplified characters.",
        "en": "English (英文).",
    },
)
_describe(
    Reason,
    "Why a criterion is not met; each reason sets its own parameters (UnmetParameters), named here.",
    {
        "disclosure_missing": "A disclosure missing past its due date (未按期公开): category, period, due.",
        "training_never_held": "A kind of education never held in the window (未开展廉政教育): training, "
        "windowDays, on.",
        "training_lapsed": "A kind of education last held before the window (廉政教育逾期): training, "
        "windowDays, on, lastHeldOn.",
        "rule_never_adopted": "A document of the rules never adopted (制度未制定): document.",
        "rule_outdated": "A document's current version too old (制度超期未修订): document, version, "
        "adoptedOn, maxAgeYears.",
        "meeting_missing": "No meeting of a kind in a complete period (未按期召开会议): meeting, period.",
        "finding_open": "A finding unrectified past its limit (问题逾期未整改): findingId, foundOn, "
        "daysOpen, limitDays, more, on.",
        "duty_report_missing": "No duty report for a year past its due date (未述职述廉): year, due.",
        "not_registered": "The community was not registered on the date (未登记).",
        "retired": "The community had been retired by the date (已退出).",
        "no_standard": "No standard was in force on the date (无生效标准): on.",
    },
    name="UnmetReason",
)
_describe(
    RecordType,
    "A kind of record, as an unmet criterion waits for one.",
    {
        "disclosure": "A disclosure (公开): publishDisclosure.",
        "training": "Integrity education held (廉政教育): recordTraining.",
        "rule_version": "A new version of a community's rules (制度修订): reviseRule.",
        "meeting": "A meeting held (会议): recordMeeting.",
        "rectification": "A finding rectified (问题整改): recordRectification.",
        "duty_report": "A duty report filed (述职述廉): fileDutyReport.",
        "standard": "A version of the standard (标准修订): reviseStandard.",
    },
)


def _labels(**pairs: tuple[str, str]) -> dict[str, Text]:
    return {value: Text(zh=zh, en=en) for value, (zh, en) in pairs.items()}


# The labels of the enums that are not the domain's: how a list is sorted or a series stepped, a language.
LABELS: dict[type[enum.Enum], dict[str, Text]] = {
    OrderDirection: _labels(asc=("升序", "Ascending"), desc=("降序", "Descending")),
    CommunityOrder: _labels(
        name=("名称", "Name"), score=("得分", "Score"), last_activity=("最近活动", "Last activity")
    ),
    Step: _labels(day=("日", "Day"), week=("周", "Week"), month=("月", "Month"), quarter=("季度", "Quarter")),
    Lang: _labels(zh=("中文", "Chinese"), en=("英文", "English")),
    ChangeCause: _labels(record=("记录", "A record"), date=("到期", "A date passed")),
}
