"""The cyclic garbage collector of a serving process, tuned so it does not hold the event loop for long.

CPython's collector runs inside whatever code allocates, on the event loop's thread, and a full (oldest
generation) pass walks every tracked object the process holds: the imported modules, the GraphQL schema,
the read model's world, and every request in flight — the facts, views and results of each. Under load
with the default thresholds (700, 10, 10), the service made several full passes a second, each holding the
loop for tens to hundreds of milliseconds; `/healthz` waited behind them.

`settle` is called once the server has started: what exists by then (modules, schema, caches, the
lifespan's services) lives as long as the process, so it is moved out of the collector's sight
(`gc.freeze`), and the young generation is allowed to grow far larger before it is collected, so that most
of a request's objects are freed by reference counting before a pass ever sees them, and fewer survive to
be walked again by the older generations' passes.
"""

from __future__ import annotations

import gc

# Allocations (net of deallocations) between young-generation passes; the default is 700. A pass over this
# many young objects takes a few milliseconds.
YOUNG_THRESHOLD = 50_000
# Young passes per middle pass, and middle passes per full pass (CPython's defaults: 10 and 10). A full pass
# also waits until what has been promoted since the last one is a quarter of what it would walk.
MIDDLE_THRESHOLD = 10
OLD_THRESHOLD = 10


def settle() -> None:
    """Collect once, freeze every object that survives (never walked again), and raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
