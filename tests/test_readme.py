"""Every fenced block of README.md runs, or is checked where it cannot run, so the README cannot drift.

```graphql blocks go over HTTP to the README's own `qinglian serve --demo` line, started on a free port
against a fresh database, as the role a first-line comment names (`# as the demo clerk`; none: anonymous).
A ```json block right after one holds its variables, unless it has only `data` and `errors` keys: then it
is the answer, and the real answer must hold everything it shows. More clauses in the first-line comment,
after `;`: `answers TYPE` (the root field's `__typename`), `fails with CODE` (an error with that
`extensions.code`; without it, no error is allowed) and `sent twice, the second answer has "replayed": true`.
A block whose variables give `after` is asked again with its answer's `pageInfo.endCursor`: the next page.

```sh blocks run line by line, in README order, in one folder per run, against the same database:
- `qinglian …` lines through bash (redirections and `NAME=value` prefixes as written), exit status 0; a
  comment's figures and Chinese names must appear in the output (`# 慈溪市 100 communities, 93 standardized`);
  the `serve --demo` line is the server above; any other `serve` line starts on a database of its own and
  is stopped once ready;
- `curl …` lines parsed by bash (quotes, `$TOKEN`), then sent by this test with their method, headers and
  body to the server above (`http://127.0.0.1:8000` becomes its address): HTTP 200 and no errors;
- `NAME=…` lines are values the reader copies from an earlier output; this test fills them:
  `TOKEN=…  # … "demo ROLE" …` with the token `serve --demo` printed for that role, and
  `TOKEN_ID=…  # … token list …` with the first column of the row of the token the block's `token create`
  named, in the output of its `token list`;
- `python examples/NAME.py …` lines run that example (tests/test_examples.py runs it at length): its
  arguments as bash reads them, `ws://127.0.0.1:8000` becoming the server's address, with `--stop-after 1`
  added and a cursor file that holds the cursor of the event before the log's head: it must print that one
  event and store its cursor;
- `pip install`, `pytest`, `python -m tests.bench.NAME` and `docker compose` cannot run here: the extras,
  the benchmark module and its `__main__`, and the compose services and ports they name are checked, and
  the `qinglian` command a `docker compose exec` line runs is run as any other.

```python blocks are excerpts of an example the first line names (`# examples/NAME.py, abridged`): each run
of lines between `...` lines is, dedented, a run of lines of that file, dedented alike, in the file's order.
Any other kind of block or line fails, so nothing new slips in unchecked.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from service.read.paging import position_cursor
from tests.service.runtime.test_serve import (
    HTTP_TIMEOUT,
    SIGTERM,
    Service,
    assert_stopped_cleanly,
    launched,
)
from tests.support.pg import create_database, drop_database, unique_name, with_database

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_BASE = "http://127.0.0.1:8000"
# Hang guards only: serve --demo loads 4,000-odd events before it is ready (longer on the embedded server).
DEMO_TIMEOUT = 600.0
COMMAND_TIMEOUT = 300.0
BASH = shutil.which("bash") or "/bin/bash"

FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER = "…"
FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?%?")
CHINESE = re.compile(r"[\u4e00-\u9fff]+")
ROLE_CLAUSE = re.compile(r"as the (?P<role>demo (?:admin|inspector|integrator|clerk))")
ANSWERS_CLAUSE = re.compile(r"answers (?P<type>[A-Za-z]+)")
FAILS_CLAUSE = re.compile(r"fails with (?P<code>[A-Z_]+)")
TWICE_CLAUSE = 'sent twice, the second answer has "replayed": true'
MAIN_GUARDS = {"__name__ == '__main__'", "'__main__' == __name__"}
TOKEN_LINE = re.compile(r"^\s+(?P<label>demo \w+(?: of \S+)?)\s+(?P<token>qlt_\S+)$")
EXCERPT_SOURCE = re.compile(r"^# (?P<path>examples/\w+\.py)\b")
ELISION = "..."


# --- reading the README ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int  # of the opening fence


def fenced_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"README.md:{start + 1}: a fence that is never closed"
        found.append(Block(opening["lang"], "\n".join(body), start + 1))
        i += 1
    return found


@dataclass(frozen=True)
class Operation:
    """A ```graphql block with its variables and shown answer, and what its first-line comment asks."""

    block: Block
    variables: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    role: str | None = None
    answers: str | None = None
    fails_with: str | None = None
    twice: bool = False


def _is_answer(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= {"data", "errors"}


def _with_markers(block: Block, problems: list[str]) -> Operation:
    first = block.text.lstrip().splitlines()[0] if block.text.strip() else ""
    op = Operation(block)
    if not first.startswith("#"):
        return op
    for clause in (c.strip() for c in first.lstrip("#").split(";")):
        if role := ROLE_CLAUSE.fullmatch(clause):
            op = replace(op, role=role["role"])
        elif answers := ANSWERS_CLAUSE.fullmatch(clause):
            op = replace(op, answers=answers["type"])
        elif fails := FAILS_CLAUSE.fullmatch(clause):
            op = replace(op, fails_with=fails["code"])
        elif clause == TWICE_CLAUSE:
            op = replace(op, twice=True)
        else:
            problems.append(f"README.md:{block.line}: a graphql comment this test cannot check: {clause!r}")
    return op


def operations(blocks: list[Block]) -> tuple[list[Operation], list[str]]:
    """The graphql blocks with their json blocks, and whatever json block belongs to none."""
    ops: list[Operation] = []
    problems: list[str] = []
    for i, block in enumerate(blocks):
        if block.lang == "graphql":
            ops.append(_with_markers(block, problems))
        elif block.lang == "json":
            previous = blocks[i - 1].lang if i else ""
            try:
                value = json.loads(block.text)
            except json.JSONDecodeError as exc:
                problems.append(f"README.md:{block.line}: json that does not parse: {exc}")
                continue
            attached = ops and previous in {"graphql", "json"}
            if not attached:
                problems.append(f"README.md:{block.line}: a json block after no graphql block")
            elif _is_answer(value) and ops[-1].answer is None:
                ops[-1] = replace(ops[-1], answer=value)
            elif isinstance(value, dict) and previous == "graphql" and ops[-1].variables is None:
                ops[-1] = replace(ops[-1], variables=value)
            else:
                problems.append(f"README.md:{block.line}: a json block that is neither variables nor answer")
    return ops, problems


@dataclass(frozen=True)
class Part:
    """One command of a ```sh block (`a && b` is two), with the comment on its line."""

    text: str
    words: list[str]
    comment: str
    line: int

    @property
    def command(self) -> list[str]:
        """The words after any `NAME=value` prefixes."""
        i = 0
        while i < len(self.words) and ASSIGNMENT.match(self.words[i]):
            i += 1
        return self.words[i:]

    @property
    def prefix(self) -> dict[str, str]:
        """The `NAME=value` words before the command, as the environment they set."""
        found: dict[str, str] = {}
        for word in self.words:
            if not ASSIGNMENT.match(word):
                break
            name, value = word.split("=", 1)
            found[name] = value
        return found

    @property
    def kind(self) -> str:
        cmd = self.command
        if not cmd:
            return "assign" if len(self.words) == 1 else "unknown"
        if cmd[0] == "qinglian":
            return "serve" if cmd[1:2] == ["serve"] else "qinglian"
        if cmd[0] == "curl" and len(cmd) == len(self.words):
            return "curl"
        if cmd[:2] == ["pip", "install"] and len(cmd) == len(self.words):
            return "pip"
        if cmd == ["pytest"]:
            return "pytest"
        if len(cmd) == 3 and cmd[:2] == ["python", "-m"] and cmd[2].startswith("tests.bench."):
            return "bench"
        if cmd[:2] == ["docker", "compose"] and len(cmd) == len(self.words):
            return "compose"
        if len(cmd) > 1 and cmd[0] == "python" and re.fullmatch(r"examples/\w+\.py", cmd[1]):
            return "example"
        return "unknown"


def _scan(text: str) -> tuple[str, str, bool, list[int], list[str]]:
    """Shell text read as bash quotes it: its code and comment, whether a quote is left open, where it splits
    on `&&`, and any other control operator found outside quotes."""
    code: list[str] = []
    comment: list[str] = []
    splits: list[int] = []
    operators: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote == "'":
            quote = "" if c == "'" else quote
        elif c == "\\" and i + 1 < len(text):
            code.append(c + text[i + 1])
            i += 2
            continue
        elif quote == '"':
            quote = "" if c == '"' else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (not code or code[-1][-1:].isspace()):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            comment.append(text[i + 1 : end].strip())
            i = end
            continue
        elif text.startswith("&&", i):
            splits.append(len("".join(code)))
            code.append("&&")
            i += 2
            continue
        elif c in "|;&" or text.startswith("$(", i) or c == "`":
            operators.append(c)
        code.append(c)
        i += 1
    return "".join(code), " ".join(comment), bool(quote), splits, operators


def sh_parts(block: Block) -> tuple[list[Part], list[str]]:
    parts: list[Part] = []
    problems: list[str] = []
    pending = ""
    start = 0
    for offset, line in enumerate(block.text.splitlines()):
        if not pending:
            start = block.line + 1 + offset
        pending += line + "\n"
        code, comment, open_quote, splits, operators = _scan(pending)
        if open_quote or code.rstrip().endswith("\\"):
            continue
        pending = ""
        if not code.strip():
            continue  # a line of prose in a comment
        if operators:
            problems.append(f"README.md:{start}: a shell operator this test cannot check: {operators}")
            continue
        bounds = [0, *splits, len(code)]
        for i in range(len(bounds) - 1):
            text = code[bounds[i] : bounds[i + 1]].removeprefix("&&").strip()
            part = Part(text, shlex.split(text), comment if i == len(bounds) - 2 else "", start)
            parts.append(part)
            if part.kind == "unknown":
                problems.append(f"README.md:{start}: a command this test cannot run or check: {text!r}")
    if pending:
        problems.append(f"README.md:{start}: a command left unfinished")
    return parts, problems


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))
OPERATIONS, OPERATION_PROBLEMS = operations(BLOCKS)
SH_BLOCKS = [b for b in BLOCKS if b.lang == "sh"]
PARTS = [part for b in SH_BLOCKS for part in sh_parts(b)[0]]
RUNS = {"serve", "qinglian", "curl", "assign", "example"}


def _runs(block: Block) -> bool:
    return any(p.kind in RUNS or _exec_inner(p) is not None for p in sh_parts(block)[0])


def _exec_inner(part: Part) -> str | None:
    """The `qinglian …` command a `docker compose exec SERVICE qinglian …` line runs in the container."""
    cmd = part.command
    if part.kind == "compose" and cmd[2:3] == ["exec"] and cmd[4:5] == ["qinglian"]:
        return part.text.split(None, 4)[4]
    return None


# --- what cannot run here: checked ----------------------------------------------------------------------


def test_every_block_and_line_is_of_a_kind_this_test_runs_or_checks() -> None:
    problems = list(OPERATION_PROBLEMS)
    for block in BLOCKS:
        if block.lang not in {"sh", "graphql", "json", "python"}:
            problems.append(f"README.md:{block.line}: a ```{block.lang} block this test cannot check")
        if block.lang == "sh":
            problems.extend(sh_parts(block)[1])
    assert [] == problems
    # The parser found what the README is known to hold, so an empty problem list means something.
    assert {"serve", "qinglian", "curl", "pip", "pytest", "bench", "compose", "assign", "example"} <= {
        p.kind for p in PARTS
    }
    assert any(b.lang == "python" for b in BLOCKS)
    assert any(op.answer is not None for op in OPERATIONS)
    assert any(op.variables is not None for op in OPERATIONS)


def test_pip_and_pytest_lines_name_extras_that_exist() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    lines = [p for p in PARTS if p.kind in {"pip", "pytest"}]
    assert lines
    for part in lines:
        if part.kind == "pytest":
            assert any(re.match(r"pytest\b", r) for r in extras["test"]), part.text
            continue
        targets = [w for w in part.command[2:] if w != "-e"]
        assert targets, part.text
        for target in targets:
            named = re.fullmatch(r"\.(?:\[(?P<extras>[\w,-]+)\])?", target)
            assert named is not None, f"README.md:{part.line}: pip installs {target!r}, not this project"
            for extra in (named["extras"] or "").split(",") if named["extras"] else []:
                assert extra in extras, f"README.md:{part.line}: no extra {extra!r} in pyproject.toml"


def excerpt_problems(block: Block) -> list[str]:
    """Where a ```python block is not what it says: runs of lines of the example its first line names."""
    lines = block.text.splitlines()
    named = EXCERPT_SOURCE.match(lines[0]) if lines else None
    if named is None:
        return [f"README.md:{block.line}: a python block whose first line names no examples/NAME.py"]
    path = ROOT / named["path"]
    if not path.is_file():
        return [f"README.md:{block.line}: no {named['path']}"]
    source = path.read_text(encoding="utf-8").splitlines()
    pieces: list[list[str]] = [[]]
    for line in lines[1:]:
        if line.strip() == ELISION:
            pieces.append([])
        else:
            pieces[-1].append(line)
    problems: list[str] = []
    start = 0
    for piece in filter(None, pieces):
        wanted = textwrap.dedent("\n".join(piece))
        found = next(
            (
                i
                for i in range(start, len(source) - len(piece) + 1)
                if textwrap.dedent("\n".join(source[i : i + len(piece)])) == wanted
            ),
            None,
        )
        if found is None:
            problems.append(f"README.md:{block.line}: not in {named['path']} (after line {start}):\n{wanted}")
        else:
            start = found + len(piece)
    return problems


def test_python_blocks_are_excerpts_of_the_examples() -> None:
    blocks = [b for b in BLOCKS if b.lang == "python"]
    assert blocks
    assert [] == [problem for block in blocks for problem in excerpt_problems(block)]


def test_an_excerpt_that_differs_from_its_example_is_caught() -> None:
    block = next(b for b in BLOCKS if b.lang == "python")
    first, *rest = block.text.splitlines()
    edited = [line.replace("after", "before") for line in rest]
    assert excerpt_problems(replace(block, text="\n".join([first, *edited])))
    pieces = "\n".join(rest).split(f"\n{ELISION}\n")
    assert len(pieces) > 1
    swapped = "\n".join([first, f"\n{ELISION}\n".join(reversed(pieces))])
    assert excerpt_problems(replace(block, text=swapped))


def test_benchmark_lines_name_modules_that_run_as_main() -> None:
    lines = [p for p in PARTS if p.kind == "bench"]
    assert lines
    for part in lines:
        path = ROOT / Path(*part.command[2].split(".")).with_suffix(".py")
        assert path.is_file(), f"README.md:{part.line}: no {path.relative_to(ROOT)}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        mains = [
            node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) in MAIN_GUARDS
        ]
        assert mains, f"README.md:{part.line}: {path.relative_to(ROOT)} does nothing when run"


def test_docker_compose_lines_name_services_and_ports_that_exist() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services: dict[str, Any] = compose["services"]
    published = {str(p).split(":")[0] for s in services.values() for p in s.get("ports", [])}
    lines = [p for p in PARTS if p.kind == "compose"]
    assert lines
    for part in lines:
        cmd = part.command
        where = f"README.md:{part.line}"
        if cmd[2] == "up":
            assert set(cmd[3:]) <= {"--build", "-d", "--detach"}, f"{where}: {part.text}"
        elif cmd[2] == "exec":
            assert cmd[3] in services, f"{where}: no service {cmd[3]!r}"
            assert _exec_inner(part) is not None, f"{where}: only qinglian commands are run here"
        else:
            pytest.fail(f"{where}: a docker compose command this test cannot check: {part.text}")
        for port in re.findall(r":(\d+)", part.comment):
            assert port in published, f"{where}: port {port} is not published"


def test_the_error_codes_listed_are_codes_the_service_gives() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("| code | when |") + 2
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("| `"))
    rows = lines[start:end]
    listed = [code for row in rows for code in re.findall(r"`([A-Z_]+)`", row.split("|")[1])]
    files = [p for folder in ("schema", "service") for p in (ROOT / folder).rglob("*.py")]
    source = "\n".join(p.read_text(encoding="utf-8") for p in files)
    assert len(listed) > 10
    assert [] == [code for code in listed if f'"{code}"' not in source]


def test_the_websocket_paragraph_holds() -> None:
    text = README.read_text(encoding="utf-8")
    assert "ws://127.0.0.1:8000/graphql" in text
    assert "`graphql-transport-ws`" in text
    assert "`graphql-ws`" in text
    # Every subscription the schema has is in the README's table, and no other.
    sdl = (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8")
    block = sdl[sdl.index("type Subscription {") :]
    fields = set(re.findall(r"^  (\w+)\(", block[: block.index("\n}")], re.MULTILINE))
    listed = set(re.findall(r"^\| `(\w+)\(", text, re.MULTILINE))
    assert fields == {"events", "communityStatusChanged", "coverageChanged"}
    assert fields == listed


# --- what runs: against serve --demo ----------------------------------------------------------------------


@dataclass
class Demo:
    service: Service
    url: str  # the database's
    argv: list[str]  # the README's serve line
    tokens: dict[str, str]  # by label, as serve --demo printed them
    workdir: Path
    admin_url: str
    template_db: str
    created: list[str] = field(default_factory=list)  # --name of each `token create`
    listed: str = ""  # the last `token list` output

    @property
    def base_url(self) -> str:
        return self.service.base_url

    def token(self, role: str) -> str:
        found = [token for label, token in self.tokens.items() if label.startswith(role)]
        assert 1 == len(found), f"serve --demo printed no single token for {role!r}: {sorted(self.tokens)}"
        return found[0]


def _serve_demo_line() -> Part:
    found = [p for p in PARTS if p.kind == "serve" and "--demo" in p.command]
    assert found, "the README has no `qinglian serve --demo` line"
    return found[0]


def _command_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("QINGLIAN_")}
    script = Path(sys.executable).with_name("qinglian")
    assert script.exists(), "the qinglian console script is not installed beside this Python"
    env["PATH"] = f"{script.parent}{os.pathsep}{env.get('PATH', '')}"
    env["DATABASE_URL"] = url
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def demo(admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    name = unique_name("qinglian_readme")
    asyncio.run(create_database(admin_url, name, template=template_db))
    url = with_database(admin_url, name)
    line = _serve_demo_line()
    workdir = tmp_path_factory.mktemp("readme")
    try:
        with launched(workdir, _command_env(url, **line.prefix), *line.command[1:], "--port", "0") as service:
            service.wait_until_listening(DEMO_TIMEOUT)
            tokens: dict[str, str] = {}
            deadline = time.monotonic() + DEMO_TIMEOUT
            while True:
                printed = service.lines.get(timeout=max(0.0, deadline - time.monotonic()))
                assert printed is not None, f"serve --demo ended:\n{service.stderr()}"
                service.stdout.append(printed)
                if token := TOKEN_LINE.match(printed):
                    tokens[token["label"]] = token["token"]
                if printed.startswith("Try a mutation"):
                    break
            ready, _ = service.ready(DEMO_TIMEOUT)
            assert 200 == ready.status_code, ready.text
            yield Demo(service, url, line.words, tokens, workdir, admin_url, template_db)
            assert_stopped_cleanly(service, service.stop(SIGTERM))
    finally:
        asyncio.run(drop_database(admin_url, name))


def _post(demo: Demo, op: Operation) -> httpx.Response:
    headers = {"Authorization": f"Bearer {demo.token(op.role)}"} if op.role else {}
    body: dict[str, Any] = {"query": op.block.text}
    if op.variables is not None:
        body["variables"] = op.variables
    return httpx.post(demo.base_url + "/graphql", json=body, headers=headers, timeout=HTTP_TIMEOUT)


def holds(shown: Any, actual: Any) -> bool:
    """Whether `actual` holds everything `shown` shows: equal scalars and lists, and for objects the keys
    shown (an example may leave out an error's `locations`)."""
    if isinstance(shown, dict):
        return isinstance(actual, dict) and all(k in actual and holds(v, actual[k]) for k, v in shown.items())
    if isinstance(shown, list):
        return isinstance(actual, list) and len(shown) == len(actual) and all(map(holds, shown, actual))
    return bool(shown == actual and type(shown) is type(actual))


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"README.md:{op.block.line}" for op in OPERATIONS])
def test_graphql_block_answers_as_the_readme_says(demo: Demo, op: Operation) -> None:
    response = _post(demo, op)

    assert 200 == response.status_code, response.text
    answer = response.json()
    codes = [e.get("extensions", {}).get("code") for e in answer.get("errors", [])]
    if op.fails_with:
        assert op.fails_with in codes, answer
    else:
        assert "errors" not in answer, answer
    if op.answer is not None:
        assert holds(op.answer, answer), answer
    if op.answers or op.twice:
        (root,) = answer["data"].values()
        if op.answers:
            assert op.answers == root["__typename"], root
        if op.twice:
            again = _post(demo, op).json()["data"]
            (second,) = again.values()
            assert (False, True) == (root["replayed"], second["replayed"]), (root, second)
            assert {**root, "replayed": True} == {**second, "settled": root.get("settled")}
    if op.variables is not None and "after" in op.variables:
        _follow_the_next_page(demo, op, answer["data"])


def _follow_the_next_page(demo: Demo, op: Operation, data: dict[str, Any]) -> None:
    """As the README says: the page's `pageInfo.endCursor` as `after` gives the next page."""
    (connection,) = data.values()
    assert connection["pageInfo"]["hasNextPage"], "the example should have a next page to follow"
    after = connection["pageInfo"]["endCursor"]
    following = _post(demo, replace(op, variables={**(op.variables or {}), "after": after})).json()
    assert "errors" not in following, following
    (next_page,) = following["data"].values()
    first_ids = [edge["node"]["id"] for edge in connection["edges"]]
    next_ids = [edge["node"]["id"] for edge in next_page["edges"]]
    assert next_ids
    assert not set(first_ids) & set(next_ids)


def _check_figures(part: Part, output: str) -> None:
    """The figures and Chinese names a line's comment states must be in what it printed."""
    for figure in FIGURE.findall(part.comment):
        pattern = rf"(?<![\d.,]){re.escape(figure)}(?![\d%]|[.,]\d)"
        assert re.search(pattern, output), f"README.md:{part.line}: {figure!r} not in:\n{output}"
    for name in CHINESE.findall(part.comment):
        assert name in output, f"README.md:{part.line}: {name!r} not in:\n{output}"


def _fill(demo: Demo, part: Part) -> tuple[str, str]:
    name, value = part.words[0].split("=", 1)
    if value != PLACEHOLDER:
        return name, value
    if name == "TOKEN" and (role := re.search(r'"(demo [^"]+)"', part.comment)):
        return name, demo.token(role[1])
    if name == "TOKEN_ID" and "token list" in part.comment and demo.created and demo.listed:
        rows = [row.split()[0] for row in demo.listed.splitlines() if row.endswith(demo.created[-1])]
        assert 1 == len(rows), demo.listed
        return name, rows[0]
    pytest.fail(f"README.md:{part.line}: a placeholder this test does not know how to fill: {part.text}")


def _run_qinglian(demo: Demo, part: Part, text: str, variables: dict[str, str]) -> None:
    result = subprocess.run(
        [BASH, "-c", text],
        cwd=demo.workdir,
        env=_command_env(demo.url, **variables),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    shown = f"README.md:{part.line}: {text}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert 0 == result.returncode, shown
    _check_figures(part, result.stdout)
    words = shlex.split(text)
    words = words[next(i for i, w in enumerate(words) if not ASSIGNMENT.match(w)) :]
    if words[1:3] == ["token", "create"]:
        demo.created.append(words[words.index("--name") + 1])
    if words[1:3] == ["token", "list"]:
        demo.listed = result.stdout


def _run_serve(demo: Demo, part: Part) -> None:
    if part.words == demo.argv:
        # The server every block talks to was started from this very line.
        assert 200 == demo.service.get("/readyz").status_code
        return
    # Any other serve line gets a database of its own: a second --demo would revoke the tokens in use.
    name = unique_name("qinglian_readme_serve")
    url = asyncio.run(create_database(demo.admin_url, name, template=demo.template_db))
    try:
        env = _command_env(url, **part.prefix)
        with launched(demo.workdir, env, *part.command[1:], "--port", "0") as service:
            service.wait_until_listening(DEMO_TIMEOUT)
            ready, _ = service.ready(DEMO_TIMEOUT)
            assert 200 == ready.status_code, ready.text
            assert 0 == service.stop(SIGTERM), service.stderr()
    finally:
        asyncio.run(drop_database(demo.admin_url, name))


def _run_curl(demo: Demo, part: Part, variables: dict[str, str]) -> None:
    # bash reads the line, quotes and variables as a reader's shell would; this test sends what it reads.
    printed = subprocess.run(
        [BASH, "-c", "curl() { printf '%s\\0' \"$@\"; }; " + part.text],
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    ).stdout
    args = printed.split("\0")[:-1]
    headers: dict[str, str] = {}
    data: list[str] = []
    encoded: list[tuple[str, str]] = []
    urls: list[str] = []
    get = False
    options = iter(args)
    for arg in options:
        if arg in {"-s", "--silent"}:
            continue
        if arg in {"-H", "--header"}:
            key, value = next(options).split(":", 1)
            headers[key.strip()] = value.strip()
        elif arg in {"-d", "--data"}:
            data.append(next(options))
        elif arg == "--data-urlencode":
            key, _, value = next(options).partition("=")
            encoded.append((key, value))
        elif arg in {"-G", "--get"}:
            get = True
        elif arg.startswith("-"):
            pytest.fail(f"README.md:{part.line}: a curl option this test does not know: {arg}")
        else:
            urls.append(arg)
    assert 1 == len(urls), f"README.md:{part.line}: {urls}"
    assert urls[0].startswith(README_BASE), f"README.md:{part.line}: {urls}"
    url = demo.base_url + urls[0].removeprefix(README_BASE)
    if get or not (data or encoded):  # curl sends a GET unless given data without -G
        params = tuple([(k, v) for k, _, v in (d.partition("=") for d in data)] + encoded)
        response = httpx.get(url, params=params, headers=headers, timeout=HTTP_TIMEOUT)
    else:
        assert not encoded, f"README.md:{part.line}: {args}"
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        response = httpx.post(url, content="&".join(data).encode(), headers=headers, timeout=HTTP_TIMEOUT)
    assert 200 == response.status_code, f"README.md:{part.line}: {response.text}"
    if not urls[0].startswith(README_BASE + "/graphql"):
        return
    answer = response.json()
    assert "errors" not in answer, f"README.md:{part.line}: {answer}"
    assert answer["data"], f"README.md:{part.line}: {answer}"


def _run_example(demo: Demo, part: Part, variables: dict[str, str]) -> None:
    # bash reads the line's arguments as a reader's shell would.
    printed = subprocess.run(
        [BASH, "-c", "python() { printf '%s\\0' \"$@\"; }; " + part.text],
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    ).stdout
    script, *args = [arg.replace("ws://127.0.0.1:8000", _ws_base(demo)) for arg in printed.split("\0")[:-1]]
    assert any(arg.startswith(_ws_base(demo)) for arg in args), f"README.md:{part.line}: {args}"
    cursor_file = demo.workdir / args[args.index("--cursor-file") + 1]
    head = demo.service.get("/readyz").json()["head"]
    cursor_file.write_text(position_cursor("events", head - 1) + "\n")
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / script), *args, "--stop-after", "1"],
            cwd=demo.workdir,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        stored = cursor_file.read_text().strip()
    finally:
        cursor_file.unlink()
    shown = f"README.md:{part.line}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert 0 == result.returncode, shown
    [printed_line] = result.stdout.splitlines()
    assert str(head) == printed_line.split()[0], shown
    assert position_cursor("events", head) == stored


@pytest.mark.parametrize(
    "block", [b for b in SH_BLOCKS if _runs(b)], ids=[f"README.md:{b.line}" for b in SH_BLOCKS if _runs(b)]
)
def test_sh_block_runs(demo: Demo, block: Block) -> None:
    parts, problems = sh_parts(block)
    assert [] == problems
    variables: dict[str, str] = {}
    for part in parts:
        if part.kind == "assign":
            name, value = _fill(demo, part)
            variables[name] = value
        elif part.kind == "serve":
            _run_serve(demo, part)
        elif part.kind == "qinglian":
            _run_qinglian(demo, part, part.text, variables)
        elif part.kind == "curl":
            _run_curl(demo, part, variables)
        elif part.kind == "example":
            _run_example(demo, part, variables)
        elif (inner := _exec_inner(part)) is not None:
            _run_qinglian(demo, part, inner, variables)


def _ws_base(demo: Demo) -> str:
    return demo.base_url.replace("http://", "ws://")


def _ws_url(demo: Demo) -> str:
    return _ws_base(demo) + "/graphql"


def test_the_websocket_endpoint_answers_a_query_over_graphql_transport_ws(demo: Demo) -> None:
    query = next(op for op in OPERATIONS if op.role is None and op.variables is None and not op.fails_with)
    protocol = Subprotocol("graphql-transport-ws")

    with connect(_ws_url(demo), subprotocols=[protocol], open_timeout=HTTP_TIMEOUT) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        received = [json.loads(ws.recv(timeout=HTTP_TIMEOUT))]
        ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": query.block.text}}))
        while received[-1].get("type") not in ("complete", "error"):
            received.append(json.loads(ws.recv(timeout=HTTP_TIMEOUT)))

    assert ["connection_ack", "next", "complete"] == [m["type"] for m in received], received
    assert _post(demo, query).json() == received[1]["payload"]


def test_the_websocket_endpoint_accepts_the_older_graphql_ws(demo: Demo) -> None:
    protocol = Subprotocol("graphql-ws")

    with connect(_ws_url(demo), subprotocols=[protocol], open_timeout=HTTP_TIMEOUT) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        acknowledged = json.loads(ws.recv(timeout=HTTP_TIMEOUT))

    assert (protocol, {"type": "connection_ack"}) == (ws.subprotocol, acknowledged)
