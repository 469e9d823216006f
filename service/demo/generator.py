"""The demo data set (DESIGN §2): 慈溪市's 19 towns, 100 communities and their records from 2021-01-01 to a
last day (today, when it is loaded). The story is told in docs/demo.md.

`generate_demo(seed, until=…)` is pure: the same seed and last day always give the same commands, in the
same order, under the same idempotency keys, and a later last day only appends the days between.
`load_demo` (loader.py) checks each by the rules a clerk's command is checked by, and imports them. The
names it draws from are in names.py.

Nothing about the figures is stored. The activity is shaped so that the projections compute what the
source article reports (seed/cixi-integrity-community-article.txt): as of 2022-06-08 the city's
standardization coverage is 93 of 100 communities, and every community disclosed its residents' affairs and
its finances in every quarter of 2021. The seven communities that fall short each miss a different criterion
of the default standard, for a reason a civil-affairs bureau would recognise (`FAILURES`). After the
article's eighteen months every community keeps to the standard's routine, and five troubles go round
(`TROUBLES`): on any day, one community falls short for each (`Demo.failing_on`).

What is real and what is not. The towns and subdistricts are 慈溪市's own; three communities are named in the
article (古塘街道舒苑社区, the 宁波市级 demonstration point; 浒山街道虞波社区; 白沙路街道白果树社区), as are
the number of demonstration points and of leading talents. Everything else — the other 97 communities, every
date, every disclosure, meeting and training — is invented. Each event's metadata says which:
`{"actor": "demo", "synthetic": false, "source": …}` for a fact taken from a public source, and
`{"actor": "demo", "synthetic": true}` for an invented one (so even the disclosures of the real communities
are marked synthetic: the article does not list them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from events.codec import JSON
from events.disclosure import Channel, DisclosureCategory, DisclosureCorrected, DisclosurePublished
from events.hierarchy import (
    CommunityKind,
    CommunityRegistered,
    CommunityTransferred,
    TownKind,
    TownRegistered,
)
from events.recognition import DemonstrationPointDesignated, DutyReportFiled, LeadingTalentRecognized, Level
from events.registry import Event
from events.rules import RuleDocument, RuleRevised
from events.sealing import Opening, Sealed, seal
from events.supervision import (
    Finding,
    FindingRectified,
    MeetingHeld,
    MeetingKind,
    ReportClosed,
    ReportReceived,
    SpotCheckRecorded,
)
from events.training import FIVE_ONES, TrainingHeld, TrainingKind
from projections.criteria import add_years
from projections.periods import Period
from service.demo.names import (
    ARTICLE,
    CITY_ID,
    COMMUNITY_NAMES,
    CONSULTATION_TOPICS,
    COUNCIL_TOPICS,
    FINDINGS,
    MAJOR_MATTERS,
    PREFECTURE_POINT,
    REAL,
    REPORTS,
    REPRESENTATIVE_TOPICS,
    RULE_NAMES,
    TOWN_ROWS,
    TOWNS,
    TRAINING_HOURS,
    TRAINING_TITLES,
    TRANSFERS,
    VILLAGE_NAMES,
)

DEFAULT_SEED = 20220608
# The programme's records start with the standard.
FIRST_DAY = date(2021, 1, 1)
# The article's eighteen months end here; the records after it are the city's ongoing routine, up to the
# day the demo is generated for (`until`, today when it is loaded).
ARTICLE_END = date(2022, 6, 30)
# The day of the article's figures.
AS_OF = date(2022, 6, 8)
# The first day of the ongoing records.
ONGOING = ARTICLE_END + timedelta(days=1)


# -- the shape of the demo ----------------------------------------------------------------------------------


class DemoCommand(NamedTuple):
    """One command of the demo, as `Commands.record` takes it."""

    event: Event
    idempotency_key: str
    metadata: Mapping[str, JSON]
    # What opens each of the event's sealed fields (see events/sealing.py).
    openings: tuple[Opening, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a community is not standardized: the criterion it misses, and the reason, as of the day it
    begins (one of the seven of 2022-06-08, or a trouble after the article)."""

    criterion_id: str
    reason: str


FINANCE_UNPUBLISHED = Failure(
    "finance-quarterly", "财务公开: the finance disclosure for 2022-Q1 was never published"
)
CASE_ANALYSIS_LAPSED = Failure(
    "five-ones",
    "典型案例剖析: the last case-analysis session was in spring 2021; this year's came only after 8 June",
)
CHARTER_EXPIRED = Failure(
    "autonomy-charter-current", "自治章程: the autonomy charter was adopted in 2016 and has not been revised"
)
FINDING_OPEN = Failure(
    "findings-rectified",
    "回头看: a finding of an April 2022 spot check was still open on 8 June (rectified later in June)",
)
MEETING_MISSED = Failure(
    "representatives-quarterly",
    "居民代表会议: no representatives meeting in 2022-Q1; the meeting was postponed to April",
)
DUTY_REPORT_MISSING = Failure("duty-report", "述职述廉: no duty report was filed for 2021")
CONVENTION_MISSING = Failure(
    "residents-convention-current",
    "居民公约: a newly formed community is still drafting its first residents' convention",
)
# The never-adopted convention comes first: only an urban community (社区) can have that one.
FAILURES = (
    CONVENTION_MISSING,
    FINANCE_UNPUBLISHED,
    CASE_ANALYSIS_LAPSED,
    CHARTER_EXPIRED,
    FINDING_OPEN,
    MEETING_MISSED,
    DUTY_REPORT_MISSING,
)


@dataclass(frozen=True, slots=True)
class Episode:
    """A community falling short of one criterion from `start` until `stop` (the first day it meets it
    again; None when that is after the demo's last day). The seven of the article's day start on AS_OF."""

    community_id: str
    failure: Failure
    start: date
    stop: date | None

    def on(self, day: date) -> bool:
        return self.start <= day and (self.stop is None or day < self.stop)


# After the article, a handful of communities fall short at any one time, one for each of these criteria:
# each trouble passes from one community to the next on the day the last one is over (TROUBLE_POOL
# communities take their turn at each).
TROUBLES = (
    "finance-quarterly",
    "representatives-quarterly",
    "findings-rectified",
    "duty-report",
    "five-ones",
)
TROUBLE_POOL = 8
TROUBLES_AHEAD = timedelta(days=400)
# The day the article's unpublished 2022-Q1 finance disclosure is published, late: when the next community's
# missing one falls due.
FINANCE_CAUGHT_UP = Period.quarter(2022, 2).end + timedelta(days=16)


@dataclass(frozen=True, slots=True)
class DemoTown:
    town_id: str
    name: str  # 古塘街道
    name_en: str  # Gutang Subdistrict
    kind: TownKind


@dataclass(frozen=True, slots=True)
class DemoCommunity:
    community_id: str
    town_id: str  # the town it was registered in
    name: str  # 舒苑社区: the town's name comes before it in full, 古塘街道舒苑社区
    name_en: str
    kind: CommunityKind
    synthetic: bool


@dataclass(frozen=True, slots=True)
class Transfer:
    community_id: str
    from_town_id: str
    to_town_id: str
    effective_on: date


@dataclass(frozen=True, slots=True)
class Demo:
    """The demo for one seed and last day: its commands in recording order, and what it was built to show."""

    seed: int
    until: date
    commands: tuple[DemoCommand, ...]
    towns: tuple[DemoTown, ...]
    communities: tuple[DemoCommunity, ...]
    # The seven communities that are not standardized on AS_OF, and why.
    failing: Mapping[str, Failure]
    transfer: Transfer
    # Community ids by designation level: one prefecture-level point, five city-level ones.
    demonstration_points: Mapping[Level, tuple[str, ...]]
    # Who falls short of what, and when, from AS_OF on.
    episodes: tuple[Episode, ...]

    def failing_on(self, day: date) -> dict[str, Failure]:
        """The communities not standardized on `day` (from AS_OF to `until`), and why."""
        if not AS_OF <= day <= self.until:
            raise ValueError(f"the demo tells who falls short from {AS_OF} to {self.until}, not on {day}")
        return {e.community_id: e.failure for e in self.episodes if e.on(day)}


# -- generation ----------------------------------------------------------------------------------------------


def generate_demo(seed: int = DEFAULT_SEED, *, until: date) -> Demo:
    """The demo for `seed`, its records up to `until`: pure and deterministic.

    The records up to a day are the same whatever the last day, in the same order under the same keys: a
    demo generated to a later day is the earlier one with the days between appended.
    """
    if until < ARTICLE_END:
        raise ValueError(f"the demo runs at least to {ARTICLE_END}, the end of the article's records")
    rng = random.Random(seed)  # noqa: S311 - demo data, not cryptography
    towns = tuple(
        DemoTown(
            town_id,
            f"{name}{'街道' if kind is TownKind.SUBDISTRICT else '镇'}",
            f"{town_id.capitalize()} {'Subdistrict' if kind is TownKind.SUBDISTRICT else 'Town'}",
            kind,
        )
        for town_id, name, kind, _, _ in TOWNS
    )
    communities = _communities(rng)
    plans = _plans(rng, communities)
    # A trouble changes records from up to three months before it begins (a first-quarter meeting not
    # held): the troubles are laid out well past the last day, so the records up to it are the same as
    # in a demo run to any later day.
    troubles, episodes = _troubles(seed, plans, until + TROUBLES_AHEAD)
    log = _Log()
    for town in towns:
        log.add(
            FIRST_DAY,
            TownRegistered(
                town_id=town.town_id,
                city_id=CITY_ID,
                name=town.name,
                kind=town.kind,
                registered_on=FIRST_DAY,
                name_en=town.name_en,
            ),
            synthetic=False,
            source="慈溪市行政区划 (5 街道, 14 镇)",
        )
    for plan in plans:
        community = plan.community
        log.add(
            FIRST_DAY,
            CommunityRegistered(
                community_id=community.community_id,
                town_id=community.town_id,
                name=community.name,
                kind=community.kind,
                registered_on=FIRST_DAY,
                name_en=community.name_en,
            ),
            synthetic=community.synthetic,
            source=None if community.synthetic else ARTICLE,
        )
    for plan in plans:
        activity = _Activity(plan, seed, log)
        activity.generate()
        activity.ongoing(until, troubles.get(plan.community.community_id, _Troubles()))
        if plan.failure is not None:
            episodes.append(Episode(plan.community.community_id, plan.failure, AS_OF, activity.recovered))
    # A key numbers a command in recording order: a later last day only appends, so keys stay put.
    commands = tuple(
        DemoCommand(event, f"demo-{seed}-{n:05d}", metadata, openings)
        for n, (event, metadata, openings) in enumerate(log.ordered(until))
    )
    transfer = next(p.transfer for p in plans if p.transfer is not None)
    points: dict[Level, tuple[str, ...]] = {}
    for plan in plans:
        if plan.designation is not None:
            points[plan.designation] = (*points.get(plan.designation, ()), plan.community.community_id)
    return Demo(
        seed=seed,
        until=until,
        commands=commands,
        towns=towns,
        communities=communities,
        failing={p.community.community_id: p.failure for p in plans if p.failure is not None},
        transfer=transfer,
        demonstration_points=points,
        episodes=tuple(
            sorted(
                (
                    dataclasses.replace(e, stop=None if e.stop is None or e.stop > until else e.stop)
                    for e in episodes
                    if e.start <= until
                ),
                key=lambda e: (e.start, e.community_id),
            )
        ),
    )


def _communities(rng: random.Random) -> tuple[DemoCommunity, ...]:
    community_names = list(COMMUNITY_NAMES)
    village_names = list(VILLAGE_NAMES)
    rng.shuffle(community_names)
    rng.shuffle(village_names)
    result: list[DemoCommunity] = []
    for town_id, _, _, urban, villages in TOWNS:
        real = [(cid, name) for cid, name, town in REAL if town == town_id]
        for index in range(urban):
            if index < len(real):
                cid, name = real[index]
                synthetic = False
            else:
                name, cid = community_names.pop()
                synthetic = True
            result.append(
                DemoCommunity(
                    cid,
                    town_id,
                    f"{name}社区",
                    f"{cid.capitalize()} Community",
                    CommunityKind.COMMUNITY,
                    synthetic,
                )
            )
        for _ in range(villages):
            name, cid = village_names.pop()
            result.append(
                DemoCommunity(
                    cid, town_id, f"{name}村", f"{cid.capitalize()} Village", CommunityKind.VILLAGE, True
                )
            )
    return tuple(result)


@dataclass(frozen=True, slots=True)
class _Plan:
    community: DemoCommunity
    failure: Failure | None = None
    designation: Level | None = None
    talent: Level | None = None
    transfer: Transfer | None = None
    correction: bool = False


def _plans(rng: random.Random, communities: tuple[DemoCommunity, ...]) -> list[_Plan]:
    """Who is transferred, designated, recognised and failing: drawn by the seed, all distinct."""
    by_id = {c.community_id: c for c in communities}
    synthetic = [c for c in communities if c.synthetic]
    taken: set[str] = set()

    from_town, to_town = rng.choice(TRANSFERS)
    moved = rng.choice([c for c in synthetic if c.town_id == from_town and c.kind is CommunityKind.VILLAGE])
    transfer = Transfer(moved.community_id, from_town, to_town, date(2021, rng.choice((7, 8, 9, 10)), 1))
    taken.add(moved.community_id)

    # Five city-level demonstration points: urban communities in five different towns.
    city_points = _spread(rng, [c for c in synthetic if c.kind is CommunityKind.COMMUNITY], 5, taken)
    taken.update(city_points)

    failing: dict[str, Failure] = {}
    for failure in FAILURES:
        pool = [c for c in synthetic if c.community_id not in taken]
        if failure is CONVENTION_MISSING:
            pool = [c for c in pool if c.kind is CommunityKind.COMMUNITY]
        # Spread over towns: a town already failing once is passed over while others remain.
        failing_towns = {by_id[cid].town_id for cid in failing}
        pool = [c for c in pool if c.town_id not in failing_towns] or pool
        chosen = rng.choice(pool).community_id
        failing[chosen] = failure
        taken.add(chosen)

    # Leading talents: 2 provincial, 6 prefecture-level, in communities that are standardized.
    eligible = sorted(c.community_id for c in communities if c.community_id not in failing)
    talented = rng.sample(eligible, 8)
    talents = {cid: Level.PROVINCIAL if n < 2 else Level.PREFECTURE for n, cid in enumerate(talented)}

    corrected = set(
        rng.sample(sorted(c.community_id for c in communities if c.community_id not in failing), 2)
    )

    plans: list[_Plan] = []
    for community in communities:
        cid = community.community_id
        designation = (
            Level.PREFECTURE if cid == PREFECTURE_POINT else Level.CITY if cid in city_points else None
        )
        plans.append(
            _Plan(
                community,
                failure=failing.get(cid),
                designation=designation,
                talent=talents.get(cid),
                transfer=transfer if cid == transfer.community_id else None,
                correction=cid in corrected,
            )
        )
    return plans


def _spread(rng: random.Random, pool: list[DemoCommunity], count: int, taken: set[str]) -> list[str]:
    """`count` community ids from `pool`, not taken, each from a different town."""
    candidates = [c for c in pool if c.community_id not in taken]
    rng.shuffle(candidates)
    chosen: list[str] = []
    towns: set[str] = set()
    for candidate in candidates:
        if candidate.town_id not in towns:
            chosen.append(candidate.community_id)
            towns.add(candidate.town_id)
        if len(chosen) == count:
            break
    return chosen


@dataclass(slots=True)
class _Troubles:
    """Where one community departs from the routine after the article, to fall short for a while."""

    # Quarters whose finance disclosure misses its due date, and the day each is published late.
    late_finance: dict[str, date] = field(default_factory=dict)
    # Years without a representatives meeting in the first quarter (it is held in early April).
    no_spring_meeting: set[int] = field(default_factory=set)
    # Spot checks with a finding rectified only months later: the day of the check, of the rectification.
    stalled_findings: list[tuple[date, date]] = field(default_factory=list)
    # Years whose duty report is never filed.
    unfiled: set[int] = field(default_factory=set)
    # Trainings of a kind held on a day, then not again until a day more than a year later.
    lapses: dict[TrainingKind, list[tuple[date, date]]] = field(default_factory=dict)


def _troubles(seed: int, plans: list[_Plan], horizon: date) -> tuple[dict[str, _Troubles], list[Episode]]:
    """The troubles after the article that begin by `horizon`: which communities take their turn, and when.

    Each kind passes from one community to the next: the day one meets the criterion again is the day the
    next falls short of it, so on any day one community falls short for each (once the kind has begun).
    """
    rng = random.Random(f"{seed}/troubles")  # noqa: S311 - demo data, not cryptography
    quiet = sorted(
        p.community.community_id
        for p in plans
        if p.community.synthetic and p.failure is None and p.designation is None and p.transfer is None
    )
    rng.shuffle(quiet)
    pools = {kind: quiet[n * TROUBLE_POOL : (n + 1) * TROUBLE_POOL] for n, kind in enumerate(TROUBLES)}
    troubles: dict[str, _Troubles] = {}
    episodes: list[Episode] = []

    def turn(kind: str, index: int, reason: str, start: date, stop: date) -> _Troubles:
        community_id = pools[kind][index % TROUBLE_POOL]
        episodes.append(Episode(community_id, Failure(kind, reason), start, stop))
        return troubles.setdefault(community_id, _Troubles())

    # 财务公开: a quarter's finance disclosure missed, published when the next community misses its own.
    quarter, index = Period.quarter(2022, 2), 0
    while (due := quarter.end + timedelta(days=15)) < horizon:
        following = quarter.next().end + timedelta(days=16)
        reason = f"财务公开: the finance disclosure for {quarter} was not published by its due date, {due}"
        turn(TROUBLES[0], index, reason, due + timedelta(days=1), following).late_finance[str(quarter)] = (
            following
        )
        quarter, index = quarter.next(), index + 1

    # 居民代表会议: one community a year holds its first-quarter meeting only in April.
    year = 2023
    while (start := date(year, 3, 31)) <= horizon:
        reason = f"居民代表会议: no representatives meeting in {year}-Q1; it was postponed to April"
        turn(TROUBLES[1], year - 2023, reason, start, date(year + 1, 3, 31)).no_spring_meeting.add(year)
        year += 1

    # 回头看: a finding left open for months, a quarter at a time.
    def check_day(quarter: Period) -> date:
        return _working_day(quarter.start + timedelta(days=9))

    quarter, index = Period.quarter(2022, 3), 0
    while (checked := check_day(quarter)) <= horizon:
        rectified = check_day(quarter.next()) + timedelta(days=31)
        reason = (
            f"回头看: a finding of the spot check of {checked} is open after 30 days, awaiting repair funds"
        )
        turn(TROUBLES[2], index, reason, checked + timedelta(days=31), rectified).stalled_findings.append(
            (checked, rectified)
        )
        quarter, index = quarter.next(), index + 1

    # 述职述廉: a secretary replaced mid-year, and that year's duty report never filed.
    year = 2023
    while (start := date(year, 4, 1)) <= horizon:
        reason = f"述职述廉: the secretary changed in {year - 1} and no duty report for {year - 1} was filed"
        turn(TROUBLES[3], year - 2023, reason, start, date(year + 1, 4, 1)).unfiled.add(year - 1)
        year += 1

    # 五个一: one of the five trainings not held again within the year, twice a year a community.
    def lapse_day(index: int) -> date:
        return date(2023 + (index + 1) // 2, 7 if index % 2 == 0 else 1, 10)

    index = 0
    while (last := lapse_day(index) - timedelta(days=365)) <= horizon:
        kind = FIVE_ONES[index % len(FIVE_ONES)]
        again = lapse_day(index + 1)
        reason = f"五个一: the {kind.value} training was last held on {last}, and not again within the year"
        turn(TROUBLES[4], index, reason, lapse_day(index), again).lapses.setdefault(kind, []).append(
            (last, again)
        )
        index += 1
    return troubles, episodes


def _working_day(day: date) -> date:
    """`day`, or the Monday after it when it falls on a weekend."""
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


class _Log:
    """Commands, each with the day a clerk would have recorded it; ordered by day, ties as added."""

    def __init__(self) -> None:
        self._entries: list[tuple[date, int, Event, Mapping[str, JSON], tuple[Opening, ...]]] = []

    def add(
        self,
        recorded_on: date,
        event: Event,
        *,
        synthetic: bool = True,
        source: str | None = None,
        openings: tuple[Opening, ...] = (),
    ) -> None:
        metadata: dict[str, JSON] = {"actor": "demo", "synthetic": synthetic}
        if source is not None:
            metadata["source"] = source
        self._entries.append((recorded_on, len(self._entries), event, metadata, openings))

    def ordered(self, until: date) -> list[tuple[Event, Mapping[str, JSON], tuple[Opening, ...]]]:
        """The commands recorded by `until`, in order."""
        entries = sorted((e for e in self._entries if e[0] <= until), key=lambda e: e[:2])
        return [(e[2], e[3], e[4]) for e in entries]


def _sealed(field: str, text: str, *identity: object) -> tuple[Sealed, Opening]:
    """Demo text sealed with a salt derived from what identifies it, so loading the demo twice writes the
    same events. A real command's salt is random: a derived one could be found, and the text with it."""
    salt = hashlib.sha256("/".join(("qinglian-demo-salt", *map(str, identity), field)).encode()).digest()
    return seal(field, text, salt)


def _day(rng: random.Random, first: date, last: date) -> date:
    """A working day (Monday to Friday) from `first` to `last`, which must hold one."""
    day = first + timedelta(days=rng.randint(0, (last - first).days))
    if day.weekday() >= 5:
        monday = day + timedelta(days=7 - day.weekday())
        day = monday if monday <= last else day - timedelta(days=day.weekday() - 4)
    return day


def _digest(*parts: object) -> str:
    """The SHA-256 of an (invented) document: derived from what identifies it, so stable across runs."""
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


_QUARTERS = ((2021, 1), (2021, 2), (2021, 3), (2021, 4), (2022, 1))
# Backfilled records (documents adopted before the programme began) are entered in its first weeks.
_BACKFILL = (date(2021, 1, 4), date(2021, 1, 29))


class _Activity:
    """One community's records, each on its own day, in an order the commands accept."""

    def __init__(self, plan: _Plan, seed: int, log: _Log) -> None:
        self.plan = plan
        self.community = plan.community
        self.cid = plan.community.community_id
        self.rng = random.Random(f"{seed}/{self.cid}")  # noqa: S311 - demo data, not cryptography
        self.seed = seed
        self.log = log
        self.village = plan.community.kind is CommunityKind.VILLAGE
        self.body = "村民代表会议" if self.village else "居民代表会议"
        # What the routine after the article continues from: each document's latest (version, adoption
        # day), each of the five trainings' last day.
        self.adopted: dict[RuleDocument, tuple[int, date]] = {}
        self.last_held: dict[TrainingKind, date] = {}
        # The day the article's failing community meets its criterion again (None: after the last day).
        self.recovered: date | None = None

    def add(self, recorded_on: date, event: Event, *, openings: tuple[Opening, ...] = ()) -> None:
        self.log.add(recorded_on, event, openings=openings)

    def generate(self) -> None:
        self.rules()
        self.disclosures()
        self.trainings()
        self.meetings()
        self.spot_checks()
        self.reports()
        self.duty_reports()
        self.recognition()
        if self.plan.transfer is not None:
            t = self.plan.transfer
            self.add(
                t.effective_on,
                CommunityTransferred(
                    community_id=self.cid,
                    from_town_id=t.from_town_id,
                    to_town_id=t.to_town_id,
                    effective_on=t.effective_on,
                ),
            )

    # 社区公约/村规民约, 自治章程, 小微权力清单, 减负清单, 证明事项清单
    def rules(self) -> None:
        rng, failure = self.rng, self.plan.failure
        main = RuleDocument.VILLAGE_RULES if self.village else RuleDocument.RESIDENTS_CONVENTION
        if failure is not CONVENTION_MISSING:
            self.rule(main, 1, _day(rng, date(2018, 3, 1), date(2020, 11, 30)))
            if rng.random() < 0.35:  # the 2021 campaign to revise conventions (修订完善)
                self.rule(main, 2, _day(rng, date(2021, 3, 1), date(2021, 11, 30)))
        if failure is CHARTER_EXPIRED:
            self.rule(RuleDocument.AUTONOMY_CHARTER, 1, _day(rng, date(2016, 3, 1), date(2016, 12, 20)))
        else:
            self.rule(RuleDocument.AUTONOMY_CHARTER, 1, _day(rng, date(2017, 9, 1), date(2020, 10, 30)))
            if rng.random() < 0.2:
                self.rule(RuleDocument.AUTONOMY_CHARTER, 2, _day(rng, date(2021, 4, 1), date(2021, 12, 20)))
        self.rule(RuleDocument.MICRO_POWER_LIST, 1, _day(rng, date(2019, 3, 1), date(2020, 12, 18)))
        if rng.random() < 0.3:
            self.rule(RuleDocument.MICRO_POWER_LIST, 2, _day(rng, date(2021, 3, 1), date(2022, 5, 31)))
        if rng.random() < 0.85:
            self.rule(RuleDocument.BURDEN_REDUCTION_LIST, 1, _day(rng, date(2021, 4, 1), date(2021, 9, 30)))
        if rng.random() < 0.6:
            self.rule(RuleDocument.CERTIFICATE_LIST, 1, _day(rng, date(2021, 3, 1), date(2021, 10, 29)))

    def rule(self, document: RuleDocument, version: int, adopted_on: date) -> None:
        recorded_on = adopted_on if adopted_on >= FIRST_DAY else _day(self.rng, *_BACKFILL)
        self.adopted[document] = max(self.adopted.get(document, (0, adopted_on)), (version, adopted_on))
        self.add(
            recorded_on,
            RuleRevised(
                community_id=self.cid,
                document=document,
                version=version,
                adopted_on=adopted_on,
                adopted_by=self.body,
                digest=_digest(self.seed, self.cid, document.value, version),
                summary=f"{self.community.name}{RULE_NAMES[document]}(第{version}版),经{self.body}表决通过",
            ),
        )

    # 居务公开, 财务公开, 党务公开 every quarter; 建设计划 every year; 三重一大 as decided
    def disclosures(self) -> None:
        rng = self.rng
        for year, quarter in _QUARTERS:
            period = Period.quarter(year, quarter)
            for category in (
                DisclosureCategory.RESIDENTS_AFFAIRS,
                DisclosureCategory.FINANCE,
                DisclosureCategory.PARTY_AFFAIRS,
            ):
                if (
                    category is DisclosureCategory.FINANCE
                    and self.plan.failure is FINANCE_UNPUBLISHED
                    and (year, quarter) == (2022, 1)
                ):
                    continue
                published = _day(rng, period.end + timedelta(days=1), period.end + timedelta(days=12))
                channel = Channel.ONLINE if rng.random() < 0.3 else Channel.NOTICE_BOARD
                self.disclose(category, str(period), published, channel)
                if (
                    self.plan.correction
                    and category is DisclosureCategory.FINANCE
                    and (year, quarter) == (2021, 3)
                ):
                    self.correct(f"{self.cid}-finance-{period}", published)
        for year in (2021, 2022):
            published = _day(rng, date(year, 1, 11), date(year, 2, 26))
            self.disclose(DisclosureCategory.ANNUAL_PLAN, str(year), published, Channel.NOTICE_BOARD)
        for n in range(rng.choice((0, 1, 1, 2, 3))):
            decided = _day(rng, date(2021, 3, 1), date(2022, 6, 20))
            published = min(decided + timedelta(days=rng.randint(1, 7)), ARTICLE_END)
            self.disclose(
                DisclosureCategory.MAJOR_MATTER,
                f"{decided.year}-{decided.month:02d}",
                published,
                rng.choice(tuple(Channel)),
                suffix=f"-{n + 1}",
                subject=rng.choice(MAJOR_MATTERS),
            )

    def disclose(
        self,
        category: DisclosureCategory,
        period: str,
        published: date,
        channel: Channel,
        *,
        suffix: str = "",
        subject: str = "",
    ) -> None:
        disclosure_id = f"{self.cid}-{category.value}-{period}{suffix}"
        self.add(
            published,
            DisclosurePublished(
                community_id=self.cid,
                disclosure_id=disclosure_id,
                category=category,
                period=period,
                channel=channel,
                published_on=published,
                title=_disclosure_title(self.community.name, category, period, subject),
                digest=_digest(self.seed, disclosure_id),
            ),
        )

    def correct(self, disclosure_id: str, published: date) -> None:
        corrected = _day(self.rng, published + timedelta(days=3), published + timedelta(days=10))
        self.add(
            corrected,
            DisclosureCorrected(
                community_id=self.cid,
                corrects=disclosure_id,
                corrected_on=corrected,
                title=f"{self.community.name}2021年第3季度财务收支公开(更正)",
                digest=_digest(self.seed, disclosure_id, "corrected"),
                reason="一笔公共设施维修支出的金额录入有误,更正后重新公示",
            ),
        )

    # 五个一, in 2021 and again in 2022, plus other integrity activities
    def trainings(self) -> None:
        rng, failure = self.rng, self.plan.failure
        for kind in FIVE_ONES:
            lapsed = failure is CASE_ANALYSIS_LAPSED and kind is TrainingKind.CASE_ANALYSIS
            if lapsed:
                # Held in the spring of 2021, then not again until after the day of the figures.
                held_2021 = _day(rng, date(2021, 3, 15), date(2021, 5, 28))
                held_2022: date | None = _day(rng, date(2022, 6, 13), date(2022, 6, 29))
                self.recovered = held_2022
            else:
                held_2021 = _day(rng, date(2021, 3, 1), date(2021, 12, 20))
                lapses = held_2021 + timedelta(days=364)  # the last day it still counts
                if lapses <= ARTICLE_END:
                    # Held again within the year, so the community never falls out of the standard.
                    held_2022 = _day(rng, date(2022, 2, 14), lapses)
                elif rng.random() < 0.55:
                    held_2022 = _day(rng, date(2022, 2, 14), ARTICLE_END)
                else:
                    held_2022 = None
            self.training(kind, held_2021, f"{self.cid}-{kind.value}-2021")
            if held_2022 is not None:
                self.training(kind, held_2022, f"{self.cid}-{kind.value}-2022")
        for n, (title, held) in enumerate(self.other_activities()):
            self.training(TrainingKind.OTHER, held, f"{self.cid}-other-{n + 1}", title=title)

    def other_activities(self) -> list[tuple[str, date]]:
        rng = self.rng
        if self.cid == "baiguoshu":  # the article's examples, on invented days
            return [
                ("“写春联·过廉节”清廉文化活动", date(2021, 2, 5)),
                ("“制香囊·聚廉心”清廉文化活动", date(2021, 6, 11)),
                ("“唱红歌·扬清风”清廉文化活动", date(2021, 6, 29)),
                ("“写春联·过廉节”清廉文化活动", date(2022, 1, 28)),
            ]
        activities: list[tuple[str, date]] = []
        if self.community.town_id == "hushan" and not self.village:
            activities.append(
                ("年轻社工特训营(廉洁教育专题)", _day(rng, date(2021, 7, 5), date(2021, 8, 27)))
            )
        if rng.random() < 0.4:
            activities.append(("清廉文化进社区活动", _day(rng, date(2021, 4, 1), date(2022, 6, 24))))
        return activities

    def training(
        self,
        kind: TrainingKind,
        held: date,
        training_id: str,
        *,
        title: str = "",
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or self.rng
        if kind in FIVE_ONES:
            self.last_held[kind] = max(self.last_held.get(kind, held), held)
        self.add(
            held,
            TrainingHeld(
                community_id=self.cid,
                training_id=training_id,
                kind=kind,
                held_on=held,
                title=title or TRAINING_TITLES[kind].format(year=held.year),
                attendees=rng.randint(15, 60),
                hours=rng.choice(TRAINING_HOURS[kind]),
            ),
        )

    # 居民代表会议 every quarter; 民主恳谈会 and 居民议事会 now and then
    def meetings(self) -> None:
        rng = self.rng
        for year, quarter in (*_QUARTERS, (2022, 2)):
            if self.plan.failure is MEETING_MISSED and (year, quarter) == (2022, 1):
                continue  # postponed: the next one is early in April
            period = Period.quarter(year, quarter)
            first, last = period.start + timedelta(days=5), period.end - timedelta(days=5)
            if self.plan.failure is MEETING_MISSED and (year, quarter) == (2022, 2):
                last = date(2022, 4, 22)
            topics = tuple(rng.sample(REPRESENTATIVE_TOPICS, rng.randint(1, 3)))
            self.meeting(MeetingKind.REPRESENTATIVES, f"{year}-Q{quarter}", _day(rng, first, last), topics)
        consultations = [
            (_day(rng, date(2021, 3, 1), date(2022, 6, 24)), (rng.choice(CONSULTATION_TOPICS),))
            for _ in range(rng.randint(1, 2))
        ]
        if self.plan.failure is CONVENTION_MISSING:
            consultations.append(
                (_day(rng, date(2022, 5, 9), date(2022, 5, 27)), ("《社区公约》(草案)征求意见",))
            )
        for n, (held, topics) in enumerate(sorted(consultations)):
            self.meeting(MeetingKind.CONSULTATION, str(n + 1), held, topics)
        councils = rng.randint(0, 1 if self.village else 3)
        for n, held in enumerate(
            sorted(_day(rng, date(2021, 3, 1), date(2022, 6, 24)) for _ in range(councils))
        ):
            self.meeting(MeetingKind.COUNCIL, str(n + 1), held, (rng.choice(COUNCIL_TOPICS),))

    def meeting(
        self,
        kind: MeetingKind,
        label: str,
        held: date,
        topics: tuple[str, ...],
        *,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or self.rng
        low, high = (20, 55) if kind is MeetingKind.REPRESENTATIVES else (12, 40)
        self.add(
            held,
            MeetingHeld(
                community_id=self.cid,
                meeting_id=f"{self.cid}-{kind.value}-{label}",
                kind=kind,
                held_on=held,
                attendees=rng.randint(low, high),
                topics=topics,
            ),
        )

    # 回头看: spot checks, their findings rectified within the month (all but one community's)
    def spot_checks(self) -> None:
        rng = self.rng
        checks = [_day(rng, date(2021, 4, 1), date(2021, 11, 30))]
        if self.plan.failure is FINDING_OPEN:
            checks.append(_day(rng, date(2022, 4, 11), date(2022, 4, 29)))
        elif rng.random() < 0.5:
            checks.append(_day(rng, date(2022, 1, 10), date(2022, 5, 13)))
        for n, checked in enumerate(checks):
            check_id = f"{self.cid}-check-{n + 1}"
            open_one = self.plan.failure is FINDING_OPEN and n == len(checks) - 1
            count = 1 if open_one else rng.choice((0, 0, 1, 1, 2))
            summaries = rng.sample(FINDINGS, count)
            findings = tuple(
                Finding(finding_id=f"{check_id}-{k + 1}", summary=s) for k, s in enumerate(summaries)
            )
            checked_by = rng.choice(("慈溪市民政局", self.discipline_office()))
            self.add(
                checked,
                SpotCheckRecorded(
                    community_id=self.cid,
                    check_id=check_id,
                    checked_on=checked,
                    checked_by=checked_by,
                    findings=findings,
                ),
            )
            for finding in findings:
                if open_one:
                    rectified = _day(rng, date(2022, 6, 13), date(2022, 6, 28))
                    self.recovered = rectified
                else:
                    rectified = _day(rng, checked + timedelta(days=5), checked + timedelta(days=25))
                note, opening = _sealed(
                    "note", "已整改到位,整改情况已在公开栏公示", self.cid, finding.finding_id
                )
                self.add(
                    rectified,
                    FindingRectified(
                        community_id=self.cid,
                        finding_id=finding.finding_id,
                        rectified_on=rectified,
                        note=note,
                    ),
                    openings=(opening,),
                )

    def discipline_office(self) -> str:
        _, name, kind, _, _ = TOWN_ROWS[self.community.town_id]
        return f"{name}街道纪工委" if kind is TownKind.SUBDISTRICT else f"{name}镇纪委"

    # 监督举报
    def reports(self) -> None:
        rng = self.rng
        if rng.random() >= 0.15:
            return
        summary, outcome = rng.choice(REPORTS)
        received = _day(rng, date(2021, 3, 1), date(2022, 6, 24))
        self.report(rng, "1", received, summary, outcome)

    def report(self, rng: random.Random, label: str, received: date, summary: str, outcome: str) -> None:
        """A report received, and closed within the month."""
        report_id = f"{self.cid}-report-{label}"
        sealed_summary, summary_opening = _sealed("summary", summary, self.cid, report_id)
        self.add(
            received,
            ReportReceived(
                community_id=self.cid,
                report_id=report_id,
                received_on=received,
                channel=rng.choice(("监督举报电话", "“慈溪民政”公众号", "来信")),
                summary=sealed_summary,
                reporter_ref=None if rng.random() < 0.5 else f"ref:demo-reporter-{self.cid}-{label}",
            ),
            openings=(summary_opening,),
        )
        closed = received + timedelta(days=rng.randint(7, 30))
        sealed_outcome, outcome_opening = _sealed("outcome", outcome, self.cid, report_id)
        self.add(
            closed,
            ReportClosed(
                community_id=self.cid, report_id=report_id, closed_on=closed, outcome=sealed_outcome
            ),
            openings=(outcome_opening,),
        )

    # 述职述廉: for 2020 (before the programme required it) and for 2021
    def duty_reports(self) -> None:
        role = "村党组织书记" if self.village else "社区党组织书记"
        for year in (2020, 2021):
            if year == 2021 and self.plan.failure is DUTY_REPORT_MISSING:
                continue
            filed = _day(self.rng, date(year + 1, 1, 11), date(year + 1, 3, 25))
            self.add(
                filed, DutyReportFiled(community_id=self.cid, year=year, filed_on=filed, reporter_role=role)
            )

    # 示范观察点 and 领军人才
    def recognition(self) -> None:
        rng = self.rng
        if self.plan.designation is Level.PREFECTURE:
            designated = _day(rng, date(2021, 6, 1), date(2021, 7, 30))
            self.log.add(
                designated,
                DemonstrationPointDesignated(
                    community_id=self.cid,
                    level=Level.PREFECTURE,
                    designated_on=designated,
                    title="宁波市级清廉社区示范观察点",
                ),
                synthetic=False,
                source=ARTICLE,
            )
        elif self.plan.designation is Level.CITY:
            designated = _day(rng, date(2021, 3, 15), date(2021, 4, 30))
            self.add(
                designated,
                DemonstrationPointDesignated(
                    community_id=self.cid,
                    level=Level.CITY,
                    designated_on=designated,
                    title="慈溪市级清廉社区示范观察点",
                ),
            )
        if self.plan.talent is not None:
            first, last = (
                (date(2021, 10, 11), date(2021, 11, 26))
                if self.plan.talent is Level.PROVINCIAL
                else (date(2021, 8, 2), date(2021, 9, 24))
            )
            recognized = _day(rng, first, last)
            self.add(
                recognized,
                LeadingTalentRecognized(
                    community_id=self.cid,
                    person_ref=f"ref:demo-person-{self.cid}",
                    level=self.plan.talent,
                    recognized_on=recognized,
                ),
            )

    # -- after the article: the routine the standard asks for, year after year, and the troubles ----------

    def ongoing(self, until: date, troubles: _Troubles) -> None:
        """The records from ONGOING to `until`.

        Each strand draws from its own generator, in date order, so the records up to a day are the same
        whatever the last day; so is every day drawn (a record dated after `until` is left out later).
        """
        self.ongoing_rules(until)
        self.ongoing_disclosures(until, troubles)
        self.ongoing_trainings(until, troubles)
        self.ongoing_meetings(until, troubles)
        self.ongoing_checks(until, troubles)
        self.ongoing_reports(until)
        self.ongoing_duty_reports(until, troubles)
        failure = self.plan.failure
        if failure is FINANCE_UNPUBLISHED:
            self.recovered = FINANCE_CAUGHT_UP
        elif failure is MEETING_MISSED:
            self.recovered = date(2023, 3, 31)  # 2022-Q1 is no longer among the last four quarters
        elif failure is DUTY_REPORT_MISSING:
            self.recovered = date(2023, 4, 1)  # the year judged is 2022 from then

    def strand(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}/{self.cid}/{name}")  # noqa: S311 - demo data, not cryptography

    # Every document the standard asks to be current is revised within five years of the last version.
    def ongoing_rules(self, until: date) -> None:
        main = RuleDocument.VILLAGE_RULES if self.village else RuleDocument.RESIDENTS_CONVENTION
        for document in (main, RuleDocument.AUTONOMY_CHARTER, RuleDocument.MICRO_POWER_LIST):
            rng = self.strand(f"rules/{document.value}")
            version, adopted = self.adopted.get(document, (0, ONGOING))
            late = (self.plan.failure is CONVENTION_MISSING and document is main) or (
                self.plan.failure is CHARTER_EXPIRED and document is RuleDocument.AUTONOMY_CHARTER
            )
            if late:
                # The convention drafted in May, the 2016 charter revised: adopted that summer.
                adopted = _day(rng, date(2022, 7, 11), date(2022, 9, 30))
                self.recovered = adopted
                version += 1
                self.rule(document, version, adopted)
            while True:
                due = add_years(adopted, 5)
                adopted = _day(rng, max(due - timedelta(days=300), ONGOING), due - timedelta(days=30))
                if adopted > until:
                    break
                version += 1
                self.rule(document, version, adopted)

    # 居务, 财务, 党务公开 each quarter within twelve days; 建设计划 each year; 三重一大 as decided
    def ongoing_disclosures(self, until: date, troubles: _Troubles) -> None:
        if self.plan.failure is FINANCE_UNPUBLISHED:
            self.disclose(DisclosureCategory.FINANCE, "2022-Q1", FINANCE_CAUGHT_UP, Channel.NOTICE_BOARD)
        rng = self.strand("disclosures")
        period = Period.quarter(2022, 2)
        while period.end < until:
            for category in (
                DisclosureCategory.RESIDENTS_AFFAIRS,
                DisclosureCategory.FINANCE,
                DisclosureCategory.PARTY_AFFAIRS,
            ):
                published = _day(rng, period.end + timedelta(days=1), period.end + timedelta(days=12))
                channel = Channel.ONLINE if rng.random() < 0.5 else Channel.NOTICE_BOARD
                if category is DisclosureCategory.FINANCE:
                    published = troubles.late_finance.get(str(period), published)
                self.disclose(category, str(period), published, channel)
            period = period.next()
        plans, matters = self.strand("plans"), self.strand("matters")
        for year in range(2023, until.year + 1):
            published = _day(plans, date(year, 1, 11), date(year, 2, 26))
            self.disclose(DisclosureCategory.ANNUAL_PLAN, str(year), published, Channel.NOTICE_BOARD)
        for year in range(2022, until.year + 1):
            for n in range(matters.choice((0, 1, 1, 2))):
                decided = _day(matters, max(date(year, 1, 4), ONGOING), date(year, 12, 18))
                self.disclose(
                    DisclosureCategory.MAJOR_MATTER,
                    f"{decided.year}-{decided.month:02d}",
                    decided + timedelta(days=matters.randint(1, 7)),
                    matters.choice(tuple(Channel)),
                    suffix=f"-{n + 1}",
                    subject=matters.choice(MAJOR_MATTERS),
                )

    # 五个一: each held again within the year (a trouble's lapse aside), and other activities now and then
    def ongoing_trainings(self, until: date, troubles: _Troubles) -> None:
        for kind in FIVE_ONES:
            rng = self.strand(f"trainings/{kind.value}")
            last = self.last_held[kind]
            lapses = list(troubles.lapses.get(kind, ()))
            while True:
                low = max(last + timedelta(days=280), ONGOING)
                held = _day(rng, low, max(last + timedelta(days=350), low))
                if lapses and lapses[0][0] <= held:
                    # Held on the day the lapse counts from, then not until the next community's begins.
                    before, again = lapses.pop(0)
                    self.training(kind, before, f"{self.cid}-{kind.value}-{before:%Y%m%d}", rng=rng)
                    held = again
                elif held > until:
                    break
                self.training(kind, held, f"{self.cid}-{kind.value}-{held:%Y%m%d}", rng=rng)
                last = held
        rng = self.strand("activities")
        for year in range(2022, until.year + 1):
            if rng.random() < 0.4:
                held = _day(rng, max(date(year, 3, 1), ONGOING), date(year, 12, 18))
                self.training(
                    TrainingKind.OTHER, held, f"{self.cid}-other-{year}", title="清廉文化进社区活动", rng=rng
                )

    # 居民代表会议 each quarter (one community's spring meeting postponed to April); 恳谈会, 议事会 at times
    def ongoing_meetings(self, until: date, troubles: _Troubles) -> None:
        rng = self.strand("representatives")
        period = Period.quarter(2022, 3)
        while period.start <= until:
            year, quarter = period.start.year, (period.start.month - 1) // 3 + 1
            first, last = period.start + timedelta(days=5), period.end - timedelta(days=5)
            if quarter == 2 and year in troubles.no_spring_meeting:
                last = date(year, 4, 22)
            held = _day(rng, first, last)
            topics = tuple(rng.sample(REPRESENTATIVE_TOPICS, rng.randint(1, 3)))
            if not (quarter == 1 and year in troubles.no_spring_meeting):
                self.meeting(MeetingKind.REPRESENTATIVES, f"{year}-Q{quarter}", held, topics, rng=rng)
            period = period.next()
        for kind, topics, most in (
            (MeetingKind.CONSULTATION, CONSULTATION_TOPICS, 2),
            (MeetingKind.COUNCIL, COUNCIL_TOPICS, 1 if self.village else 2),
        ):
            rng = self.strand(kind.value)
            for year in range(2022, until.year + 1):
                first = max(date(year, 3, 1), ONGOING)
                days = sorted(_day(rng, first, date(year, 12, 18)) for _ in range(rng.randint(0, most)))
                for n, held in enumerate(days):
                    self.meeting(kind, f"{year}-{n + 1}", held, (rng.choice(topics),), rng=rng)

    # 回头看: a spot check most years, its findings rectified within the month (a trouble's aside)
    def ongoing_checks(self, until: date, troubles: _Troubles) -> None:
        rng = self.strand("checks")
        for year in range(2022, until.year + 1):
            if rng.random() < (0.3 if year == 2022 else 0.6):
                checked = _day(rng, max(date(year, 4, 1), ONGOING), date(year, 11, 30))
                count = rng.choice((0, 0, 1, 1, 2))
                rectified = [
                    _day(rng, checked + timedelta(days=5), checked + timedelta(days=25)) for _ in range(count)
                ]
                self.spot_check(rng, f"{self.cid}-check-{year}", checked, rectified)
        rng = self.strand("stalled")
        for checked, fixed in troubles.stalled_findings:
            self.spot_check(rng, f"{self.cid}-check-{checked:%Y%m%d}", checked, [fixed])

    def spot_check(self, rng: random.Random, check_id: str, checked: date, rectified: list[date]) -> None:
        """A spot check with a finding for each day in `rectified`, rectified on that day."""
        findings = tuple(
            Finding(finding_id=f"{check_id}-{k + 1}", summary=s)
            for k, s in enumerate(rng.sample(FINDINGS, len(rectified)))
        )
        self.add(
            checked,
            SpotCheckRecorded(
                community_id=self.cid,
                check_id=check_id,
                checked_on=checked,
                checked_by=rng.choice(("慈溪市民政局", self.discipline_office())),
                findings=findings,
            ),
        )
        for finding, day in zip(findings, rectified, strict=True):
            note, opening = _sealed("note", "已整改到位,整改情况已在公开栏公示", self.cid, finding.finding_id)
            self.add(
                day,
                FindingRectified(
                    community_id=self.cid, finding_id=finding.finding_id, rectified_on=day, note=note
                ),
                openings=(opening,),
            )

    # 监督举报 now and then
    def ongoing_reports(self, until: date) -> None:
        rng = self.strand("reports")
        for year in range(2022, until.year + 1):
            if rng.random() < 0.1:
                summary, outcome = rng.choice(REPORTS)
                received = _day(rng, max(date(year, 1, 4), ONGOING), date(year, 12, 18))
                self.report(rng, str(year), received, summary, outcome)

    # 述职述廉 for each year, filed in the first quarter of the next (a trouble's year aside)
    def ongoing_duty_reports(self, until: date, troubles: _Troubles) -> None:
        rng = self.strand("duty")
        role = "村党组织书记" if self.village else "社区党组织书记"
        for year in range(2022, until.year):
            filed = _day(rng, date(year + 1, 1, 11), date(year + 1, 3, 25))
            if year not in troubles.unfiled:
                self.add(
                    filed,
                    DutyReportFiled(community_id=self.cid, year=year, filed_on=filed, reporter_role=role),
                )


def _disclosure_title(name: str, category: DisclosureCategory, period: str, subject: str) -> str:
    parsed = Period.parse(period)
    year = parsed.start.year
    if category is DisclosureCategory.ANNUAL_PLAN:
        return f"{name}{year}年清廉社区建设计划"
    if category is DisclosureCategory.MAJOR_MATTER:
        return f"{name}“三重一大”事项公开:{subject}({year}年{parsed.start.month}月)"
    quarter = (parsed.start.month - 1) // 3 + 1
    what = {
        DisclosureCategory.RESIDENTS_AFFAIRS: "居务公开",
        DisclosureCategory.FINANCE: "财务收支公开",
        DisclosureCategory.PARTY_AFFAIRS: "党务公开",
    }[category]
    return f"{name}{year}年第{quarter}季度{what}"
