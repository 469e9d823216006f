"""Webhooks: signatures a reference verifier accepts, retries, dead letters, redelivery and the guard against
private destinations, against a real PostgreSQL and a real HTTP receiver on 127.0.0.1.

The receiver records every POST and answers as the test decides (fail, hold, accept). What the tests hold
the service to: every delivery verifies with the endpoint's secret (`standardwebhooks`, the reference
library), every event of the log after the registration reaches the receiver exactly once among the
answers it gave 2xx to, in position order, across failures and a restart; writes go on while the receiver
fails; restricted fields leave the service blanked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from events.catalogue import CATALOGUE
from events.recognition import LeadingTalentRecognized, Level
from events.supervision import ReportReceived
from service.commands.handler import Commands
from service.delivery.webhooks import (
    MAX_DELAY,
    EndpointError,
    Endpoints,
    Policy,
    WebhookWorker,
    check_destination,
    message,
    new_secret,
    retry_delay,
    sign,
)
from service.log.pool import APP_ROLE, connect
from service.log.store import EventStore
from service.log.watcher import HeadWatcher
from tests.service.runtime.test_cli import one_line_error, run_qinglian
from tests.service.runtime.test_serve import (
    HTTP_TIMEOUT,
    SIGTERM,
    Service,
    assert_stopped_cleanly,
    child_env,
    serving,
)
from tests.support import domain
from tests.support.sealing import openings, sealed

# Hang guards only, never expectations about speed: with QINGLIAN_WEBHOOK_RETRY_BASE=1 three failed
# attempts cost about 7 s of backoff; a lease left behind by a killed process would cost up to a minute.
DELIVERY_TIMEOUT = 150.0
POLL = 0.05

PRIVATE_OK = {"QINGLIAN_WEBHOOK_ALLOW_PRIVATE": "on", "QINGLIAN_WEBHOOK_RETRY_BASE": "1"}


# --- the receiver -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One POST as the receiver saw it, and the status it answered."""

    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def data(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)["data"]
        return found


Answer = Callable[[int, dict[str, str], bytes], int]
# An answer's status that makes the receiver send its 204 slowly (see Handler.trickle).
TRICKLE = -1


def accept(n: int, headers: dict[str, str], body: bytes) -> int:
    return 204


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1, on a thread: records every POST and answers with `answer(n, headers,
    body)`, n counting requests from 0. An answer may block (to hold a delivery in flight)."""

    answer: Answer = accept
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            n = self._count
            self._count += 1
        return self.answer(n, headers, body)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def seen(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def accepted(self) -> list[Request]:
        """The requests answered 2xx, in the order they were answered."""
        return [r for r in self.seen() if 200 <= r.status < 300]


@contextlib.contextmanager
def receiving(answer: Answer = accept) -> Iterator[Receiver]:
    receiver = Receiver(answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(headers, body)
            with contextlib.suppress(OSError):  # the sender may have given up on a held answer
                if status == TRICKLE:
                    self.trickle()  # recorded as TRICKLE: never a 2xx the sender waited for
                else:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
            receiver.record(Request(headers, body, status))

        def trickle(self) -> None:
            """A 204 whose headers come a byte at a time: each read is quick, the whole answer is not."""
            for byte in b"HTTP/1.0 204 No Content\r\nx-padding: " + b"." * 40 + b"\r\n\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test reads what it recorded, not a log on stderr

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=HTTP_TIMEOUT)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DELIVERY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(POLL)


def verified(secret: str, requests: list[Request]) -> list[Request]:
    """Those of `requests` whose signature the reference library refuses (none, when all is well)."""
    refused = []
    for request in requests:
        try:
            Webhook(secret).verify(request.body, request.headers)
        except WebhookVerificationError:
            refused.append(request)
    return refused


# --- pure -------------------------------------------------------------------------------------------------


def test_a_signature_verifies_with_the_reference_library_and_a_change_to_anything_signed_is_refused() -> None:
    secret = new_secret()
    body = json.dumps(
        {"type": "TrainingHeld", "timestamp": "2022-06-08T02:00:00Z", "data": {"n": "一"}}, ensure_ascii=False
    )
    msg_id = "0190b0a4-7c1e-7bd5-9d5e-1f0c2a3b4c5d"
    stamp = int(time.time())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": ""}
    headers["webhook-signature"] = sign(secret, msg_id, stamp, body)

    assert json.loads(body) == Webhook(secret).verify(body.encode(), headers)
    tampered = [
        (secret, body.replace("一", "二"), headers),
        (secret, body, {**headers, "webhook-timestamp": str(stamp + 1)}),
        (secret, body, {**headers, "webhook-id": msg_id[:-1] + "e"}),
        (new_secret(), body, headers),
    ]
    assert all(changed != (secret, body, headers) for changed in tampered)
    for key, text, sent in tampered:
        with pytest.raises(WebhookVerificationError):
            Webhook(key).verify(text.encode(), sent)


def test_the_retry_delay_doubles_is_capped_and_its_jitter_stays_within_half_and_one_and_a_half() -> None:
    middle = [retry_delay(n, 5.0, jitter=lambda: 0.5) for n in range(1, 8)]
    assert [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0] == middle
    assert MAX_DELAY == retry_delay(40, 5.0, jitter=lambda: 0.5)
    assert (2.5, 7.5) == (retry_delay(1, 5.0, jitter=lambda: 0.0), retry_delay(1, 5.0, jitter=lambda: 1.0))
    assert (MAX_DELAY * 0.5, MAX_DELAY * 1.5) == (
        retry_delay(40, 5.0, jitter=lambda: 0.0),
        retry_delay(40, 5.0, jitter=lambda: 1.0),
    )
    for attempts in (1, 3, 12, 30):
        unjittered = min(MAX_DELAY, 5.0 * 2.0 ** (attempts - 1))
        drawn = [retry_delay(attempts, 5.0) / unjittered for _ in range(500)]
        assert all(0.5 <= d <= 1.5 for d in drawn), (attempts, min(drawn), max(drawn))
        # Jitter: the draws spread over the range, not one factor for every endpoint.
        assert max(drawn) - min(drawn) > 0.5, attempts


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8080/hooks", "non-public address"),
        ("http://[::1]/hooks", "non-public address"),
        ("http://10.1.2.3/hooks", "non-public address"),
        ("http://192.168.1.10/hooks", "non-public address"),
        ("http://172.16.0.1/hooks", "non-public address"),
        ("http://169.254.169.254/latest/meta-data", "non-public address"),
        ("http://0.0.0.0/hooks", "non-public address"),
        ("http://[::ffff:127.0.0.1]/hooks", "non-public address"),
        ("http://localhost:8080/hooks", "non-public address"),
        ("ftp://93.184.216.34/hooks", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https://user:secret@93.184.216.34/hooks", "credentials"),
        ("https://nowhere.invalid/hooks", "does not resolve"),
        ("http://93.184.216.34:99999/hooks", "not a URL"),
        ("http://93.184.216.34/" + "a" * 2000, "at most 2000 characters"),
    ],
)
async def test_a_destination_that_is_not_public_or_not_plain_http_is_refused(url: str, says: str) -> None:
    reason = await check_destination(url, allow_private=False)
    assert reason is not None
    assert says in reason, reason


async def test_a_public_address_is_accepted_and_a_private_one_where_the_operator_allows_it() -> None:
    # Checking only resolves the host: nothing connects to these.
    assert await check_destination("http://93.184.216.34/hooks", allow_private=False) is None
    assert await check_destination("https://[2606:2800:220:1::]/hooks", allow_private=False) is None
    assert await check_destination("http://127.0.0.1:8080/hooks", allow_private=True) is None
    assert await check_destination("http://localhost:8080/hooks", allow_private=True) is None
    # Allowing private addresses allows nothing else.
    assert await check_destination("ftp://127.0.0.1/hooks", allow_private=True) is not None
    assert await check_destination("http://u:p@127.0.0.1/hooks", allow_private=True) is not None


# --- a worker in this process -----------------------------------------------------------------------------

ALLOW = Policy(retry_base=0.01, max_attempts=10, allow_private=True)


async def never() -> asyncpg.Connection:
    raise AssertionError("not started: these tests call step() themselves")


@pytest.fixture
def commands(store: EventStore) -> Commands:
    return Commands(store, CATALOGUE)


@pytest.fixture
async def watcher(database_url: str) -> AsyncIterator[HeadWatcher]:
    async def connect_as_app() -> asyncpg.Connection:
        return await connect(database_url, server_settings={"role": APP_ROLE})

    watcher = HeadWatcher(connect_as_app, retry_delay=0.05)
    await watcher.start()
    yield watcher
    await watcher.stop()


async def steps_until(worker: WebhookWorker, condition: Callable[[], bool], what: str) -> None:
    """Call the worker's step until `condition` holds (a hang guard ends it otherwise)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DELIVERY_TIMEOUT:.0f} s: {what}")
        await worker.step()
        await asyncio.sleep(POLL)


async def setup_community(commands: Commands) -> None:
    await commands.record(domain.town("gutang"), idempotency_key="town")
    await commands.record(domain.community("shuyuan", "gutang"), idempotency_key="community")


async def test_restricted_fields_leave_blanked_and_the_rest_of_the_public_form_arrives_signed(
    pool: asyncpg.Pool, store: EventStore, commands: Commands
) -> None:
    endpoints = Endpoints(pool, store, ALLOW)
    with receiving() as receiver:
        endpoint, secret = await endpoints.register(
            receiver.url,
            types=["LeadingTalentRecognized", "ReportReceived"],
            stream_prefix=None,
            created_by="t",
        )
        await setup_community(commands)
        await commands.record(
            LeadingTalentRecognized(
                community_id="shuyuan",
                person_ref="ref:7f3a9c21",
                level=Level.CITY,
                recognized_on=date(2022, 5, 6),
            ),
            idempotency_key="talent",
        )
        report = ReportReceived(
            community_id="shuyuan",
            report_id="r-1",
            received_on=date(2022, 5, 6),
            channel="hotline",
            summary=sealed("summary", "反映停车位分配不公开"),
            reporter_ref="ref:0badc0de",
        )
        await commands.record(report, idempotency_key="report", openings=openings(report))
        worker = WebhookWorker(pool, store, HeadWatcher(never), ALLOW)
        try:
            await steps_until(worker, lambda: len(receiver.accepted()) >= 2, "both events delivered")
        finally:
            await worker.close()

    log = [r for r in await store.read_all(after_position=endpoint.position) if r.type != "TownRegistered"]
    wanted = [r for r in log if r.type in ("LeadingTalentRecognized", "ReportReceived")]
    talent, received = receiver.accepted()
    assert [] == verified(secret, receiver.seen())
    assert [str(r.event_id) for r in wanted] == [talent.msg_id, received.msg_id]
    assert {
        "community_id": "shuyuan",
        "person_ref": None,
        "level": "city",
        "recognized_on": "2022-05-06",
    } == (talent.data["payload"])
    assert received.data["payload"]["reporter_ref"] is None
    assert received.data["payload"]["summary"] == {"commitment": report.summary.commitment}
    for request in (talent, received):
        text = request.body.decode()
        for secret_word in ("7f3a9c21", "0badc0de", "停车位"):
            assert secret_word not in text, text
    # Everything else is the event's public form, the same as a relay publishes.
    assert json.loads(message(wanted[0])) == json.loads(talent.body)
    assert ("LeadingTalentRecognized", wanted[0].position, wanted[0].leaf_hash.hex()) == (
        json.loads(talent.body)["type"],
        talent.data["position"],
        talent.data["leaf_hash"],
    )
    # Events the filter leaves out are passed over, not waited on.
    assert 0 == (await endpoints.get(endpoint.id)).lag


async def test_an_answer_that_does_not_come_in_time_is_a_failed_attempt_tried_again(
    pool: asyncpg.Pool, store: EventStore, commands: Commands
) -> None:
    def slow_first(n: int, headers: dict[str, str], body: bytes) -> int:
        if n == 0:
            time.sleep(2.0)  # past the client's timeout below
            return 503
        return 204

    endpoints = Endpoints(pool, store, ALLOW)
    with receiving(slow_first) as receiver:
        endpoint, secret = await endpoints.register(
            receiver.url, types=None, stream_prefix=None, created_by="t"
        )
        await commands.record(domain.town("gutang"), idempotency_key="town")
        async with httpx.AsyncClient(timeout=0.5) as client:
            worker = WebhookWorker(pool, store, HeadWatcher(never), ALLOW, client=client)
            assert 0 == await worker.step()
            failed = await endpoints.get(endpoint.id)
            await steps_until(worker, lambda: len(receiver.accepted()) == 1, "the retry delivered")
        done = await endpoints.get(endpoint.id)
        wait_until(lambda: len(receiver.seen()) == 2, "the slow answer recorded")

    [town] = await store.read_all(after_position=endpoint.position)
    assert (1, 0) == (failed.attempts, failed.delivered)
    assert "Timeout" in (failed.last_error or ""), failed.last_error
    assert (0, 1, None, town.position) == (done.attempts, done.delivered, done.last_error, done.position)
    assert [str(town.event_id)] * 2 == [r.msg_id for r in receiver.seen()]
    assert [] == verified(secret, receiver.seen())


async def test_an_answer_that_trickles_in_is_cut_off_at_the_attempts_deadline(
    pool: asyncpg.Pool, store: EventStore, commands: Commands
) -> None:
    """The client's timeout bounds each read, not the attempt: an endpoint sending a byte now and then
    would hold the worker, and every endpoint it delivers for, as long as it liked."""

    def trickle_first(n: int, headers: dict[str, str], body: bytes) -> int:
        return TRICKLE if n == 0 else 204

    endpoints = Endpoints(pool, store, ALLOW)
    with receiving(trickle_first) as receiver:
        endpoint, _ = await endpoints.register(receiver.url, types=None, stream_prefix=None, created_by="t")
        await commands.record(domain.town("gutang"), idempotency_key="town")
        worker = WebhookWorker(pool, store, HeadWatcher(never), ALLOW, timeout=0.5)
        try:
            assert 0 == await worker.step()
            failed = await endpoints.get(endpoint.id)
            await steps_until(worker, lambda: len(receiver.accepted()) == 1, "the retry delivered")
        finally:
            await worker.close()
        wait_until(lambda: len(receiver.seen()) == 2, "the trickled answer finished")

    assert (1, 0) == (failed.attempts, failed.delivered)
    assert "no answer within 0.5 s" == failed.last_error
    assert 1 == (await endpoints.get(endpoint.id)).delivered
    assert {TRICKLE, 204} == {r.status for r in receiver.seen()}


async def test_the_running_worker_keeps_delivering_after_idle_polls_and_retries_on_its_own(
    pool: asyncpg.Pool, store: EventStore, commands: Commands, watcher: HeadWatcher
) -> None:
    def fail_first(n: int, headers: dict[str, str], body: bytes) -> int:
        return 500 if n == 0 else 204

    endpoints = Endpoints(pool, store, ALLOW)
    with receiving(fail_first) as receiver:
        endpoint, secret = await endpoints.register(
            receiver.url, types=None, stream_prefix=None, created_by="t"
        )
        task = asyncio.get_running_loop().create_task(
            WebhookWorker(pool, store, watcher, ALLOW, poll=0.1).run()
        )
        try:
            await commands.record(domain.town("gutang"), idempotency_key="town")
            await asyncio.to_thread(
                wait_until, lambda: task.done() or len(receiver.accepted()) == 1, "the town, retried"
            )
            assert not task.done(), task.exception()
            # Many polls with nothing to do: the worker must still be there for the next event.
            await asyncio.sleep(1.0)
            assert not task.done(), task.exception()
            await commands.record(domain.community("shuyuan", "gutang"), idempotency_key="community")
            await asyncio.to_thread(
                wait_until, lambda: task.done() or len(receiver.accepted()) == 2, "the community"
            )
            assert not task.done(), task.exception()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    log = await store.read_all(after_position=endpoint.position)
    assert [str(r.event_id) for r in log] == [r.msg_id for r in receiver.accepted()]
    assert [500, 204, 204] == [r.status for r in receiver.seen()]
    assert [] == verified(secret, receiver.seen())


async def test_a_redelivery_asked_for_while_a_worker_is_delivering_is_not_undone_by_it(
    pool: asyncpg.Pool, store: EventStore, commands: Commands
) -> None:
    """The worker's batch goes on past the dead letter; a rewind in the middle of it must win: the worker
    loses its lease rather than move the position back past what is to be delivered again."""
    policy = Policy(retry_base=0.01, max_attempts=1, allow_private=True)
    held, go_on, refusing = threading.Event(), threading.Event(), threading.Event()
    refusing.set()

    def answer(n: int, headers: dict[str, str], body: bytes) -> int:
        if n == 0 and refusing.is_set():
            return 500  # the town: dead at once (one attempt allowed)
        if n == 1:
            held.set()  # the community, in flight while the redelivery is asked for
            go_on.wait(HTTP_TIMEOUT)
        return 204

    endpoints = Endpoints(pool, store, policy)
    with receiving(answer) as receiver:
        endpoint, secret = await endpoints.register(
            receiver.url, types=None, stream_prefix=None, created_by="t"
        )
        await setup_community(commands)
        worker = WebhookWorker(pool, store, HeadWatcher(never), policy)
        try:
            busy = asyncio.ensure_future(worker.step())
            await asyncio.to_thread(wait_until, held.is_set, "the community's delivery in flight")
            refusing.clear()
            back_to = await endpoints.redeliver(endpoint.id)
            go_on.set()
            await busy
            await steps_until(worker, lambda: len(receiver.accepted()) >= 3, "the town delivered again")
        finally:
            go_on.set()
            await worker.close()
        done = await endpoints.get(endpoint.id)

    town, community = await store.read_all(after_position=endpoint.position)
    assert endpoint.position == back_to
    assert [str(town.event_id), str(community.event_id)] == [r.msg_id for r in receiver.accepted()[-2:]]
    assert (0, 0, community.position) == (done.dead_letters, done.lag, done.position)
    assert [] == verified(secret, receiver.seen())


async def test_an_endpoint_for_event_types_that_do_not_exist_is_refused(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    """As the events query refuses such a filter: a misspelt type would make an endpoint that never gets
    anything, silently."""
    endpoints = Endpoints(pool, store, ALLOW)
    with pytest.raises(EndpointError) as refused:
        await endpoints.register(
            "http://127.0.0.1:9/hooks",
            types=["TrainingHeld", "TrainigHeld"],
            stream_prefix=None,
            created_by="t",
        )
    kept, _ = await endpoints.register(
        "http://127.0.0.1:9/hooks", types=["TrainingHeld"], stream_prefix="community-", created_by="t"
    )

    assert ("types", "unknown event type(s): TrainigHeld") == (refused.value.field, refused.value.reason)
    assert [(("TrainingHeld",), "community-")] == [(e.types, e.stream_prefix) for e in await endpoints.list()]
    assert kept.id == (await endpoints.list())[0].id


async def test_a_slow_endpoint_does_not_hold_up_delivery_to_the_others(
    pool: asyncpg.Pool, store: EventStore, commands: Commands, watcher: HeadWatcher
) -> None:
    """One worker delivers for several endpoints: each goes at its own pace, so an endpoint that takes
    its time answering (within the deadline) delays only itself."""
    release = threading.Event()

    def slow(n: int, headers: dict[str, str], body: bytes) -> int:
        release.wait(HTTP_TIMEOUT)
        return 204

    endpoints = Endpoints(pool, store, ALLOW)
    with receiving(slow) as lagging, receiving() as quick:
        for receiver in (lagging, quick):
            await endpoints.register(receiver.url, types=None, stream_prefix=None, created_by="t")
        # A deadline longer than the slow answer: that attempt is under way, not failed, all along.
        task = asyncio.get_running_loop().create_task(
            WebhookWorker(pool, store, watcher, ALLOW, poll=0.1, timeout=120).run()
        )
        try:
            await setup_community(commands)
            await asyncio.to_thread(
                wait_until, lambda: task.done() or len(quick.accepted()) == 2, "both events at the quick one"
            )
            answered_by_the_slow_one = len(lagging.seen())
            release.set()
            await asyncio.to_thread(
                wait_until, lambda: task.done() or len(lagging.accepted()) == 2, "both at the slow one"
            )
            assert not task.done(), task.exception()
        finally:
            release.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    assert 0 == answered_by_the_slow_one
    assert [r.msg_id for r in quick.accepted()] == [r.msg_id for r in lagging.accepted()]


# --- a real `qinglian serve` ------------------------------------------------------------------------------

REGISTER = """mutation($url: String!) { registerWebhook(input: {url: $url}) { __typename
  ... on WebhookRegistered { secret endpoint { id position } }
  ... on ValidationError { errors { field message } }
  ... on NotAuthorized { reason } } }"""
EVENTS = "{ events(first: 100) { edges { node { position eventId type streamId } } } }"
WEBHOOKS = "{ deliveries { webhooks { id position lag delivered attempts deadLetters lastError } } }"


def graphql(service: Service, query: str, token: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = httpx.post(
        service.base_url + "/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=HTTP_TIMEOUT,  # a hang guard: an append held up by a failing receiver would trip it
    )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def create_token(env: dict[str, str], role: str, *scope: str) -> str:
    created = run_qinglian(
        "token", "create", "--role", role, *scope, "--name", f"webhook tests {role}", env=env
    )
    assert 0 == created.returncode, created.stderr
    return created.stdout.strip()


def record(service: Service, token: str, mutation: str, input_type: str, given: dict[str, Any]) -> int:
    """Record through the API; returns the event's position."""
    query = (
        f"mutation($key: String!, $input: {input_type}!) {{ {mutation}(idempotencyKey: $key, input: $input) "
        "{ __typename ... on Recorded { events { position } } "
        "... on ValidationError { errors { message } } ... on NotAuthorized { reason } } }"
    )
    key = f"{mutation}-{json.dumps(given, sort_keys=True)}"
    done = graphql(service, query, token, key=key, input=given)[mutation]
    assert "Recorded" == done["__typename"], done
    [event] = done["events"]
    position: int = event["position"]
    return position


def setup_through_api(service: Service, token: str) -> list[int]:
    town = {"townId": "gutang", "name": "古塘街道", "kind": "SUBDISTRICT", "registeredOn": "2021-01-01"}
    community = {
        "communityId": "shuyuan",
        "townId": "gutang",
        "name": "舒苑社区",
        "kind": "COMMUNITY",
        "registeredOn": "2021-01-01",
    }
    return [
        record(service, token, "registerTown", "RegisterTownInput", town),
        record(service, token, "registerCommunity", "RegisterCommunityInput", community),
    ]


def training(service: Service, token: str, n: int) -> int:
    return record(
        service,
        token,
        "recordTraining",
        "RecordTrainingInput",
        {
            "communityId": "shuyuan",
            "trainingId": f"t-{n}",
            "kind": "INTEGRITY_COURSE",
            "heldOn": f"2022-03-{n:02d}",
            "title": f"第{n}次廉政课",
            "attendees": 20,
            "hours": 2.0,
        },
    )


def events_after(service: Service, token: str, position: int) -> list[dict[str, Any]]:
    edges = graphql(service, EVENTS, token)["events"]["edges"]
    return [e["node"] for e in edges if e["node"]["position"] > position]


def register(service: Service, token: str, url: str) -> tuple[str, int, str]:
    """An endpoint registered through the API: its id, its starting position and its secret."""
    done = graphql(service, REGISTER, token, url=url)["registerWebhook"]
    assert "WebhookRegistered" == done["__typename"], done
    return done["endpoint"]["id"], done["endpoint"]["position"], done["secret"]


def test_every_event_reaches_the_endpoint_once_in_order_through_failures_and_a_restart(
    tmp_path: Path, database_url: str
) -> None:
    env = {**child_env(database_url), **PRIVATE_OK}
    admin = create_token(env, "admin")
    clerk = create_token(env, "clerk", "--community", "shuyuan")
    held, release = threading.Event(), threading.Event()

    def answer(n: int, headers: dict[str, str], body: bytes) -> int:
        if n < 2:
            return 500
        if n == 2:
            time.sleep(1.0)  # a slow answer, and a failure all the same
            return 503
        if n >= 8 and not release.is_set():
            # The sixth event (the first five took requests 3 to 7): held in flight while the service
            # stops, and refused if the sender gives up waiting first.
            if n == 8:
                held.set()
                release.wait(HTTP_TIMEOUT)
            return 503
        return 204

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with receiving(answer) as receiver:
        with serving(first, env) as service:
            service.ready()
            endpoint_id, start, secret = register(service, admin, receiver.url)
            # Written while the receiver fails: each answers (the hang guard is the HTTP timeout).
            written = setup_through_api(service, admin) + [training(service, clerk, n) for n in range(1, 7)]
            wait_until(held.is_set, "the sixth event's delivery held by the receiver")
            # And while a delivery hangs.
            written += [training(service, clerk, n) for n in range(7, 10)]
            stopped = service.stop(SIGTERM)
        assert_stopped_cleanly(service, stopped)
        taken_before_restart = len(receiver.accepted())
        release.set()

        with serving(second, env) as service:
            service.ready()
            written += [training(service, clerk, n) for n in range(10, 12)]
            wait_until(
                lambda: len({r.msg_id for r in receiver.accepted()}) >= len(written), "every event delivered"
            )
            wait_until(
                lambda: graphql(service, WEBHOOKS, admin)["deliveries"]["webhooks"][0]["lag"] == 0,
                "the endpoint's position at the head",
            )
            log = events_after(service, admin, start)
            webhooks = graphql(service, WEBHOOKS, admin)["deliveries"]["webhooks"]
            stopped = service.stop(SIGTERM)
        assert_stopped_cleanly(service, stopped)

    ids = [e["eventId"] for e in log]
    accepted = receiver.accepted()
    assert written == [e["position"] for e in log]
    # Exactly once among the answers given 2xx, in position order, as the log holds them.
    assert ids == [r.msg_id for r in accepted]
    assert [(e["position"], e["type"], e["streamId"]) for e in log] == [
        (r.data["position"], r.data["type"], r.data["stream_id"]) for r in accepted
    ]
    assert [] == verified(secret, receiver.seen())
    # The first event was tried until it was taken; nothing after it went first.
    assert [(ids[0], 500), (ids[0], 500), (ids[0], 503), (ids[0], 204)] == [
        (r.msg_id, r.status) for r in receiver.seen()[:4]
    ]
    # The one held when the service stopped was sent again by the next.
    assert 5 == taken_before_restart
    assert [503, 204] == [r.status for r in receiver.seen() if r.msg_id == ids[5]]
    assert [
        {
            "id": endpoint_id,
            "position": written[-1],
            "lag": 0,
            "delivered": len(written),
            "attempts": 0,
            "deadLetters": 0,
            "lastError": None,
        }
    ] == webhooks


def trainings(requests: list[Request]) -> list[str | None]:
    """Each request's training id (None for other events)."""
    return [r.data["payload"].get("training_id") for r in requests]


async def dead_letters(database_url: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "select endpoint_id, position, event_id::text, attempts, last_error, redelivered_at is not null"
            " from webhook_dead_letters order by position"
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


def test_an_event_the_endpoint_keeps_refusing_is_dead_lettered_then_delivered_again_on_request(
    tmp_path: Path, database_url: str
) -> None:
    env = {**child_env(database_url), **PRIVATE_OK, "QINGLIAN_WEBHOOK_MAX_ATTEMPTS": "2"}
    admin = create_token(env, "admin")
    clerk = create_token(env, "clerk", "--community", "shuyuan")
    refusing, second_try, go_on = threading.Event(), threading.Event(), threading.Event()
    refusing.set()
    refused: list[int] = []

    def answer(n: int, headers: dict[str, str], body: bytes) -> int:
        if not refusing.is_set() or json.loads(body)["data"]["payload"].get("training_id") != "t-2":
            return 204
        refused.append(n)
        if len(refused) == 2:
            # Held so the test can look at the endpoint between the two attempts' outcomes.
            second_try.set()
            go_on.wait(HTTP_TIMEOUT)
        return 500

    with receiving(answer) as receiver:
        with serving(tmp_path, env) as service:
            service.ready()
            added = run_qinglian("webhook", "add", receiver.url, env=env)
            assert 0 == added.returncode, added.stderr
            found = re.search(r"endpoint (wh_[0-9a-f]+): (\S+), from position (\d+)", added.stdout)
            secret = re.search(r"shown once.*: (whsec_\S+)$", added.stdout, re.MULTILINE)
            assert found is not None, added.stdout
            assert secret is not None, added.stdout
            endpoint_id = found[1]
            written = setup_through_api(service, admin) + [training(service, clerk, n) for n in (1, 2, 3)]
            wait_until(second_try.is_set, "the second attempt at t-2")
            retrying = graphql(service, WEBHOOKS, admin)["deliveries"]["webhooks"]
            go_on.set()
            wait_until(lambda: trainings(receiver.accepted())[-1:] == ["t-3"], "t-3 delivered after t-2")
            wait_until(
                lambda: graphql(service, WEBHOOKS, admin)["deliveries"]["webhooks"][0]["lag"] == 0,
                "the position at the head",
            )
            after_dead = graphql(service, WEBHOOKS, admin)["deliveries"]["webhooks"]
            listed = run_qinglian("webhook", "list", "--json", env=env)
            held = asyncio.run(dead_letters(database_url))
            log = events_after(service, admin, int(found[3]))

            refusing.clear()
            redelivered = run_qinglian("webhook", "redeliver", endpoint_id, env=env)
            wait_until(lambda: trainings(receiver.accepted())[-2:] == ["t-2", "t-3"], "t-2 and t-3 again")
            wait_until(
                lambda: graphql(service, WEBHOOKS, admin)["deliveries"]["webhooks"][0]["lag"] == 0,
                "the position at the head again",
            )
            after_redelivery = graphql(service, WEBHOOKS, admin)["deliveries"]["webhooks"]
            again = run_qinglian("webhook", "redeliver", endpoint_id, env=env)
            stopped = service.stop(SIGTERM)
        assert_stopped_cleanly(service, stopped)

    poison = log[3]
    assert written == [e["position"] for e in log]
    assert (receiver.url, written[0] - 1) == (found[2], int(found[3]))
    # Two attempts (QINGLIAN_WEBHOOK_MAX_ATTEMPTS=2), then on to the next event.
    assert 2 == len(refused)
    assert [poison["eventId"]] * 2 == [r.msg_id for r in receiver.seen() if r.status == 500]
    assert [None, None, "t-1", "t-3", "t-2", "t-3"] == trainings(receiver.accepted())
    assert [] == verified(secret[1], receiver.seen())
    # Between the attempts: one failed, its error shown, nothing dead yet.
    [state] = retrying
    assert (written[2], 1, "HTTP 500", 0) == (
        state["position"],
        state["attempts"],
        state["lastError"],
        state["deadLetters"],
    )
    # Dead-lettered: counted, kept with its error; the endpoint's own error clears once t-3 is taken.
    assert [
        {**state, "position": written[-1], "lag": 0, "attempts": 0, "deadLetters": 1, "lastError": None}
    ] == [{**s, "delivered": state["delivered"]} for s in after_dead]
    assert 4 == after_dead[0]["delivered"]
    assert [(endpoint_id, poison["position"], poison["eventId"], 2, "HTTP 500", False)] == held
    assert 0 == listed.returncode, listed.stderr
    [entry] = json.loads(listed.stdout)["endpoints"]
    assert (endpoint_id, 1, 0, 0, 4) == (
        entry["id"],
        entry["dead_letters"],
        entry["lag"],
        entry["attempts"],
        entry["delivered"],
    )
    # Redelivered from just before it: it and every event after it again (receivers drop repeats by id).
    assert 0 == redelivered.returncode, redelivered.stderr
    assert f"after position {poison['position'] - 1}" in redelivered.stdout
    assert (0, 0, 6) == (
        after_redelivery[0]["deadLetters"],
        after_redelivery[0]["lag"],
        after_redelivery[0]["delivered"],
    )
    assert "has no dead letters" in one_line_error(again)


def test_a_private_destination_is_refused_unless_allowed_and_only_admins_may_register(
    tmp_path: Path, database_url: str
) -> None:
    env = child_env(database_url)
    tokens = {
        "admin": create_token(env, "admin"),
        "inspector": create_token(env, "inspector"),
        "integrator": create_token(env, "integrator"),
        "clerk": create_token(env, "clerk", "--community", "shuyuan"),
    }
    with receiving() as receiver:
        with serving(tmp_path, env) as service:
            service.ready()
            answers = {
                who: graphql(service, REGISTER, token, url=receiver.url)["registerWebhook"]
                for who, token in tokens.items()
            }
            webhooks = graphql(service, WEBHOOKS, tokens["admin"])["deliveries"]["webhooks"]
            stopped = service.stop(SIGTERM)
        assert_stopped_cleanly(service, stopped)
        added = run_qinglian("webhook", "add", receiver.url, env=env)
        listed = run_qinglian("webhook", "list", "--json", env=env)

    refusal = answers.pop("admin")
    [error] = refusal.pop("errors")
    assert ({"__typename": "ValidationError"}, "input.url") == (refusal, error["field"])
    assert "QINGLIAN_WEBHOOK_ALLOW_PRIVATE=on" in error["message"], error
    for who, answer in answers.items():
        assert "NotAuthorized" == answer["__typename"], (who, answer)
        assert "admin may" in answer["reason"], (who, answer)
    line = one_line_error(added)
    assert line.startswith("qinglian: error: url: its host resolves to a loopback"), line
    assert "QINGLIAN_WEBHOOK_ALLOW_PRIVATE=on" in line
    # Nothing registered, nothing sent.
    assert [] == webhooks
    assert {"endpoints": []} == json.loads(listed.stdout)
    assert [] == receiver.seen()
