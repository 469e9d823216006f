"""Mutations at once, as many clerks send them: one expected version admits one write, a retried key
answers once, and nothing is lost or written twice."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.schema.conftest import Api
from tests.schema.test_mutations import PUBLISH, disclosure, registered
from tests.support.principals import clerk

CLERK = clerk("yubo")


async def test_of_many_writers_expecting_the_same_version_exactly_one_wins(api: Api) -> None:
    await registered(api)  # community-yubo is at version 1
    answers = await asyncio.gather(
        *(
            api.data(
                PUBLISH,
                {"key": f"race-{n}", "input": disclosure(f"2022-Q1-d{n}"), "v": 1},
                principal=CLERK,
            )
            for n in range(12)
        )
    )
    kinds = Counter(answer["publishDisclosure"]["__typename"] for answer in answers)
    assert {"Recorded": 1, "VersionConflict": 11} == dict(kinds)
    conflicts = [
        a["publishDisclosure"] for a in answers if a["publishDisclosure"]["__typename"] == "VersionConflict"
    ]
    assert {2} == {c["actual"] for c in conflicts}
    count = await api.services.pool.fetchval(
        "select count(*) from events where stream_id = 'community-yubo' and type = 'DisclosurePublished'"
    )
    assert 1 == count


async def test_concurrent_retries_of_one_key_write_once_and_all_get_the_first_result(api: Api) -> None:
    await registered(api)
    variables = {"key": "once", "input": disclosure()}
    answers = await asyncio.gather(*(api.data(PUBLISH, variables, principal=CLERK) for _ in range(10)))
    results = [a["publishDisclosure"] for a in answers]
    assert {"Recorded"} == {r["__typename"] for r in results}
    assert 1 == len({r["events"][0]["position"] for r in results})
    count = await api.services.pool.fetchval(
        "select count(*) from events where stream_id = 'community-yubo' and type = 'DisclosurePublished'"
    )
    assert 1 == count


async def test_writers_without_an_expected_version_all_land_in_order(api: Api) -> None:
    await registered(api)
    answers = await asyncio.gather(
        *(
            api.data(PUBLISH, {"key": f"free-{n}", "input": disclosure(f"2022-Q1-f{n}")}, principal=CLERK)
            for n in range(12)
        )
    )
    versions = sorted(a["publishDisclosure"]["streamVersion"] for a in answers)
    assert list(range(2, 14)) == versions
