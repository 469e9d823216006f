"""The event loop under a heavy operation: the time limit stops all of its work, and a response body is
encoded by msgspec (fast enough not to hold the loop), as the same JSON `json.dumps` would give."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from schema.app import GraphQLView
from schema.build import SCHEMA, build_schema
from schema.context import Context
from schema.limits import Limits
from tests.schema.conftest import Api
from tests.support.principals import ADMIN

HEAVY = """{
  communities(first: 100) {
    edges {
      node {
        id
        status { standardized score unmet { criterion detail } }
        town { id name }
        trainings(first: 10) { edges { node { trainingId } } }
        disclosures(first: 10) { edges { node { disclosureId } } }
      }
    }
  }
}"""


async def test_an_operation_stopped_at_the_time_limit_leaves_nothing_running(demo: Api) -> None:
    took = 0.0
    for _ in range(2):  # the second run as warm as those below: statements prepared, the world read
        context = Context(services=demo.services, principal=ADMIN, request_id="whole")
        began = loop_time()
        whole = await build_schema().execute(HEAVY, context_value=context)
        took = loop_time() - began
        assert whole.errors is None, whole.errors
    stopped = 0
    for share in (0.1, 0.3, 0.5):
        limit = took * share
        context = Context(services=demo.services, principal=ADMIN, request_id=f"stopped at {share}")
        before = asyncio.all_tasks()
        began = loop_time()
        result = await build_schema(Limits(timeout_seconds=limit)).execute(HEAVY, context_value=context)
        ran = loop_time() - began
        if result.errors is None:
            continue  # done within the limit this time: nothing was stopped
        assert "TIMEOUT" == (result.errors[0].extensions or {}).get("code")
        stopped += 1
        # Stopped at the limit, give or take what one turn of the loop holds it for.
        assert ran < limit + 2.0
        # Every resolver and batch it started was cancelled with it: none goes on using the loop. A batch
        # cancelled while its query was in flight ends when the driver hands the cancellation back, a turn
        # or a round trip later: it must be cancelling already, and gone soon after.
        await asyncio.sleep(0)
        left = {
            t
            for t in asyncio.all_tasks() - before
            if not t.done() and t is not asyncio.current_task() and not _returns_a_connection(t)
        }
        assert all(t.cancelling() for t in left), left
        if left:
            await asyncio.wait(left, timeout=2.0)
        assert all(t.done() for t in left), left
    assert stopped > 0


def _returns_a_connection(task: asyncio.Task[Any]) -> bool:
    """asyncpg's own task giving a connection back to its pool after a cancelled query: the driver's
    cleanup, which ends on its own, not work of the operation."""
    return getattr(task.get_coro(), "__qualname__", "") == "PoolConnectionHolder.release"


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def test_a_response_is_encoded_as_compact_json_with_text_as_is() -> None:
    view = GraphQLView(SCHEMA)
    data: dict[str, Any] = {
        "data": {"towns": [{"id": "gutang", "name": "古塘街道", "rate": 0.93, "n": 7, "ok": True}]},
        "errors": [{"message": 'a "quoted" line\nand more', "path": ["towns", 0]}],
    }
    encoded = view.encode_json(data)
    assert isinstance(encoded, str)  # WebSocket messages go out as text frames
    assert data == json.loads(encoded)
    assert "古塘街道" in encoded
    assert json.dumps(data, separators=(",", ":"), ensure_ascii=False) == encoded
