"""The words a reader sees: every criterion's texts, every reason's message in both languages with its
parameters, every domain term's labels."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date
from typing import Any

import pytest

from events.catalogue import CATALOGUE
from events.codec import JSON
from events.disclosure import DisclosureCategory
from events.hierarchy import CommunityKind
from events.payloads import from_json_text
from events.rules import RuleDocument
from events.standard import BUILT_IN_TEXTS, KIND_TEXTS, StandardRevised, Text, texts_of
from events.supervision import MeetingKind
from events.training import TrainingKind
from projections.community import StandardVersion
from projections.criteria import CRITERION_KINDS
from projections.evaluation import evaluate
from projections.facts import CommunityFacts, Registration
from projections.standards import DEFAULT_STANDARD
from projections.unmet import PARTICULARS, Particulars, Reason, RecordType, Unmet
from projections.wording import LABELS, Lang, label, message, period_text

# A value of each particular, as a reason would set it, and how each language writes it.
SAMPLES: dict[str, tuple[Any, str, str]] = {
    "on": (date(2022, 6, 8), "2022年6月8日", "2022-06-08"),
    "category": (DisclosureCategory.FINANCE, "财务公开", "finance"),
    "period": ("2022-Q1", "2022年第1季度", "Q1 2022"),
    "due": (date(2022, 4, 15), "2022年4月15日", "2022-04-15"),
    "training": (TrainingKind.CASE_ANALYSIS, "典型案例剖析", "typical case analysis"),
    "window_days": (365, "365", "365"),
    "last_held_on": (date(2021, 5, 2), "2021年5月2日", "2021-05-02"),
    "document": (RuleDocument.AUTONOMY_CHARTER, "自治章程", "autonomy charter"),
    "version": (3, "第3版", "version 3"),
    "adopted_on": (date(2016, 5, 1), "2016年5月1日", "2016-05-01"),
    "max_age_years": (5, "5年", "5 years"),
    "meeting": (MeetingKind.REPRESENTATIVES, "居民代表会议", "residents' representatives meeting"),
    "finding_id": ("F-17", "F-17", "F-17"),
    "found_on": (date(2022, 3, 1), "2022年3月1日", "2022-03-01"),
    "days_open": (99, "99天", "99 days"),
    "limit_days": (30, "30天", "limit 30"),
    "more": (2, "另有2个", "2 more"),
    "year": (2021, "2021年度", "for 2021"),
}


def unmet(reason: Reason) -> Unmet:
    given = {name: SAMPLES[name][0] for name in PARTICULARS[reason]}
    return Unmet("c1", "kind", date(2022, 1, 1), reason, Particulars(**given), Text(zh="标题", en="Title"))


def test_every_criterion_of_the_default_standard_has_a_title_and_a_description_in_both_languages() -> None:
    for criterion in DEFAULT_STANDARD.criteria:
        title, description = texts_of(criterion)
        assert BUILT_IN_TEXTS[criterion.criterion_id] == (criterion.title, criterion.description)
        for text in (title, description):
            assert text.zh.strip(), criterion.criterion_id
            assert text.en.strip(), criterion.criterion_id
            # Each language in its own words: Chinese holds Chinese, English no Chinese but its terms.
            assert any("\u4e00" <= c <= "\u9fff" for c in text.zh), text.zh
            assert text.en[:1].isascii(), text.en


def test_every_kind_of_criterion_has_texts_for_an_id_without_its_own() -> None:
    assert set(CRITERION_KINDS) == set(KIND_TEXTS)
    for title, description in KIND_TEXTS.values():
        assert all(t.strip() for t in (title.zh, title.en, description.zh, description.en))


@pytest.mark.parametrize("reason", list(Reason))
@pytest.mark.parametrize("lang", list(Lang))
def test_each_reason_renders_in_each_language_with_its_parameters(reason: Reason, lang: Lang) -> None:
    said = message(unmet(reason), lang)
    assert said.strip()
    for name in PARTICULARS[reason]:
        if name == "on" and reason is Reason.FINDING_OPEN:
            continue  # the day judged is in the count of days open
        written = SAMPLES[name][1 if lang is Lang.ZH else 2]
        assert written in said, (name, said)
    if lang is Lang.EN:
        # No snake_case term and no Chinese reaches an English sentence.
        assert "_" not in said
        assert not any("\u4e00" <= c <= "\u9fff" for c in said), said
    else:
        assert any("\u4e00" <= c <= "\u9fff" for c in said), said


def test_the_messages_read_as_sentences() -> None:
    assert "2022年第1季度财务公开未按期完成（截止日期：2022年4月15日）" == message(
        unmet(Reason.DISCLOSURE_MISSING), Lang.ZH
    )
    assert "No finance disclosure for Q1 2022 (due 2022-04-15)" == message(
        unmet(Reason.DISCLOSURE_MISSING), Lang.EN
    )
    assert "The autonomy charter (version 3, adopted 2016-05-01) is more than 5 years old" == message(
        unmet(Reason.RULE_OUTDATED), Lang.EN
    )
    assert "自治章程第3版于2016年5月1日通过，已超过5年未修订" == message(unmet(Reason.RULE_OUTDATED), Lang.ZH)
    one_more = dataclasses.replace(
        unmet(Reason.FINDING_OPEN),
        particulars=Particulars(
            finding_id="F-17", found_on=date(2022, 3, 1), days_open=99, limit_days=30, more=1
        ),
    )
    assert (
        "Finding F-17 of the spot check on 2022-03-01 has been open for 99 days (limit 30), "
        "and 1 more is overdue" == message(one_more, Lang.EN)
    )
    alone = dataclasses.replace(one_more, particulars=dataclasses.replace(one_more.particulars, more=0))
    assert "2022年3月1日回头看发现的问题F-17已99天未整改（期限30天）" == message(alone, Lang.ZH)


def test_a_status_evaluated_says_each_unmet_criterion_in_both_languages_with_its_title() -> None:
    facts = CommunityFacts(
        community_id="yubo",
        registrations=(Registration(CommunityKind.COMMUNITY, date(2021, 1, 1), 1),),
        position=1,
    )
    standard = StandardVersion(
        DEFAULT_STANDARD.version,
        DEFAULT_STANDARD.effective_from,
        DEFAULT_STANDARD.title,
        DEFAULT_STANDARD.criteria,
        1,
    )
    status = evaluate(facts, standard, date(2022, 6, 8))
    by_id = {u.criterion_id: u for u in status.unmet}
    assert {"finance-quarterly", "five-ones", "autonomy-charter-current", "duty-report"} <= set(by_id)
    for found in status.unmet:
        assert BUILT_IN_TEXTS[found.criterion_id][0] == found.title
        assert message(found, Lang.ZH)
        assert message(found, Lang.EN)
    finance = by_id["finance-quarterly"]
    assert (Reason.DISCLOSURE_MISSING, date(2022, 4, 16)) == (finance.reason, finance.since)
    awaited = finance.waits_for
    assert awaited is not None
    assert (RecordType.DISCLOSURE, "DisclosurePublished", "2022-Q1", date(2022, 4, 15)) == (
        awaited.record,
        awaited.event_type,
        awaited.period,
        awaited.due,
    )
    assert "2022年第1季度财务公开未按期完成（截止日期：2022年4月15日）" == message(finance, Lang.ZH)
    # The deprecated sentence is as it always was.
    assert "no finance disclosure for 2022-Q1 (due 2022-04-15)" == finance.detail
    duty = by_id["duty-report"].waits_for
    assert duty is not None
    assert (RecordType.DUTY_REPORT, "2021", date(2022, 3, 31)) == (duty.record, duty.period, duty.due)


def test_every_reason_but_scope_waits_for_a_record() -> None:
    waiting = {reason for reason in Reason if unmet(reason).waits_for is not None}
    assert set(Reason) - {Reason.NOT_REGISTERED, Reason.RETIRED} == waiting


@pytest.mark.parametrize("cls", list(LABELS))
def test_every_value_of_every_domain_enumeration_has_a_label_in_both_languages(cls: type[enum.Enum]) -> None:
    assert {member.value for member in cls} == set(LABELS[cls])
    for member in cls:
        zh, en = label(member, Lang.ZH), label(member, Lang.EN)
        assert zh.strip()
        assert en.strip()
        assert any("\u4e00" <= c <= "\u9fff" for c in zh), zh
        assert en.isascii(), en


@pytest.mark.parametrize(
    ("period", "zh", "en"),
    [
        ("2022", "2022年", "2022"),
        ("2022-Q2", "2022年第2季度", "Q2 2022"),
        ("2022-06", "2022年6月", "June 2022"),
        ("not a period", "not a period", "not a period"),
    ],
)
def test_periods_are_written_as_each_language_writes_them(period: str, zh: str, en: str) -> None:
    assert (zh, en) == (period_text(period, Lang.ZH), period_text(period, Lang.EN))


def test_a_standard_revised_before_criteria_had_texts_reads_with_the_built_in_texts() -> None:
    """Version 1 of StandardRevised, as logs (and the demo) hold it: the event keeps its bytes, and reads
    with each criterion's built-in texts, those of its kind for an id the project never shipped."""
    v1: dict[str, JSON] = {
        "version": 2,
        "effective_from": "2023-01-01",
        "title": "第二版",
        "criteria": [
            {"criterion_id": "duty-report", "kind": "annual_duty_report", "params": {}},
            {"criterion_id": "our-own", "kind": "no_open_findings", "params": {"older_than_days": 20}},
        ],
    }
    event = CATALOGUE.decode("StandardRevised", 1, v1)
    assert isinstance(event, StandardRevised)
    known, own = event.criteria
    assert BUILT_IN_TEXTS["duty-report"] == (known.title, known.description)
    assert KIND_TEXTS["no_open_findings"] == (own.title, own.description)
    # A standard the projections stored before criteria had texts reads with the same texts.
    stored = (
        '{"version":1,"effective_from":"2021-01-01","title":"t","position":1,'
        '"criteria":[{"criterion_id":"duty-report","kind":"annual_duty_report","params":{}}]}'
    )
    (bare,) = from_json_text(StandardVersion, stored).criteria
    assert (None, None) == (bare.title, bare.description)
    assert BUILT_IN_TEXTS["duty-report"] == texts_of(bare)
