"""A projection runner killed for real (SIGKILL, mid-batch included) resumes with no loss and no double count.

The runner is a separate OS process that folds the log in small batches and reports, one line each, when
a batch's transaction has written its facts ("saved") and when it has committed ("committed"). Over eight
rounds the test kills it (SIGKILL) at random points of a running fold, and, every other round, while a
batch's transaction is open with its facts written and its checkpoint not yet advanced; a fresh runner
starts each round. A last runner catches up, and the facts are compared with a full in-memory replay.
The random seed is in every failure message.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.disclosure import DisclosureCategory
from events.registry import Event
from events.rules import RuleDocument
from events.supervision import Finding, FindingRectified, SpotCheckRecorded
from projections.community import World, fold_world
from projections.facts import CommunityFacts
from service.log.bulk import Entry
from service.log.store import EventStore
from service.read.projector import NAME, decode_all
from service.read.queries import query
from service.read.readmodel import whole_world
from tests.support import domain
from tests.support.sealing import openings, sealed

ROOT = Path(__file__).resolve().parents[3]
# Hang guards only: each wait normally takes well under a second.
LINE_TIMEOUT = 30.0
EXIT_TIMEOUT = 60.0
ROUNDS = 8

# The runner. SAVE_PAUSE_AT=n makes it stop inside its n-th batch's transaction, after the facts are
# written and before the checkpoint advances, until it is killed. It wraps the module's `save` (looked up
# at call time by Projector.step) to say where it stands; the projector itself runs unchanged.
RUNNER = r"""
import asyncio, os, sys

from events.catalogue import CATALOGUE
from service.read import projector as module
from service.log.pool import create_pool

batch_size = int(os.environ["RUNNER_BATCH_SIZE"])
pause_at = int(os.environ.get("SAVE_PAUSE_AT", "0"))
real_save = module.save
batches = 0


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


async def save(conn, generation, rows):
    global batches
    batches += 1
    await real_save(conn, generation, rows)
    say("saved", batches, conn.get_server_pid())
    if batches == pause_at:
        await asyncio.sleep(3600)  # in the open transaction, until killed


module.save = save


async def main():
    pool = await create_pool(os.environ["RUNNER_DATABASE_URL"], None, min_size=1, max_size=1)
    projector = module.Projector(pool, CATALOGUE, batch_size=batch_size)
    say("ready")
    while applied := await projector.step():
        say("committed", projector.position, applied)
    say("caught-up", projector.position)
    await pool.close()


asyncio.run(main())
"""


@dataclass(slots=True)
class Runner:
    process: asyncio.subprocess.Process
    committed: int = 0  # the last position the runner said it committed
    batches_saved: int = 0
    saved_pid: int | None = None  # the server backend of the batch last reported as saved

    async def line(self) -> list[str]:
        assert self.process.stdout is not None
        async with asyncio.timeout(LINE_TIMEOUT):
            raw = await self.process.stdout.readline()
        if not raw:
            stderr = await self.process.stderr.read() if self.process.stderr else b""
            raise AssertionError(f"the runner ended early:\n{stderr.decode(errors='replace')}")
        words = raw.decode().split()
        if words[0] == "committed":
            self.committed = int(words[1])
        elif words[0] == "saved":
            self.batches_saved, self.saved_pid = int(words[1]), int(words[2])
        return words

    async def until(self, word: str, times: int = 1) -> list[str]:
        """Read lines until `word` has been seen `times` times; return the last such line."""
        while True:
            words = await self.line()
            if words[0] == "caught-up" != word:
                raise AssertionError(f"caught up before {word!r}: the log is too short for this round")
            if words[0] == word:
                times -= 1
                if times == 0:
                    return words

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        async with asyncio.timeout(EXIT_TIMEOUT):
            code = await self.process.wait()
        assert -signal.SIGKILL == code


async def start_runner(database_url: str, batch_size: int, *, pause_at: int = 0) -> Runner:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("QINGLIAN_")}
    pythonpath = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(
        PYTHONPATH=pythonpath,
        RUNNER_DATABASE_URL=database_url,
        RUNNER_BATCH_SIZE=str(batch_size),
        SAVE_PAUSE_AT=str(pause_at),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUNNER,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    runner = Runner(process)
    await runner.until("ready")
    return runner


@pytest.fixture
async def runners() -> AsyncIterator[list[Runner]]:
    """Every runner the test started; any still alive at the end (a failed test) is killed."""
    started: list[Runner] = []
    yield started
    for runner in started:
        if runner.process.returncode is None:
            runner.process.kill()
            await runner.process.wait()


# -- the log ---------------------------------------------------------------------------------------------

TOWNS = ("a", "b", "c", "d", "e")
COMMUNITIES = 80
YEARS = (2021, 2022, 2023)


def history(n: int) -> list[tuple[str, Event]]:
    """One community's years: the busy year's disclosures, trainings and meetings, plus rules and a check."""
    cid = f"c{n:03d}"
    events: list[Event] = [domain.community(cid, TOWNS[n % len(TOWNS)], village=n % 4 == 0)]
    for year in YEARS:
        events += domain.busy_year(cid, year)
        events.append(
            domain.disclosure(cid, DisclosureCategory.RESIDENTS_AFFAIRS, str(year), date(year, 12, 20))
        )
        events.append(domain.rule(cid, RuleDocument.AUTONOMY_CHARTER, year - 2020, date(year, 6, 1)))
        check = f"{cid}-check-{year}"
        finding = Finding(finding_id=f"{check}-1", summary="公开栏未及时更新")
        events.append(
            SpotCheckRecorded(
                community_id=cid,
                check_id=check,
                checked_on=date(year, 9, 1),
                checked_by="市民政局",
                findings=(finding,),
            )
        )
        events.append(
            FindingRectified(
                community_id=cid,
                finding_id=finding.finding_id,
                rectified_on=date(year, 9, 20),
                note=sealed("note", "已整改"),
            )
        )
    if n % 10 == 3:
        events.append(domain.transfer(cid, TOWNS[n % len(TOWNS)], "a", date(2022, 7, 1)))
    return [(f"community-{cid}", event) for event in events]


def entries(rng: random.Random) -> list[Entry]:
    """Towns and the standard first, then the communities' events interleaved as clerks would record them."""
    out: list[Entry] = [(f"town-{t}", domain.town(t, f"{t}街道"), {}) for t in TOWNS]
    out.append(("standard-main", domain.standard(), {}))
    queues = [history(n) for n in range(COMMUNITIES)]
    while queues:
        queue = rng.choice(queues)
        stream, event = queue.pop(0)
        out.append((stream, event, {"actor": "seed"}, openings(event)))
        if not queue:
            queues.remove(queue)
    return out


async def seed(store: EventStore, rng: random.Random) -> int:
    rows = entries(rng)
    for start in range(0, len(rows), 1000):
        await store.bulk_import(rows[start : start + 1000], idempotency_key=f"seed-{start}")
    return await store.head()


# -- checks ----------------------------------------------------------------------------------------------


async def checkpoint(pool: asyncpg.Pool) -> int:
    row = await pool.fetchrow(query("checkpoint"), NAME)
    assert row is not None
    position: int = row["position"]
    return position


async def wait_until_gone(owner: asyncpg.Connection, backend_pid: int) -> None:
    """Until the server has noticed the dead client and ended (rolled back) its backend."""
    async with asyncio.timeout(EXIT_TIMEOUT):
        while True:
            if not await owner.fetchval("select count(*) from pg_stat_activity where pid = $1", backend_pid):
                return
            await asyncio.sleep(0.02)


def repeated(ids: Iterable[str]) -> list[str]:
    return [f"{key} x{count}" for key, count in Counter(ids).items() if count > 1]


def double_counted(facts: CommunityFacts) -> list[str]:
    """Facts recorded twice: the same id, or positions not strictly increasing within a kind of fact."""
    problems = repeated(d.disclosure_id for d in facts.disclosures)
    problems += repeated(t.training_id for t in facts.trainings)
    problems += repeated(m.meeting_id for m in facts.meetings)
    problems += repeated(c.check_id for c in facts.spot_checks)
    for group in (facts.registrations, facts.disclosures, facts.trainings, facts.meetings, facts.rules):
        positions = [item.position for item in group]
        if positions != sorted(set(positions)):
            problems.append(f"positions {positions}")
    return problems


async def test_a_runner_killed_mid_batch_resumes_with_no_loss_and_no_double_count(
    database_url: str,
    pool: asyncpg.Pool,
    store: EventStore,
    owner: asyncpg.Connection,
    runners: list[Runner],
) -> None:
    seed_value = random.randrange(1 << 32)
    rng = random.Random(seed_value)
    note = f"random seed {seed_value}"
    head = await seed(store, rng)
    assert head > 3000, note

    # Rounds alternate: a kill at a random point of a running runner, and a kill inside an open batch.
    kills_in_open_batch = 0
    for round_ in range(ROUNDS):
        batch_size = rng.randint(5, 20)
        before = await checkpoint(pool)
        if round_ % 2:
            pause_at = rng.randint(2, 5)
            runner = await start_runner(database_url, batch_size, pause_at=pause_at)
            runners.append(runner)
            await runner.until("saved", pause_at)
            # The batch has written its facts and its transaction is still open, checkpoint not advanced.
            backend = runner.saved_pid
            assert backend is not None
            state = await owner.fetchval("select state from pg_stat_activity where pid = $1", backend)
            assert "idle in transaction" == state, note
            committed = runner.committed or before
            await runner.kill()
            await wait_until_gone(owner, backend)
            assert committed == await checkpoint(pool), note  # the open batch was rolled back whole
            kills_in_open_batch += 1
        else:
            runner = await start_runner(database_url, batch_size)
            runners.append(runner)
            await runner.until("committed", rng.randint(1, 12))
            await asyncio.sleep(rng.uniform(0.0, 0.03))  # then anywhere: between batches or inside one
            await runner.kill()
            if runner.saved_pid is not None:
                await wait_until_gone(owner, runner.saved_pid)
            # What it said it committed stays committed; what it did not finish is not half there.
            assert runner.committed <= await checkpoint(pool) <= head, note
        assert before < await checkpoint(pool), note  # every round made progress

    assert ROUNDS // 2 == kills_in_open_batch
    assert head > await checkpoint(pool), f"{note}: the kills should have stopped it short of the head"

    # A last runner finishes the job.
    runner = await start_runner(database_url, rng.randint(5, 50))
    runners.append(runner)
    words = await runner.until("caught-up")
    assert ["caught-up", str(head)] == words, note
    async with asyncio.timeout(EXIT_TIMEOUT):
        assert 0 == await runner.process.wait()

    assert head == await checkpoint(pool), note
    replay = fold_world(World(), decode_all(CATALOGUE, await store.read_all(limit=head + 1)))
    world = await whole_world(pool)
    assert head == world.position
    assert dict(replay.towns) == dict(world.towns), note
    assert replay.standards == world.standards, note
    assert replay.communities.keys() == world.communities.keys(), note
    for community_id, facts in world.communities.items():
        assert [] == double_counted(facts), f"{note}: {community_id}"
        assert replay.communities[community_id] == facts, f"{note}: {community_id}"
    # Exactly the log's events, each once: every fact in the facts table points at a distinct position.
    positions = [
        fact.position
        for facts in world.communities.values()
        for group in (facts.registrations, facts.disclosures, facts.trainings, facts.meetings, facts.rules)
        for fact in group
    ]
    assert len(positions) == len(set(positions)), note
