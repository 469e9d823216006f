"""The domain's enumerations as GraphQL enums, each value described with its Chinese term.

The enums are the core's own (`events.*`), so values pass between the API and the commands unchanged;
this module only gives them GraphQL names and descriptions.
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
from events.supervision import MeetingKind
from events.training import TrainingKind
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
