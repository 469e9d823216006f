"""`knownAt` and `atCheckpoint`: an answer as the log stood at a size is what the service answered when the
log had that size — before back-dated records, transfers, new communities and a revised standard were
appended, whether the status keeper had stored the rows by then or not."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from events.disclosure import DisclosureCategory
from events.registry import Event
from events.standard import StandardRevised
from events.training import TrainingKind
from projections.standards import DEFAULT_STANDARD
from service.demo.generator import ARTICLE_END
from service.demo.loader import load_demo
from service.read.readmodel import whole_world
from service.read.status import StatusKeeper
from service.transparency.signer import Signer
from tests.schema.conftest import Api
from tests.support import domain
from tests.support.logs import signing_key

DASHBOARD = """query($known: TreeSize, $on: AsOf) {
  city(asOf: $on, knownAt: $known) {
    knownAt
    coverage { communities standardized }
    disclosureRate(year: 2022) { communities disclosed }
    coverageSeries(from: "2022-01-31", to: "2022-12-31", every: MONTH) { on communities standardized }
    towns { id knownAt coverage { communities standardized } disclosureRate(year: 2022) { disclosed } }
  }
  communities(asOf: $on, knownAt: $known, first: 100, orderBy: {field: SCORE, direction: DESC}) {
    totalCount
    edges { node { id knownAt town { id } status { standardized score position unmet { criterion since } } } }
  }
  standardized: communities(asOf: $on, knownAt: $known, filter: {standardized: false}) { totalCount }
  community(id: "yujia", asOf: $on, knownAt: $known) {
    status { standardized position } disclosures { totalCount } trainings { totalCount }
  }
  newcomer: community(id: "xinlai", asOf: $on, knownAt: $known) { name status { standardized } }
}"""
DAYS = ("2022-06-30", "2023-03-31")


@pytest.fixture
async def loaded(api: Api) -> Api:
    services = api.services
    await load_demo(services.commands, services.store, until=ARTICLE_END)
    await services.projector.wait_for(await services.store.head(), within=60.0)
    await StatusKeeper(services.pool).catch_up()
    return api


async def later_events(api: Api) -> list[Event]:
    """Records appended after the demo, most of them back-dated into 2022."""
    world = await whole_world(api.services.pool)
    moving = "shuyuan" if "shuyuan" in world.communities else sorted(world.communities)[0]
    home = world.communities[moving].town_on(date(2022, 6, 1))
    assert home is not None
    elsewhere = next(t for t in sorted(world.towns) if t != home)
    kept = tuple(c for c in DEFAULT_STANDARD.criteria if c.criterion_id != "finance-quarterly")
    return [
        domain.disclosure("yujia", DisclosureCategory.FINANCE, "2022-Q1", date(2022, 6, 20)),
        domain.training("yujia", TrainingKind.WARNING_MEETING, date(2022, 6, 25)),
        domain.transfer(moving, home, elsewhere, date(2022, 6, 15)),
        domain.community("xinlai", elsewhere, on=date(2022, 5, 1)),
        StandardRevised(version=2, effective_from=date(2022, 6, 29), title="v2", criteria=kept),
        domain.disclosure("xinlai", DisclosureCategory.FINANCE, "2022-Q2", date(2022, 7, 10)),
        domain.training("yujia", TrainingKind.CASE_ANALYSIS, date(2022, 3, 2)),
    ]


async def answers(api: Api, known: int | None) -> dict[str, Any]:
    return {day: await api.data(DASHBOARD, {"on": day, "known": known}) for day in DAYS}


async def test_an_answer_known_at_a_size_is_what_was_answered_at_that_size(loaded: Api) -> None:
    services = loaded.services
    keeper = StatusKeeper(services.pool)
    seen: dict[int, dict[str, Any]] = {
        (await services.read_model.world()).position: await answers(loaded, None)
    }
    for number, event in enumerate(await later_events(loaded)):
        await services.commands.record(event, idempotency_key=f"later-{number}")
        await services.projector.wait_for(await services.store.head(), within=30.0)
        if number % 3 == 1:  # the keeper runs now and then: between runs, several events fold at once
            await keeper.catch_up()
        seen[(await services.read_model.world()).position] = await answers(loaded, None)
    sizes = sorted(seen)
    # The history did change: the first answer and the last differ.
    assert seen[sizes[0]] != seen[sizes[-1]]
    for stage in ("before the keeper has caught up", "after"):
        for size in sizes:
            assert seen[size] == await answers(loaded, size), (stage, size)
        await keeper.catch_up()


async def test_a_size_before_a_community_was_registered_does_not_know_it(loaded: Api) -> None:
    services = loaded.services
    before = (await services.read_model.world()).position
    await services.commands.record(
        domain.community("xinlai", "gutang", on=date(2022, 5, 1)), idempotency_key="x"
    )
    await services.projector.wait_for(await services.store.head(), within=30.0)
    data = await loaded.data(DASHBOARD, {"on": "2022-06-30", "known": before})
    assert data["newcomer"] is None
    assert before == data["city"]["knownAt"]
    now = await loaded.data(DASHBOARD, {"on": "2022-06-30"})
    assert now["newcomer"] is not None
    assert now["communities"]["totalCount"] == data["communities"]["totalCount"] + 1


async def test_at_checkpoint_answers_as_known_at_a_signed_size_only(loaded: Api, tmp_path: Path) -> None:
    services = loaded.services
    signed = await Signer(services.pool, services.tree, signing_key(tmp_path)).sign()
    size = signed.checkpoint.size
    await services.commands.record(
        domain.training("yujia", TrainingKind.WARNING_MEETING, date(2022, 6, 25)), idempotency_key="later"
    )
    await services.projector.wait_for(await services.store.head(), within=30.0)
    query = DASHBOARD.replace("knownAt: $known", "atCheckpoint: $known")
    assert await loaded.data(DASHBOARD, {"on": "2022-06-30", "known": size}) == await loaded.data(
        query, {"on": "2022-06-30", "known": size}
    )
    refused = await loaded.execute(query, {"on": "2022-06-30", "known": size - 1})
    assert refused.errors is not None
    assert f"no checkpoint was signed at size {size - 1}" in refused.errors[0].message
    assert "BAD_USER_INPUT" == (refused.errors[0].extensions or {}).get("code")


@pytest.mark.parametrize(
    ("arguments", "code", "words"),
    [
        ("knownAt: 999999999", "BAD_USER_INPUT", "is beyond it"),
        ("knownAt: 1, atCheckpoint: 1", "BAD_USER_INPUT", "not both"),
        ("knownAt: -1", None, "tree size must be an integer"),
        ('knownAt: "12"', None, "tree size must be an integer"),
        ("knownAt: 9007199254740992", None, "tree size must be an integer"),
    ],
)
async def test_a_size_asked_wrongly_is_a_clear_error(
    api: Api, arguments: str, code: str | None, words: str
) -> None:
    result = await api.execute(f"{{ city({arguments}) {{ coverage {{ rate }} }} }}")
    assert result.errors is not None
    assert words in result.errors[0].message, result.errors
    if code is not None:
        assert code == (result.errors[0].extensions or {}).get("code")
