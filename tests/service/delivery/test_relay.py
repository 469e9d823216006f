"""`qinglian relay` against a real nats-server: every event once, in order, whatever happens to the relay.

Each test runs the real command as a child process against a fresh database and a private nats-server
(tests/support/nats.py) with a stream and subject prefix of its own, while the test process appends
events through the EventStore. At the end a durable pull consumer reads the whole stream and finds exactly
the log: positions 1..head once each and in order, each message's subject, headers (Nats-Msg-Id = the
event id, Qinglian-Position, Qinglian-Leaf-Hash) and body what `subject_of`, `headers_of` and `body` make
of the event read back from the log. Nothing extra waits behind the last one.

- killed: SIGKILL at random moments, twelve times, each restarted, while appends go on.
- two relays: only one leads; the other takes over when the leader is killed, and again the other way.
- nats-server stopped (SIGTERM) and, later, killed (SIGKILL) mid-stream, restarted on the same store: the
  relay logs the failure, records it in relay_positions, and resumes once the server is back.
- catch-up: 30,000 events imported before any relay ever ran.
- resume from the stream: a relay whose stored position is behind the stream (killed after the acks,
  before it wrote) sends nothing again and brings its stored position forward.
- restricted fields: a reporter's reference and a recognised person's reference are published as null,
  sealed text as its commitment only.
- the system's NATS on 127.0.0.1:4222, where one answers: the same, briefly, on a stream removed afterwards.

The random seed of a test is in its failure messages. Timeouts are hang guards, never expectations.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import ConsumerConfig

from events.envelope import ExpectedVersion, Recorded
from events.hierarchy import CommunityRenamed
from events.recognition import LeadingTalentRecognized, Level
from events.registry import Event
from events.rules import RuleDocument
from events.supervision import MeetingKind, ReportReceived
from events.training import TrainingKind
from service.delivery.relay import LEAF_HASH, POSITION, Target, body, headers_of, subject_of
from service.log.bulk import Entry
from service.log.store import EventStore
from tests.service.runtime.test_serve import child_env, qinglian_command
from tests.support import domain
from tests.support.nats import NatsServer, nats_server
from tests.support.sealing import openings, sealed

# Hang guards only.
CATCH_UP_TIMEOUT = 180.0
LINE_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
FETCH_TIMEOUT = 5.0
KILLS = 12
RELAY_NAME = "jetstream"
TOWNS = 3
COMMUNITIES = 24


# --- the pieces ---------------------------------------------------------------------------------------------


def fresh_target(nats_url: str) -> Target:
    """A stream and subject prefix no other test uses."""
    tag = uuid.uuid4().hex[:10]
    return Target(nats_url=nats_url, stream=f"QINGLIAN_T{tag.upper()}", prefix=f"t{tag}.events")


@pytest.fixture
def nats_srv(tmp_path: Path) -> Iterator[NatsServer]:
    with nats_server(tmp_path) as server:
        yield server


@pytest.fixture
def target(nats_srv: NatsServer) -> Target:
    return fresh_target(nats_srv.url)


@dataclass
class RelayProcess:
    """One `qinglian relay`, in a process group of its own, its log in a file."""

    process: subprocess.Popen[bytes]
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def leads(self) -> bool:
        return "relay leads" in self.log()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)


@dataclass
class Relays:
    """Starts relays for one test and kills whatever is left at its end."""

    tmp_path: Path
    database_url: str
    target: Target
    started: list[RelayProcess] = field(default_factory=list)

    def start(self) -> RelayProcess:
        log_file = self.tmp_path / f"relay-{len(self.started)}.log"
        env = child_env(self.database_url)
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                [
                    *qinglian_command(),
                    "relay",
                    "--nats-url",
                    self.target.nats_url,
                    "--stream",
                    self.target.stream,
                    "--subject-prefix",
                    self.target.prefix,
                    "--name",
                    self.target.name,
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        relay = RelayProcess(process, log_file)
        self.started.append(relay)
        return relay

    def kill_all(self) -> None:
        for relay in self.started:
            relay.kill()


@pytest.fixture
def relays(tmp_path: Path, database_url: str, target: Target) -> Iterator[Relays]:
    started = Relays(tmp_path, database_url, target)
    try:
        yield started
    finally:
        started.kill_all()


class Appender:
    """Appends ordinary activity to many streams (towns, communities, the standard) until stopped."""

    def __init__(self, store: EventStore, seed: int, *, pause: float = 0.01) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.pause = pause
        self.appended = 0
        self._keys = itertools.count()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _append(self, stream_id: str, events: list[Event]) -> None:
        opened = [openings(event) for event in events]
        await self.store.append(
            stream_id,
            events,
            expected_version=ExpectedVersion.any(),
            idempotency_key=f"relay-test-{next(self._keys)}",
            metadata={"actor": {"kind": "token", "id": "0000000000ab", "label": "clerk", "role": "clerk"}},
            openings=opened,
        )
        self.appended += len(events)

    async def setup(self) -> None:
        await self._append("standard-main", [domain.standard()])
        for t in range(TOWNS):
            await self._append(f"town-t{t}", [domain.town(f"t{t}", f"镇{t}")])
        for c in range(COMMUNITIES):
            await self._append(f"community-c{c}", [domain.community(f"c{c}", f"t{c % TOWNS}")])

    def _activity(self, n: int) -> tuple[str, list[Event]]:
        rng = self.rng
        c = rng.randrange(COMMUNITIES)
        cid = f"c{c}"
        on = domain.START + timedelta(days=n % 1500)
        choice = rng.randrange(5)
        events: list[Event]
        if choice == 0:
            kinds = list(TrainingKind)
            events = [domain.training(cid, kinds[(n + k) % len(kinds)], on, n * 10 + k) for k in range(3)]
        elif choice == 1:
            events = [
                domain.meeting(cid, MeetingKind.REPRESENTATIVES, on + timedelta(days=k)) for k in range(2)
            ]
        elif choice == 2:
            events = [domain.rule(cid, RuleDocument.VILLAGE_RULES, n, on)]
        elif choice == 3:
            events = [CommunityRenamed(community_id=cid, name=f"{cid}社区{n}", effective_on=on)]
        else:
            town = f"t{rng.randrange(TOWNS)}"
            return f"town-{town}", [domain.town(town, f"镇{n}")]
        return f"community-{cid}", events

    async def _run(self) -> None:
        for n in itertools.count():
            if self._stop.is_set():
                return
            stream_id, events = self._activity(n)
            await self._append(stream_id, events)
            await asyncio.sleep(self.rng.uniform(0, self.pause))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task


@contextlib.asynccontextmanager
async def appending(store: EventStore, seed: int) -> AsyncIterator[Appender]:
    appender = Appender(store, seed)
    await appender.setup()
    appender.start()
    try:
        yield appender
    finally:
        if not appender._stop.is_set():
            await appender.stop()


async def stored(owner: asyncpg.Connection, name: str = RELAY_NAME) -> asyncpg.Record | None:
    return await owner.fetchrow("select * from relay_positions where name = $1", name)


async def wait_for(what: str, check: object, within: float, *alive: RelayProcess) -> None:
    """Poll `check()` (async, truthy when done) until it holds; fail at the hang guard or if a relay
    that should be running has exited."""
    deadline = time.monotonic() + within
    while True:
        assert callable(check)
        if await check():
            return
        for relay in alive:
            if not relay.alive():
                pytest.fail(
                    f"the relay exited ({relay.process.returncode}) while waiting for {what}:\n{relay.log()}"
                )
        if time.monotonic() > deadline:
            logs = "\n".join(r.log()[-4000:] for r in alive)
            pytest.fail(f"no {what} within {within:.0f} s:\n{logs}")
        await asyncio.sleep(0.1)


async def caught_up(store: EventStore, owner: asyncpg.Connection, *alive: RelayProcess) -> int:
    """Wait until the relay's stored position is the head; return the head."""
    head = await store.head()

    async def done() -> bool:
        row = await stored(owner)
        return row is not None and row["position"] == head

    await wait_for(f"relay position {head}", done, CATCH_UP_TIMEOUT, *alive)
    return head


async def wait_until_leading(relay: RelayProcess) -> None:
    async def leads() -> bool:
        return relay.leads()

    await wait_for("'relay leads'", leads, LINE_TIMEOUT, relay)


async def read_log(store: EventStore) -> list[Recorded]:
    records: list[Recorded] = []
    while rows := await store.read_all(after_position=records[-1].position if records else 0, limit=5000):
        records.extend(rows)
    return records


async def assert_exactly_once(store: EventStore, target: Target, note: str = "") -> list[Recorded]:
    """A durable pull consumer on the stream reads every message; they are the log, once each, in order."""
    log = await read_log(store)
    nc = await nats.connect(target.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(target.stream)
        assert len(log) == info.state.messages, note
        sub = await js.pull_subscribe(
            f"{target.prefix}.>",
            durable=f"check_{uuid.uuid4().hex[:8]}",
            stream=target.stream,
            config=ConsumerConfig(max_ack_pending=-1),
        )
        received: list[tuple[str, dict[str, str], bytes]] = []
        while len(received) < len(log):
            try:
                messages = await sub.fetch(1000, timeout=FETCH_TIMEOUT)
            except nats.errors.TimeoutError:
                break
            for message in messages:
                received.append((message.subject, message.headers or {}, message.data))
                await message.ack()
        with pytest.raises(nats.errors.TimeoutError):
            await sub.fetch(1, timeout=1)  # nothing behind the last one
    finally:
        await nc.close()
    positions = [int(headers.get(POSITION, 0)) for _, headers, _ in received]
    assert list(range(1, len(log) + 1)) == positions, note
    assert [rec.leaf_hash.hex() for rec in log] == [headers[LEAF_HASH] for _, headers, _ in received], note
    assert [str(rec.event_id) for rec in log] == [headers["Nats-Msg-Id"] for _, headers, _ in received], note
    for rec, (subject, headers, data) in zip(log, received, strict=True):
        assert (subject_of(target.prefix, rec), headers_of(rec), body(rec)) == (subject, headers, data), note
    return log


# --- killed at random ---------------------------------------------------------------------------------------


async def test_killed_at_random_points_every_event_is_published_once_in_order(
    store: EventStore, owner: asyncpg.Connection, relays: Relays
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    note = f"seed {seed}"
    # After a kill, how often the stream was ahead of the stored position: the relay died after JetStream
    # stored a batch and before it wrote the position (the resume-from-the-stream path was needed).
    ahead_of_stored = 0
    async with appending(store, seed) as appender:
        for _ in range(KILLS):
            relay = relays.start()
            # From before it connects to well into publishing: a relay starts in about a second here.
            await asyncio.sleep(rng.uniform(0.2, 3.0))
            assert relay.alive(), relay.log()
            relay.kill()
            row = await stored(owner)
            in_stream = await stream_last_position(relays.target)
            ahead_of_stored += int(row is not None and in_stream > row["position"])
        assert appender.appended > 0
        last = relays.start()
        await wait_until_leading(last)
        await asyncio.sleep(1.0)  # the last relay publishes while appends go on, too
    head = await caught_up(store, owner, last)
    last.kill()
    assert KILLS + 1 == len(relays.started)
    log = await assert_exactly_once(store, relays.target, note)
    assert head == len(log)
    row = await stored(owner)
    assert row is not None
    assert head == row["position"]
    assert row["last_error"] is None
    print(f"{note}: {head} events, {KILLS} kills; the stream ahead of the stored position: {ahead_of_stored}")


async def stream_last_position(target: Target) -> int:
    nc = await nats.connect(target.nats_url)
    try:
        js = nc.jetstream()
        try:
            message = await js.get_last_msg(target.stream, f"{target.prefix}.>")
        except nats.js.errors.NotFoundError:
            return 0
        return int((message.headers or {}).get(POSITION, 0))
    finally:
        await nc.close()


# --- two relays ---------------------------------------------------------------------------------------------


async def test_of_two_relays_one_leads_and_the_other_takes_over_when_it_dies(
    store: EventStore, owner: asyncpg.Connection, relays: Relays
) -> None:
    seed = random.randrange(2**32)
    note = f"seed {seed}"
    async with appending(store, seed):
        first = relays.start()
        await wait_until_leading(first)
        second = relays.start()
        for leader, follower in ((first, second), (second, None)):
            # While the leader publishes, the other waits: it never says it leads.
            before = (await stored(owner) or {"position": 0})["position"]

            async def advanced(since: int = before) -> bool:
                return (await stored(owner) or {"position": 0})["position"] > since

            await wait_for("the leader to publish", advanced, LINE_TIMEOUT, leader)
            others = [r for r in relays.started if r is not leader and r.alive()]
            assert others, note
            assert not any(r.leads() for r in others), note
            leader.kill()
            successor = others[0]
            await wait_until_leading(successor)
            if follower is not None:
                # And a new follower for the successor: killed next round, the first one's replacement leads.
                relays.start()
        remaining = [r for r in relays.started if r.alive()]
    leader = next(r for r in remaining if r.leads())
    await caught_up(store, owner, leader)
    relays.kill_all()
    await assert_exactly_once(store, relays.target, note)


# --- the NATS server restarted ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
async def test_a_nats_restart_mid_stream_is_logged_recorded_and_survived(
    store: EventStore, owner: asyncpg.Connection, relays: Relays, nats_srv: NatsServer, how: str
) -> None:
    seed = random.randrange(2**32)
    note = f"seed {seed}"
    async with appending(store, seed):
        relay = relays.start()
        await wait_until_leading(relay)

        async def published() -> bool:
            row = await stored(owner)
            return row is not None and row["position"] > 0

        await wait_for("a first batch", published, LINE_TIMEOUT, relay)
        if how == "SIGKILL":
            assert nats_srv.process is not None
            nats_srv.process.kill()
            nats_srv.process.wait(timeout=STOP_TIMEOUT)
        else:
            nats_srv.stop()

        async def failed() -> bool:
            row = await stored(owner)
            return row is not None and row["last_error"] is not None

        await wait_for("last_error in relay_positions", failed, CATCH_UP_TIMEOUT, relay)
        assert "relay stopped publishing; will retry" in relay.log()
        await asyncio.sleep(2.0)  # down for a while, with appends going on and the relay retrying
        nats_srv.start()
    await caught_up(store, owner, relay)
    assert relay.alive()
    relay.kill()
    row = await stored(owner)
    assert row is not None
    assert row["last_error"] is None
    assert row["failed_at"] is None
    assert 2 == nats_srv.starts
    await assert_exactly_once(store, relays.target, note)


# --- catch-up -----------------------------------------------------------------------------------------------


CATCH_UP_EVENTS = 30_000


def history(count: int) -> Iterator[Entry]:
    """Towns, communities, then their activity round-robin: `count` events in all."""
    made = 0
    for t in range(TOWNS):
        yield f"town-t{t}", domain.town(f"t{t}"), {"actor": "import"}
    made += TOWNS
    communities = 200
    for c in range(communities):
        yield f"community-c{c}", domain.community(f"c{c}", f"t{c % TOWNS}"), {"actor": "import"}
    made += communities
    kinds = list(TrainingKind)
    for n in itertools.count():
        for c in range(communities):
            if made == count:
                return
            on = domain.START + timedelta(days=n)
            event: Event = (
                domain.training(f"c{c}", kinds[n % len(kinds)], on, n)
                if n % 2
                else domain.meeting(f"c{c}", MeetingKind.REPRESENTATIVES, on)
            )
            yield f"community-c{c}", event, {"actor": "import"}
            made += 1


async def test_a_relay_started_long_after_the_log_grew_publishes_it_all_in_order(
    store: EventStore, owner: asyncpg.Connection, relays: Relays
) -> None:
    entries = history(CATCH_UP_EVENTS)
    while chunk := list(itertools.islice(entries, 10_000)):
        await store.bulk_import(chunk, idempotency_key=f"relay-catch-up-{uuid.uuid4()}")
    assert CATCH_UP_EVENTS == await store.head()
    assert await stored(owner) is None  # no relay ever ran
    relay = relays.start()
    head = await caught_up(store, owner, relay)
    relay.kill()
    assert CATCH_UP_EVENTS == head
    await assert_exactly_once(store, relays.target)
    row = await stored(owner)
    assert row is not None
    assert CATCH_UP_EVENTS == row["published"]


# --- resuming from the stream -------------------------------------------------------------------------------


async def test_a_stored_position_behind_the_stream_resumes_from_the_stream_and_sends_nothing_twice(
    store: EventStore, owner: asyncpg.Connection, relays: Relays
) -> None:
    appender = Appender(store, 1)
    await appender.setup()
    relay = relays.start()
    head = await caught_up(store, owner, relay)
    relay.kill()
    published = (await stored(owner) or {"published": -1})["published"]
    # As a relay killed after JetStream acknowledged and before it wrote its position leaves it.
    await owner.execute("update relay_positions set position = 3 where name = $1", RELAY_NAME)
    relay = relays.start()
    await wait_until_leading(relay)
    head = await caught_up(store, owner, relay)
    relay.kill()
    row = await stored(owner)
    assert row is not None
    assert published == row["published"], "events were sent again"
    await assert_exactly_once(store, relays.target)
    assert head == COMMUNITIES + TOWNS + 1


# --- restricted fields --------------------------------------------------------------------------------------


async def test_restricted_fields_are_published_blank(
    store: EventStore, owner: asyncpg.Connection, relays: Relays
) -> None:
    appender = Appender(store, 2)
    await appender.setup()
    secret_text = "张三 13800138000 举报"
    report = ReportReceived(
        community_id="c1",
        report_id="r-1",
        received_on=date(2024, 3, 1),
        channel="hotline",
        summary=sealed("summary", secret_text),
        reporter_ref="ref:reporter-8842",
    )
    talent = LeadingTalentRecognized(
        community_id="c1", person_ref="ref:person-1234", level=Level.CITY, recognized_on=date(2024, 3, 2)
    )
    await store.append(
        "community-c1",
        [report, talent],
        expected_version=ExpectedVersion.any(),
        idempotency_key="relay-restricted",
        openings=[openings(report), openings(talent)],
    )
    relay = relays.start()
    await caught_up(store, owner, relay)
    relay.kill()
    log = await assert_exactly_once(store, relays.target)
    nc = await nats.connect(relays.target.nats_url)
    try:
        js = nc.jetstream()
        for rec in log[-2:]:
            message = await js.get_msg(relays.target.stream, seq=rec.position)
            data = message.data or b""
            for hidden in ("ref:reporter-8842", "ref:person-1234", secret_text, "13800138000"):
                assert hidden.encode() not in data
            assert f"{relays.target.prefix}.community.{rec.type}" == message.subject
    finally:
        await nc.close()
    published_report = body(log[-2])
    assert b'"reporter_ref":null' in published_report
    assert report.summary.commitment.encode() in published_report


# --- the system's NATS --------------------------------------------------------------------------------------


def system_nats_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not system_nats_answers(), reason="no NATS server answers on 127.0.0.1:4222")
async def test_against_the_system_nats_server(
    store: EventStore, owner: asyncpg.Connection, tmp_path: Path, database_url: str
) -> None:
    target = fresh_target("nats://127.0.0.1:4222")
    nc = await nats.connect(target.nats_url)
    js = nc.jetstream()
    try:
        try:
            await js.account_info()
        except nats.errors.Error as exc:
            pytest.skip(f"the NATS server on 127.0.0.1:4222 has no JetStream: {exc}")
        relays = Relays(tmp_path, database_url, target)
        try:
            async with appending(store, 3):
                relay = relays.start()
                await wait_until_leading(relay)
                await asyncio.sleep(1.0)
                relay.kill()
                relay = relays.start()
            await caught_up(store, owner, relay)
        finally:
            relays.kill_all()
        await assert_exactly_once(store, target)
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(target.stream)
        await nc.close()


# --- the message, unit by unit ------------------------------------------------------------------------------


def recorded(**changes: object) -> Recorded:
    fields: dict[str, object] = {
        "position": 7,
        "stream_id": "community-yubo",
        "stream_version": 3,
        "event_id": uuid.UUID("00000000-0000-4000-8000-000000000007"),
        "type": "ReportReceived",
        "schema_version": 1,
        "payload": {"community_id": "yubo", "report_id": "r", "summary": "张三", "reporter_ref": "ref:x"},
        "metadata": {
            "actor": {
                "kind": "token",
                "id": "00000000000d",
                "label": "余北社区",
                "role": "clerk",
                "scope": "x",
            },
            "request_id": "req-1",
            "idempotency_key": "k",
        },
        "recorded_at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "canonical": b"{}",
        "leaf_hash": bytes(range(32)),
    }
    fields.update(changes)
    return Recorded(**fields)  # type: ignore[arg-type]


def test_the_subject_is_prefix_family_type() -> None:
    assert "qinglian.events.community.ReportReceived" == subject_of("qinglian.events", recorded())
    assert "p.standard.StandardRevised" == subject_of(
        "p", recorded(stream_id="standard-main", type="StandardRevised")
    )
    assert "p.town.TownRegistered" == subject_of("p", recorded(stream_id="town-t-1", type="TownRegistered"))


def test_the_body_is_the_public_form_and_the_headers_place_it() -> None:
    import json

    rec = recorded()
    published = body(rec)
    assert "张三".encode() not in published  # restricted, blanked
    assert b"ref:x" not in published
    assert "余北社区".encode() in published  # UTF-8, not \u escapes
    assert b" " not in published  # compact
    assert {
        "position": 7,
        "event_id": "00000000-0000-4000-8000-000000000007",
        "stream_id": "community-yubo",
        "stream_version": 3,
        "type": "ReportReceived",
        "schema_version": 1,
        "recorded_at": "2024-05-06T07:08:09.123456Z",
        "leaf_hash": bytes(range(32)).hex(),
        "payload": {"community_id": "yubo", "report_id": "r", "summary": None, "reporter_ref": None},
        # Of the metadata only who recorded it: no credential id, scope, request id or idempotency key.
        "actor": {"kind": "token", "role": "clerk", "label": "余北社区"},
    } == json.loads(published)
    assert "import" == json.loads(body(recorded(metadata={"actor": "import"})))["actor"]
    assert None is json.loads(body(recorded(metadata={})))["actor"]
    assert {
        "Nats-Msg-Id": "00000000-0000-4000-8000-000000000007",
        "Qinglian-Position": "7",
        "Qinglian-Leaf-Hash": bytes(range(32)).hex(),
    } == headers_of(rec)
