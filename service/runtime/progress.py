"""Progress bars on stderr, for people: drawn by tqdm, and only when stderr is a terminal.

A log or a pipe gets no bar at all, only the command's summary line. The service's long operations
(rebuild, export, verify) report progress as calls of `(done, total)`; `progress_bar` turns those into a bar.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeAlias

from tqdm import tqdm

# (done, total), as rebuild, export_bundle and verify_bundle call it.
Progress: TypeAlias = Callable[[int, int], None]

# A terminal that reports no size (a bare pseudo-terminal, some serial consoles) is drawn on as if it were
# this big: tqdm draws nothing on a terminal of zero rows.
FALLBACK_SIZE = (80, 24)


@contextlib.contextmanager
def progress_bar(label: str, *, unit: str | None = None) -> Iterator[Progress]:
    """A `(done, total)` callback that draws a bar named `label` while the block runs; leaving the block
    ends the bar's line, however it is left.

    With `unit` the bar also shows the counts ("1,234/5,678 events"); without, only the percentage, for
    callers whose passes count different things (bytes, then events). A call whose `done` is below the
    last one starts a new bar: a second pass. A `total` of 0 draws nothing: there is nothing to measure.
    """
    if not sys.stderr.isatty():
        yield _nothing
        return
    counts = f" {{n:,}}/{{total:,}} {unit}" if unit else ""
    options: dict[str, Any] = {
        "desc": label,
        "file": sys.stderr,
        "bar_format": f"{{desc}}: {{percentage:3.0f}}%|{{bar}}|{counts} [{{elapsed}}<{{remaining}}]",
        **_size(),
    }
    bar: tqdm[NoReturn] | None = None

    def show(done: int, total: int) -> None:
        nonlocal bar
        if total <= 0:
            return
        if bar is None or done < bar.n:
            if bar is not None:
                bar.close()
            bar = tqdm(total=total, **options)
        if bar.total != total:
            bar.total = total  # the log grew while it was read
        bar.update(done - bar.n)

    try:
        yield show
    finally:
        if bar is not None:
            bar.close()


def _nothing(done: int, total: int) -> None:
    pass


def _size() -> dict[str, int]:
    """tqdm's ncols and nrows when stderr's terminal reports no size; none when tqdm can measure it."""
    try:
        columns, lines = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        columns = lines = 0
    if columns > 0 and lines > 0:
        return {}
    return {"ncols": FALLBACK_SIZE[0], "nrows": FALLBACK_SIZE[1]}
