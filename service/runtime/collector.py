"""The cyclic garbage collector of a serving process, tuned so it does not hold the event loop for long.

CPython's collector runs inside whatever code allocates, on the event loop's thread, and holds the loop for
as long as a pass takes: a pass walks every object of the generations it collects. The older generations
hold whatever has outlived a few young passes — under load, every request in flight: the facts, pages and
results of each — so their passes held the loop for 50 to 200 ms, several times a second, with heavy
queries running; `/healthz` waited behind them.

Most of what a request allocates is freed by reference counting the moment the request is done. What only
the collector can free is what sits in a reference cycle, and the service keeps those few: a request's
loaders are emptied when its operation ends (`schema.context.Loaders.close`), so what they read is not
held by their cycle. So here:

- `settle` (once the server has started) collects, then freezes what exists by then — modules, schema,
  caches, the lifespan's services, which live as long as the process — out of the collector's sight;
- young passes run every `YOUNG_THRESHOLD` allocations: small and cheap (a few milliseconds), and enough to
  free the cycles of requests that finished since the last;
- the older generations are never collected on allocation (thresholds too high to be reached); instead
  `collect_periodically` makes one full pass every `FULL_EVERY` seconds, so what went into a cycle after
  surviving a young pass waits at most that long. One pass of tens of milliseconds a minute instead of
  several a second.
"""

from __future__ import annotations

import asyncio
import gc

import structlog

log = structlog.get_logger("qinglian.collector")

# Allocations (net of deallocations) between young-generation passes; CPython's default is 700. A pass over
# this many young objects takes a few milliseconds.
YOUNG_THRESHOLD = 5_000
# Young passes per middle pass and middle passes per full pass: never reached, so the older generations
# are collected only by `collect_periodically`.
NEVER = 1_000_000_000
# Seconds between full passes while serving.
FULL_EVERY = 60.0


def settle() -> None:
    """Collect once, freeze every object that survives (never walked again), and leave the older
    generations to `collect_periodically`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, NEVER, NEVER)


async def collect_periodically(every: float = FULL_EVERY) -> None:
    """A full pass every `every` seconds, for as long as the task lives."""
    while True:
        await asyncio.sleep(every)
        found = gc.collect()
        log.debug("full collection", unreachable=found)
