"""The read model: the live generation's towns and standard versions, cached in memory and refreshed by
position, with the projection's checkpoint.

A request asks for the world as of the projection's current checkpoint: the towns and the standard (a
few dozen documents whatever the city's size; the communities are rows of the record tables, read as a
request needs them). The cache keeps the last World it built and, when the checkpoint has moved, loads
only the documents that changed since — so a dashboard that polls costs one small query while nothing
happens.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg

from projections.community import World
from service.read.directory import known_ids
from service.read.projector import NAME, Checkpoint, world_from_rows
from service.read.queries import query
from service.read.records import read_facts

# Changed entities decoded on the event loop; more go to a thread.
DECODE_INLINE = 32


class ReadModel:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._world = World()
        self._generation = -1
        self._position = -1
        self._lock = asyncio.Lock()

    async def world(self) -> World:
        """Everything the projection knows, as of its checkpoint."""
        _, world = await self.snapshot()
        return world

    async def snapshot(self) -> tuple[Checkpoint, World]:
        """The projection's checkpoint and the world as of exactly that checkpoint, which it identifies:
        the same (generation, position) always comes with the same world."""
        row = await self._pool.fetchrow(query("checkpoint"), NAME)
        assert row is not None, "migration 0002 inserts the checkpoint row"
        if (row["generation"], row["position"]) == (self._generation, self._position):
            return Checkpoint(self._generation, self._position), self._world
        async with self._lock:
            async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                # One snapshot for the checkpoint and the facts, so they agree with each other.
                row = await conn.fetchrow(query("checkpoint"), NAME)
                assert row is not None
                generation, position = row["generation"], row["position"]
                if (generation, position) == (self._generation, self._position):
                    return Checkpoint(generation, position), self._world
                since = self._position if generation == self._generation else -1
                base = self._world if generation == self._generation else World()
                changed = await conn.fetch(query("facts_changed_after"), generation, since)
            rows = [(r["entity"], r["entity_id"], r["body"]) for r in changed]
            # Decoding is CPU work that grows with what changed: the first read of a city, or a rebuild's
            # switch, decodes every entity. Beyond a few, it runs in a thread so the event loop serves on.
            if len(rows) > DECODE_INLINE:
                world = await asyncio.to_thread(world_from_rows, rows, base)
            else:
                world = world_from_rows(rows, base)
            self._world = replace(world, position=position)
            self._generation, self._position = generation, position
            return Checkpoint(generation, position), self._world


async def whole_world(pool: asyncpg.Pool) -> World:
    """Everything, every community's facts included, as of the projection's checkpoint: for commands that
    report on the whole city at once (reports, export), never for serving requests."""
    checkpoint, world = await ReadModel(pool).snapshot()
    async with pool.acquire() as conn:
        ids = await known_ids(conn, checkpoint.generation, world.position)
        facts = await read_facts(conn, checkpoint.generation, ids, world.position)
    return replace(world, communities=facts)
