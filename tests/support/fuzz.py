"""Schema fuzzing of a running `qinglian serve --demo`: generated operations, the checks on each answer, and
the server they are sent to.

Operations come from hypothesis-graphql, built from the executable schema: for one root field of Query or
Mutation at a time, every argument generated (custom scalars by the strategies here, which mostly give values
the service accepts, ids the demo holds, and sometimes anything), any selection of the result's fields.
`Mode.NEGATIVE` gives operations with one schema violation each. Every answer must be GraphQL-shaped JSON
within the response budget and not a 5xx, and the server's log must never show a traceback or an
unexpected error: `answer_problems` and `log_problems` say what is wrong, if anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import graphql
import httpx
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from events.disclosure import DisclosureCategory
from events.hierarchy import CommunityKind
from events.rules import RuleDocument
from events.supervision import MeetingKind
from events.training import TrainingKind
from projections.criteria import CRITERION_KINDS
from projections.periods import Granularity
from schema.build import SCHEMA
from schema.limits import DEFAULT_LIMITS
from service.demo.names import CITY_ID, PREFECTURE_POINT, REAL, TOWNS

GRAPHQL_SCHEMA: graphql.GraphQLSchema = SCHEMA._schema


def _roots(root: graphql.GraphQLObjectType | None) -> tuple[str, ...]:
    assert root is not None
    return tuple(root.fields)


QUERY_FIELDS = _roots(GRAPHQL_SCHEMA.query_type)
MUTATION_FIELDS = _roots(GRAPHQL_SCHEMA.mutation_type)
MAX_RESPONSE_BYTES = DEFAULT_LIMITS.max_response_bytes
# What the server's log must never say: a traceback, or a resolver's exception (schema/build.py).
LOG_ALARMS = re.compile(r"traceback|unexpected error", re.IGNORECASE)

LISTENING = re.compile(r"Qinglian is listening on (?P<url>http://\S+) \(database: .+\)")
TOKEN_LINE = re.compile(r"\s+demo (?P<who>admin|inspector|integrator|clerk) .*?(?P<token>qlt_\S+)")
# The demo's ids, so that many operations reach past "no such community" into the commands and reads.
KNOWN_IDS: tuple[str, ...] = (
    CITY_ID,
    *(row[0] for row in TOWNS[:6]),
    *(row[0] for row in REAL),
    PREFECTURE_POINT,
    "c1",
    "nobody",
)
# A standard's criteria (projections/criteria.py): their kinds, parameters and the parameters' words, so
# that a generated standard is sometimes one the service takes, and the reads then apply it.
CRITERION_PARAMS = (
    "category", "period", "lookback", "grace_days", "kinds", "window_days", "document", "max_age_years",
    "applies_to", "kind", "older_than_days", "due_month", "due_day",
)  # fmt: skip
CRITERION_WORDS: tuple[str, ...] = tuple(
    member.value
    for kind in (DisclosureCategory, Granularity, TrainingKind, RuleDocument, CommunityKind, MeetingKind)
    for member in kind
)
HTTP_TIMEOUT = 60.0
STARTUP_TIMEOUT = 120.0


def _mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` nine draws in ten, `odd` the tenth (shrinking towards `usual`)."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 9 else usual)


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_RECENT = st.dates(date(2018, 1, 1), date(2027, 12, 31))
# The calendar's ends and a few dates beyond the demo's years, besides any date at all.
_FAR = st.sampled_from([date.min, date.max, date(1970, 1, 1), date(2100, 2, 28)]) | st.dates()
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-12, minutes=-30))])


def _json_value() -> st.SearchStrategy[graphql.ValueNode]:
    """A JSON literal as a GraphQL value (strings, numbers, booleans, null, lists and objects of them)."""
    leaves = st.one_of(
        _TEXT.map(nodes.String),
        st.sampled_from(CRITERION_WORDS).map(nodes.String),
        st.integers(-5, 400).map(nodes.Int),
        st.integers(-(2**40), 2**40).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.booleans().map(nodes.Boolean),
        st.just(graphql.NullValueNode()),
    )

    def nested(children: st.SearchStrategy[graphql.ValueNode]) -> st.SearchStrategy[graphql.ValueNode]:
        keys = _mostly(
            st.sampled_from(CRITERION_PARAMS), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
        )
        members = st.dictionaries(keys, children, max_size=4).map(
            lambda d: nodes.Object(
                [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items()]
            )
        )
        return st.lists(children, max_size=4).map(nodes.List) | members

    return st.recursive(leaves, nested, max_leaves=8)


def custom_scalars() -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Strategies for the schema's own scalars, and for String and ID: mostly values the service takes
    (dates of the demo's years, the demo's ids), sometimes anything of the type's literal kind."""
    ids = _mostly(st.sampled_from(KNOWN_IDS), _TEXT)
    words = st.sampled_from(KNOWN_IDS + CRITERION_KINDS + CRITERION_WORDS)
    dates = _mostly(_RECENT, _FAR).map(date.isoformat)
    moments = _mostly(
        st.datetimes(datetime(2018, 1, 1), datetime(2027, 12, 31), timezones=_ZONES),
        st.datetimes(timezones=_ZONES | st.none()),
    ).map(datetime.isoformat)
    return {
        "String": _mostly(words, _TEXT).map(nodes.String),
        "ID": ids.map(nodes.String),
        "Date": _mostly(dates, _TEXT).map(nodes.String),
        "DateTime": _mostly(moments, _TEXT).map(nodes.String),
        "AsOf": _mostly(dates | moments, _TEXT).map(nodes.String),
        "TreeSize": _mostly(st.integers(0, 6000), st.integers(-(2**64), 2**64)).map(nodes.Int),
        "JSON": _json_value(),
    }


SCALARS = custom_scalars()


def operations(kind: str, root: str | None = None, *, negative: bool = False) -> st.SearchStrategy[str]:
    """Documents of `kind` ("query" or "mutation"): of one root field, or of any with `root` None; valid,
    or with one schema violation each (`negative`; some root fields have nothing to violate on their own)."""
    make = queries if kind == "query" else mutations
    mode = Mode.NEGATIVE if negative else Mode.POSITIVE
    fields = None if root is None else [root]
    return make(GRAPHQL_SCHEMA, fields=fields, custom_scalars=SCALARS, mode=mode)


def answer_problems(status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with one answer: a 5xx, a body over the response budget, or a body that is not a
    GraphQL response (a JSON object with `data` and/or `errors`, each error an object with a message)."""
    problems = []
    if status >= 500:
        problems.append(f"HTTP {status}")
    if len(body) > MAX_RESPONSE_BYTES:
        problems.append(f"{len(body)} bytes, over the response budget of {MAX_RESPONSE_BYTES}")
    if "application/json" not in content_type:
        problems.append(f"content type {content_type!r}")
    try:
        answer = json.loads(body)
    except ValueError:
        return [*problems, f"not JSON: {body[:200]!r}"]
    if not isinstance(answer, dict) or not ({"data", "errors"} & answer.keys()):
        return [*problems, f"no data or errors: {body[:200]!r}"]
    if set(answer) - {"data", "errors", "extensions"}:
        problems.append(f"unexpected keys {sorted(answer)}")
    if not isinstance(answer.get("data"), dict | None):
        problems.append(f"data is {type(answer['data']).__name__}")
    if "errors" in answer:
        errors = answer["errors"]
        if not isinstance(errors, list) or not errors:
            problems.append(f"errors is {errors!r}")
        else:
            for error in errors:
                if (
                    not isinstance(error, dict)
                    or not isinstance(error.get("message"), str)
                    or not error["message"]
                ):
                    problems.append(f"an error without a message: {error!r}")
    return problems


def log_problems(text: str) -> list[str]:
    """The lines of a server log that show a traceback or an unexpected error."""
    return [line for line in text.splitlines() if LOG_ALARMS.search(line)]


def outcome(status: int, body: bytes) -> str:
    """How an answer is counted: `ok`, or its errors' first code (`GRAPHQL_ERROR` when it has none, as
    for graphql-core's validation errors), after the status when that is not 200."""
    try:
        answer = json.loads(body)
    except ValueError:
        return f"{status} not JSON"
    errors = answer.get("errors") if isinstance(answer, dict) else None
    code = "ok"
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str((first.get("extensions") or {}).get("code") or "GRAPHQL_ERROR")
    return code if status == 200 else f"{status} {code}"


@dataclass
class Served:
    """A `qinglian serve --demo` process: its address, its demo tokens and its log (stdout and stderr)."""

    process: subprocess.Popen[str]
    log_file: Path
    base_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    stdout: list[str] = field(default_factory=list)
    read_upto: int = 0

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") + "\n".join(self.stdout)

    def new_log(self) -> str:
        """What the server wrote to stderr since the last call."""
        with self.log_file.open("rb") as f:
            f.seek(self.read_upto)
            data = f.read()
        self.read_upto += len(data)
        return data.decode(errors="replace")

    def authorization(self, who: str) -> dict[str, str]:
        """Headers for one of the demo's principals, or none for `anonymous`."""
        return {} if who == "anonymous" else {"Authorization": f"Bearer {self.tokens[who]}"}


def _command() -> list[str]:
    script = Path(sys.executable).with_name("qinglian")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.runtime.cli import main; raise SystemExit(main())"]


@contextlib.contextmanager
def serving(database_url: str, folder: Path) -> Iterator[Served]:
    """`qinglian serve --port 0 --demo` on `database_url` (rate limits off, so the fuzzer is never
    throttled), once it listens and has printed its demo tokens; killed at the end."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("QINGLIAN_")}
    env |= {
        "DATABASE_URL": database_url,
        "QINGLIAN_RATE_LIMIT": "off",
        "QINGLIAN_ANONYMOUS_RATE_LIMIT": "off",
        "QINGLIAN_DATA_DIR": str(folder / "data"),
    }
    log_file = folder / "qinglian.log"
    with log_file.open("w") as stderr:
        process = subprocess.Popen(
            [*_command(), "serve", "--port", "0", "--demo"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    served = Served(process, log_file)
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            served.stdout.append(line.rstrip("\n"))
            if (match := LISTENING.fullmatch(line.strip())) is not None:
                served.base_url = match["url"]
            elif (match := TOKEN_LINE.match(line)) is not None:
                served.tokens[match["who"]] = match["token"]
            if served.base_url and len(served.tokens) == 4:
                ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not ready.wait(STARTUP_TIMEOUT) or len(served.tokens) < 4:
            raise RuntimeError(f"serve --demo did not start:\n{served.log()}")
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        reader.join(timeout=30)


def send(client: httpx.Client, served: Served, document: str, who: str) -> tuple[httpx.Response, float]:
    """POST one document as `who`; the answer and how long it took, in seconds."""
    started = time.perf_counter()
    answer = client.post(
        served.base_url + "/graphql", json={"query": document}, headers=served.authorization(who)
    )
    return answer, time.perf_counter() - started
