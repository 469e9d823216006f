"""The standard (规范化建设标准): the rulebook that defines "standardized", itself a versioned record.

The standard is data, not code: each criterion is a kind plus parameters, read by the evaluator in
`projections/`, with a title and a description in Chinese and English for people to read. A revision takes
effect from a date, so a status at time t is judged by the standard then in force, and revising the
standard never rewrites history.

Version 1 of `StandardRevised` carried no texts. Its upcaster gives each criterion the built-in texts of its
id (`BUILT_IN_TEXTS`: the default standard's criteria), or of its kind for an id the project never shipped,
so every revision in the log reads with texts; the stored events keep their bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from events.codec import JSON, canonical_json


@dataclass(frozen=True, slots=True, kw_only=True)
class Text:
    """A text in Chinese and in English."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Criterion:
    """One requirement: `kind` names the rule, `params` its settings, e.g.
    `disclosure_every_period` with `{"category": "finance", "period": "quarter", "lookback": 4}`.

    `title` and `description` are required of a revision (`projections.decisions`); they may be missing
    only from a standard the projections stored before criteria had texts, which `texts_of` completes.
    """

    criterion_id: str
    kind: str
    params: Mapping[str, Any]
    title: Text | None = None
    description: Text | None = None

    def __hash__(self) -> int:
        # The parameters are a plain mapping (as decoded from the log); their canonical text stands in
        # for them, so equal criteria hash alike and a standard's criteria can key a cache.
        return hash((self.criterion_id, self.kind, canonical_json(self.params)))


@dataclass(frozen=True, slots=True, kw_only=True)
class StandardRevised:
    TYPE: ClassVar[str] = "StandardRevised"
    VERSION: ClassVar[int] = 2

    version: int
    effective_from: date
    title: str
    criteria: tuple[Criterion, ...]


def _texts(title_zh: str, title_en: str, description_zh: str, description_en: str) -> tuple[Text, Text]:
    return Text(zh=title_zh, en=title_en), Text(zh=description_zh, en=description_en)


# The texts of the default standard's criteria, by criterion id (DESIGN §2).
BUILT_IN_TEXTS: Mapping[str, tuple[Text, Text]] = {
    "residents-affairs-quarterly": _texts(
        "居务按季公开",
        "Residents' affairs disclosed every quarter",
        "每季度公开居务（居务公开），季度结束后15天内完成；近4个季度均须公开。",
        "Residents' affairs (居务公开) are disclosed for each quarter within 15 days of its end, for each of "
        "the last four quarters.",
    ),
    "finance-quarterly": _texts(
        "财务按季公开",
        "Finances disclosed every quarter",
        "每季度公开财务（财务公开），季度结束后15天内完成；近4个季度均须公开。",
        "The finances (财务公开) are disclosed for each quarter within 15 days of its end, for each of the "
        "last four quarters.",
    ),
    "five-ones": _texts(
        "“五个一”廉政教育",
        'The "five ones" of integrity education',
        "近一年内开展廉政警示参观、警示教育会议、典型案例剖析、清廉专题培训、清廉专题民主生活会各至少一次。",
        "In the last year, at least one each of: a visit to a warning-education site, a warning-education "
        "meeting, a typical case analysed, an integrity course and a democratic-life meeting on integrity "
        "(五个一).",
    ),
    "residents-convention-current": _texts(
        "居民公约现行有效",
        "Residents' convention kept current",
        "社区的居民公约须已制定，且现行版本通过不超过5年。",
        "An urban community has adopted a residents' convention (居民公约), and its current version is at "
        "most 5 years old.",
    ),
    "village-rules-current": _texts(
        "村规民约现行有效",
        "Village rules kept current",
        "村的村规民约须已制定，且现行版本通过不超过5年。",
        "A village has adopted village rules (村规民约), and their current version is at most 5 years old.",
    ),
    "autonomy-charter-current": _texts(
        "自治章程现行有效",
        "Autonomy charter kept current",
        "自治章程须已制定，且现行版本通过不超过5年。",
        "An autonomy charter (自治章程) has been adopted, and its current version is at most 5 years old.",
    ),
    "micro-power-list-current": _texts(
        "小微权力清单现行有效",
        "List of micro-powers kept current",
        "小微权力清单须已制定，且现行版本通过不超过5年。",
        "A list of micro-powers (小微权力清单) has been adopted, and its current version is at most 5 years "
        "old.",
    ),
    "representatives-quarterly": _texts(
        "居民代表会议按季召开",
        "Residents' representatives meet every quarter",
        "近4个完整季度中，每季度至少召开一次居民代表会议。",
        "At least one residents' representatives meeting (居民代表会议) in each of the last four complete "
        "quarters.",
    ),
    "findings-rectified": _texts(
        "回头看问题按期整改",
        "Spot-check findings rectified in time",
        "回头看发现的问题须在发现后30天内整改完毕。",
        "Every finding of a spot check (回头看) is rectified within 30 days of being found.",
    ),
    "duty-report": _texts(
        "年度述职述廉",
        "Annual duty report",
        "每年3月31日前提交上一年度的述职述廉报告。",
        "A duty report (述职述廉) on the previous year is filed by 31 March.",
    ),
}

# The texts of a criterion of each kind whose id has no built-in texts: what any criterion of the kind
# requires, whatever its parameters.
KIND_TEXTS: Mapping[str, tuple[Text, Text]] = {
    "disclosure_every_period": _texts(
        "按期公开",
        "Disclosure every period",
        "每个期间按时公开规定类别的事项。",
        "A disclosure of the category required, for each period, on time.",
    ),
    "trainings_each_year": _texts(
        "廉政教育每年开展",
        "Integrity education every year",
        "近一年内开展规定的各类廉政教育。",
        "Each kind of integrity education required, held within the last year.",
    ),
    "rule_current": _texts(
        "制度现行有效",
        "Rules kept current",
        "规定的制度须已制定，且现行版本未超过年限。",
        "The rules required have been adopted, and their current version is within its age limit.",
    ),
    "meetings_every_period": _texts(
        "按期召开会议",
        "Meetings every period",
        "每个完整期间至少召开一次规定的会议。",
        "At least one meeting of the kind required in each complete period.",
    ),
    "no_open_findings": _texts(
        "问题按期整改",
        "Findings rectified in time",
        "回头看发现的问题须在期限内整改完毕。",
        "Every finding of a spot check is rectified within the time allowed.",
    ),
    "annual_duty_report": _texts(
        "年度述职述廉",
        "Annual duty report",
        "按期提交上一年度的述职述廉报告。",
        "A duty report on the previous year, filed by its due date.",
    ),
}

_ANY_KIND = _texts("标准条目", "Criterion", "规范化建设标准中的一项要求。", "A requirement of the standard.")


def built_in_texts(criterion_id: str, kind: str) -> tuple[Text, Text]:
    """The title and description a criterion without texts of its own is shown with: its id's, else its
    kind's, else a generic pair."""
    return BUILT_IN_TEXTS.get(criterion_id) or KIND_TEXTS.get(kind) or _ANY_KIND


def texts_of(criterion: Criterion) -> tuple[Text, Text]:
    """A criterion's title and description, its own where it has them."""
    if criterion.title is not None and criterion.description is not None:
        return criterion.title, criterion.description
    title, description = built_in_texts(criterion.criterion_id, criterion.kind)
    return criterion.title or title, criterion.description or description


def _v1_with_texts(payload: dict[str, JSON]) -> dict[str, JSON]:
    """StandardRevised v1 -> v2: each criterion given the built-in texts of its id (or kind)."""
    criteria = payload.get("criteria")
    if not isinstance(criteria, list):
        return payload  # the codec refuses it, naming the field
    completed: list[JSON] = []
    for criterion in criteria:
        if isinstance(criterion, dict):
            criterion_id, kind = criterion.get("criterion_id"), criterion.get("kind")
            title, description = built_in_texts(
                criterion_id if isinstance(criterion_id, str) else "", kind if isinstance(kind, str) else ""
            )
            criterion = {
                **criterion,
                "title": {"zh": title.zh, "en": title.en},
                "description": {"zh": description.zh, "en": description.en},
            }
        completed.append(criterion)
    return {**payload, "criteria": completed}


UPCASTERS = {("StandardRevised", 1): _v1_with_texts}
