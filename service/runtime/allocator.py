"""The C allocator of a serving process, set so that what a large answer used goes back to the system.

CPython leaves every block over 512 bytes to the C library's malloc. glibc's gives a block of 128 KiB or
more a mapping of its own, unmapped when freed, but once such a block is freed it raises that threshold to
the block's size (up to 32 MiB): from then on blocks that large come from the heap. An answer built from
events of a few hundred kilobytes each then leaves its blocks, once freed, in the heap between blocks
still in use, and free() gives back only the heap's top: the server stays at the size the answer made it.
Measured by tests/bench/amplify.py: after the widest documents the cost limit lets through (each builds
about 100 MB before RESPONSE_TOO_LARGE refuses it), the server stayed 112 MB above its level after
warm-up (105.6 to 217.4 MB) through ordinary queries and an idle spell; in a server left so by the
same attack a full collection (`gc.collect()`) gave back 1.5 MB and `malloc_trim(0)` 110 MB: memory
freed and kept by the allocator, not objects alive.

`settle` fixes the threshold at 128 KiB, glibc's own starting value, so it is no longer raised: large
blocks are always mapped and unmapped on free, and the server returns to its level when a large answer
is done. The price is a fresh mapping, zero-filled by the kernel, for each such block: measured, the
dashboard (whose whole answer is about 55 KB) no slower, a page of 16 events of 250 KB fields 30% slower
(docs/benchmarks.md). Only fields of hundreds of kilobytes make such blocks, and the input caps keep new
ones from being written. On another C library `settle` does nothing.
"""

from __future__ import annotations

import ctypes
import platform

# mallopt's parameter number for the mapping threshold (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def settle() -> bool:
    """Fix glibc's mapping threshold at MMAP_THRESHOLD; whether it was set (False on another C library)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the C library this process already runs on
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
