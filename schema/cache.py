"""The response cache: finished HTTP responses of read-only operations, keyed by what they depend on.

A query answered from the projections is a function of its document, variables and operation name, the
caller's role, the projection's checkpoint (generation and position) and the local date (what `asOf`
means when it is left out). The read model changes only when the checkpoint moves, so a response stored
under that key is exactly what a fresh execution with the same key returns, for as long as it is kept.

Only queries whose root fields all read the projections are cached (`FROM_PROJECTIONS`, an allow-list:
a root field added later is bypassed until it is listed). The fields below them must read nothing but
the request's world — the log, the tree and the signed checkpoints are reached only through root fields
that are not listed. A response with errors is never stored.

Entries of an older checkpoint can never be asked for again once a newer one has been stored (the
checkpoint only moves forward), so storing a newer one drops them; the rest is a bounded LRU. Identical
requests that miss at the same time run the operation once: the others wait for its response.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cachetools import LRUCache
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)

from service.read.projector import Checkpoint

# Root fields answered from the request's world (the projections) alone, or from nothing read at all.
FROM_PROJECTIONS = frozenset(
    {"city", "towns", "town", "community", "communities", "standard", "standards", "enumLabels", "__typename"}
)
MAX_ENTRIES = 1024
MAX_BYTES = 32 * 1024 * 1024
# Longer documents or variables are served, just not cached: keys stay small and memory stays bounded.
MAX_KEY_CHARS = 16 * 1024
# Distinct (document, operation name) pairs whose verdict is remembered.
PLANS = 256


@dataclass(frozen=True, slots=True)
class Key:
    document: str
    variables: str  # canonical JSON
    operation_name: str | None
    role: str
    generation: int
    position: int
    day: date
    # The language messages default to (the request's Accept-Language).
    lang: str = "en"

    @property
    def checkpoint(self) -> tuple[int, int]:
        return (self.generation, self.position)

    def size(self) -> int:
        return len(self.document) + len(self.variables) + 200


@dataclass(frozen=True, slots=True)
class Plan:
    """Whether an operation of a document may be cached, and its name for the log line."""

    cacheable: bool
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """A GraphQL request as sent over HTTP, before strawberry reads it."""

    document: str
    variables: str  # canonical JSON of the variables object
    operation_name: str | None


def read_request(
    method: str, params: Mapping[str, str], content_type: str, body: bytes | None
) -> Request | None:
    """The request's document, variables and operation name, or None if it is not a plain JSON or GET
    request for one operation (batches, uploads, malformed input: strawberry answers those uncached)."""
    data: Any
    if method == "GET":
        data = dict(params)
        raw = data.get("variables")
        if raw is not None:
            try:
                data["variables"] = json.loads(raw)
            except (ValueError, RecursionError):
                return None
    elif method == "POST" and content_type.split(";", 1)[0].strip().lower() == "application/json":
        try:
            data = json.loads(body or b"")
        except (ValueError, RecursionError):
            return None
    else:
        return None
    if not isinstance(data, dict):
        return None
    document, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if data.get("extensions"):
        return None
    if not isinstance(document, str) or not isinstance(name, str | None):
        return None
    if not isinstance(variables, dict | None):
        return None
    canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(document) > MAX_KEY_CHARS or len(canonical) > MAX_KEY_CHARS:
        return None
    return Request(document, canonical, name)


def plan(document: str, operation_name: str | None, *, max_tokens: int) -> Plan:
    """Cacheable when the chosen operation is a query and each of its root fields is in FROM_PROJECTIONS
    (through fragments too). Anything graphql would refuse is not: the error is never stored anyway."""
    try:
        parsed = parse(document, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return Plan(cacheable=False)
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1:
        return Plan(cacheable=False)
    operation = operations[0]
    name = operation.name.value if operation.name is not None else None
    if operation.operation is not OperationType.QUERY:
        return Plan(cacheable=False, name=name)
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    return Plan(cacheable=_from_projections(operation.selection_set, fragments, frozenset()), name=name)


def _from_projections(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]
) -> bool:
    for node in selections.selections:
        if isinstance(node, FieldNode):
            if node.name.value not in FROM_PROJECTIONS:
                return False
        elif isinstance(node, InlineFragmentNode):
            if not _from_projections(node.selection_set, fragments, seen):
                return False
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is None or node.name.value in seen:
                return False
            if not _from_projections(fragment.selection_set, fragments, seen | {node.name.value}):
                return False
    return True


def make_key(request: Request, role: str, checkpoint: Checkpoint, day: date, lang: str = "en") -> Key:
    return Key(
        request.document,
        request.variables,
        request.operation_name,
        role,
        checkpoint.generation,
        checkpoint.position,
        day,
        lang,
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    body: bytes
    cost: int  # what it counts for against max_bytes: the body and its key


def _cost(entry: _Entry) -> int:
    return entry.cost


class ResponseCache:
    """Response bodies by Key: an LRU bounded in entries and bytes, holding only the newest checkpoint,
    with one execution per key among concurrent misses.

    Not thread-safe, and needs not be: it is used from one event loop and no method awaits, so each runs
    whole between two requests' steps."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        # Bounded in bytes by the LRU itself; in entries by `put`, which evicts in the same LRU order.
        self._entries: LRUCache[Key, _Entry] = LRUCache(max_bytes, getsizeof=_cost)
        self._newest = (-1, -1)
        self._flights: dict[Key, asyncio.Future[bytes | None]] = {}
        self._plans: LRUCache[tuple[str, str | None], Plan] = LRUCache(PLANS)

    def __len__(self) -> int:
        return len(self._entries)

    def plan(self, request: Request, *, max_tokens: int) -> Plan:
        """`plan` for the request's document, remembered for the PLANS most recent documents."""
        which = (request.document, request.operation_name)
        found = self._plans.get(which)  # a hit counts as a use
        if found is None:
            found = plan(request.document, request.operation_name, max_tokens=max_tokens)
            self._plans[which] = found
        return found

    def get(self, key: Key) -> bytes | None:
        entry = self._entries.get(key)  # a hit counts as a use
        return entry.body if entry is not None else None

    def put(self, key: Key, body: bytes) -> None:
        if key.checkpoint < self._newest:
            return  # a straggler: no request will ask for this checkpoint again
        if key.checkpoint > self._newest:
            self._newest = key.checkpoint
            for old in [k for k in self._entries if k.checkpoint < key.checkpoint]:
                del self._entries[old]
        cost = len(body) + key.size()
        if cost > self.max_bytes:
            return  # LRUCache would refuse it (ValueError); it is served, just not kept
        self._entries.pop(key, None)  # replaced, not counted twice while room is made
        self._entries[key] = _Entry(body, cost)  # evicts the least recently used until the bytes fit
        while len(self._entries) > self.max_entries:
            self._entries.popitem()  # the least recently used

    def flight(self, key: Key) -> asyncio.Future[bytes | None] | None:
        """The response being computed for `key` by another request, if one is."""
        return self._flights.get(key)

    def take_off(self, key: Key) -> asyncio.Future[bytes | None]:
        """Become the request that computes `key`; `land` must follow, whatever happens."""
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        return future

    def land(self, key: Key, body: bytes | None) -> None:
        """The leader's outcome: a body to keep and share, or None (errors, or it failed) so that those
        waiting run the operation themselves."""
        future = self._flights.pop(key, None)
        if body is not None:
            self.put(key, body)
        if future is not None and not future.done():
            future.set_result(body)
