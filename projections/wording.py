"""Words a reader sees, in Chinese or in English: the domain's terms (`LABELS`), and the sentence saying why
a criterion is not met (`message`), rendered from an `Unmet`'s reason and particulars.

Pure and total: every reason has a template in each language, every value of every domain enumeration a
label in each, and tests hold both complete. Dates are written as a reader of the language writes them
(2022年4月15日; 2022-04-15 in English, which no reader misreads), and so are periods (2022年第2季度, Q2 2022).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import date

from events.disclosure import Channel, DisclosureCategory
from events.hierarchy import CommunityKind, TownKind
from events.recognition import Level
from events.rules import RuleDocument
from events.standard import Text
from events.supervision import MeetingKind
from events.training import TrainingKind
from projections.periods import Granularity, Period
from projections.unmet import Particulars, Reason, RecordType, Unmet


class Lang(enum.StrEnum):
    ZH = "zh"
    EN = "en"


def _labels(**pairs: tuple[str, str]) -> dict[str, Text]:
    return {value: Text(zh=zh, en=en) for value, (zh, en) in pairs.items()}


# Each domain enumeration's values (by value) and their terms: the Chinese as the programme writes them.
LABELS: Mapping[type[enum.Enum], Mapping[str, Text]] = {
    TownKind: _labels(town=("镇", "Town"), subdistrict=("街道", "Subdistrict")),
    CommunityKind: _labels(community=("社区", "Community"), village=("村", "Village")),
    DisclosureCategory: _labels(
        party_affairs=("党务公开", "Party affairs"),
        residents_affairs=("居务公开", "Residents' affairs"),
        finance=("财务公开", "Finance"),
        major_matter=("三重一大", "Major matters"),
        annual_plan=("建设计划", "Annual plan"),
    ),
    Channel: _labels(notice_board=("公开栏", "Notice board"), online=("网上公开", "Online")),
    TrainingKind: _labels(
        warning_site_visit=("廉政警示参观", "Warning-education site visit"),
        warning_meeting=("警示教育会议", "Warning-education meeting"),
        case_analysis=("典型案例剖析", "Typical case analysis"),
        integrity_course=("清廉专题培训", "Integrity course"),
        democratic_life_meeting=("清廉专题民主生活会", "Democratic-life meeting on integrity"),
        other=("其他", "Other integrity education"),
    ),
    RuleDocument: _labels(
        residents_convention=("居民公约", "Residents' convention"),
        village_rules=("村规民约", "Village rules"),
        autonomy_charter=("自治章程", "Autonomy charter"),
        micro_power_list=("小微权力清单", "List of micro-powers"),
        burden_reduction_list=("减负清单", "Burden-reduction list"),
        certificate_list=("证明事项清单", "List of certificates"),
    ),
    MeetingKind: _labels(
        representatives=("居民代表会议", "Residents' representatives meeting"),
        consultation=("民主恳谈会", "Democratic consultation"),
        council=("居民议事会", "Residents' council"),
    ),
    Level: _labels(
        provincial=("省级", "Provincial"), prefecture=("宁波市级", "Prefecture"), city=("慈溪市级", "City")
    ),
    RecordType: _labels(
        disclosure=("公开", "Disclosure"),
        training=("廉政教育", "Integrity education"),
        rule_version=("制度修订", "Rule revision"),
        meeting=("会议", "Meeting"),
        rectification=("问题整改", "Rectification"),
        duty_report=("述职述廉", "Duty report"),
        standard=("标准修订", "Standard revision"),
    ),
    Reason: _labels(
        disclosure_missing=("未按期公开", "Disclosure missing"),
        training_never_held=("未开展廉政教育", "Education never held"),
        training_lapsed=("廉政教育逾期", "Education lapsed"),
        rule_never_adopted=("制度未制定", "Rules never adopted"),
        rule_outdated=("制度超期未修订", "Rules out of date"),
        meeting_missing=("未按期召开会议", "Meeting missing"),
        finding_open=("问题逾期未整改", "Finding not rectified"),
        duty_report_missing=("未述职述廉", "Duty report missing"),
        not_registered=("未登记", "Not registered"),
        retired=("已退出", "Retired"),
        no_standard=("无生效标准", "No standard in force"),
    ),
}


def label(member: enum.Enum, lang: Lang) -> str:
    """The term for an enumeration's value in `lang`."""
    return text(LABELS[type(member)][member.value], lang)


def text(value: Text, lang: Lang) -> str:
    return value.zh if lang is Lang.ZH else value.en


def day_text(day: date, lang: Lang) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if lang is Lang.ZH else day.isoformat()


def period_text(period: str, lang: Lang) -> str:
    """A period as a reader of `lang` writes it; one that does not read stays as it is."""
    try:
        parsed = Period.parse(period)
    except ValueError:
        return period
    year, month = parsed.start.year, parsed.start.month
    quarter = (month - 1) // 3 + 1
    if parsed.granularity is Granularity.YEAR:
        return f"{year}年" if lang is Lang.ZH else str(year)
    if parsed.granularity is Granularity.QUARTER:
        return f"{year}年第{quarter}季度" if lang is Lang.ZH else f"Q{quarter} {year}"
    return f"{year}年{month}月" if lang is Lang.ZH else f"{_MONTHS[month - 1]} {year}"


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def message(unmet: Unmet, lang: Lang) -> str:
    """The sentence saying why `unmet`'s criterion is not met, in `lang`."""
    if unmet.reason is None:
        return ""  # a stored segment's: no wording is kept there
    words = _Words(unmet.particulars, lang)
    return (_ZH if lang is Lang.ZH else _EN)[unmet.reason](words)


class _Words:
    """The particulars as a reader of one language reads them: terms by label, dates and periods as
    written there, missing ones as empty text (a template names only its reason's particulars)."""

    def __init__(self, particulars: Particulars, lang: Lang) -> None:
        self._p, self._lang = particulars, lang

    def __getattr__(self, name: str) -> str:
        value = getattr(self._p, name)
        if value is None:
            return ""
        if isinstance(value, enum.Enum):
            return label(value, self._lang)
        if isinstance(value, date):
            return day_text(value, self._lang)
        if name == "period":
            return period_text(value, self._lang)
        return str(value)

    def term(self, name: str) -> str:
        """An English term within a sentence: its label, lower case but for its proper words."""
        words: str = getattr(self, name)
        return words[:1].lower() + words[1:] if words[1:2].islower() else words

    @property
    def more(self) -> int:
        return self._p.more or 0


_ZH: Mapping[Reason, Callable[[_Words], str]] = {
    Reason.DISCLOSURE_MISSING: lambda w: f"{w.period}{w.category}未按期完成（截止日期：{w.due}）",
    Reason.TRAINING_NEVER_HELD: lambda w: f"截至{w.on}的{w.window_days}天内未开展{w.training}",
    Reason.TRAINING_LAPSED: lambda w: (
        f"截至{w.on}的{w.window_days}天内未开展{w.training}，最近一次在{w.last_held_on}"
    ),
    Reason.RULE_NEVER_ADOPTED: lambda w: f"尚未制定{w.document}",
    Reason.RULE_OUTDATED: lambda w: (
        f"{w.document}第{w.version}版于{w.adopted_on}通过，已超过{w.max_age_years}年未修订"
    ),
    Reason.MEETING_MISSING: lambda w: f"{w.period}未召开{w.meeting}",
    Reason.FINDING_OPEN: lambda w: (
        f"{w.found_on}回头看发现的问题{w.finding_id}已{w.days_open}天未整改（期限{w.limit_days}天）"
        + (f"，另有{w.more}个问题逾期未整改" if w.more else "")
    ),
    Reason.DUTY_REPORT_MISSING: lambda w: f"{w.year}年度述职述廉报告未提交（截止日期：{w.due}）",
    Reason.NOT_REGISTERED: lambda w: "该日尚未登记",
    Reason.RETIRED: lambda w: "该日已退出清廉社区建设范围",
    Reason.NO_STANDARD: lambda w: f"{w.on}无生效的规范化建设标准",
}

_EN: Mapping[Reason, Callable[[_Words], str]] = {
    Reason.DISCLOSURE_MISSING: lambda w: f"No {w.term('category')} disclosure for {w.period} (due {w.due})",
    Reason.TRAINING_NEVER_HELD: lambda w: (
        f"No {w.term('training')} held in the {w.window_days} days to {w.on}"
    ),
    Reason.TRAINING_LAPSED: lambda w: (
        f"No {w.term('training')} held in the {w.window_days} days to {w.on}; "
        f"the last was on {w.last_held_on}"
    ),
    Reason.RULE_NEVER_ADOPTED: lambda w: f"No {w.term('document')} has been adopted",
    Reason.RULE_OUTDATED: lambda w: (
        f"The {w.term('document')} (version {w.version}, adopted {w.adopted_on}) is more than "
        f"{w.max_age_years} years old"
    ),
    Reason.MEETING_MISSING: lambda w: f"No {w.term('meeting')} held in {w.period}",
    Reason.FINDING_OPEN: lambda w: (
        f"Finding {w.finding_id} of the spot check on {w.found_on} has been open for {w.days_open} days "
        f"(limit {w.limit_days})"
        + (f", and {w.more} more {'is' if w.more == 1 else 'are'} overdue" if w.more else "")
    ),
    Reason.DUTY_REPORT_MISSING: lambda w: f"No duty report for {w.year} (due {w.due})",
    Reason.NOT_REGISTERED: lambda w: "Not registered on this date",
    Reason.RETIRED: lambda w: "Retired from the programme on this date",
    Reason.NO_STANDARD: lambda w: f"No standard is in force on {w.on}",
}
