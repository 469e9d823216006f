"""The progress bar: drawn on stderr when it is a terminal, and nothing at all otherwise."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import select
import sys
from collections.abc import Callable, Iterator

import pytest

from service.runtime.progress import progress_bar

END = "<end of test>"


@contextlib.contextmanager
def bare_terminal() -> Iterator[Callable[[], str]]:
    """sys.stderr on a pseudo-terminal that reports no size; yields a reader of what it got so far.

    Used inside the test itself: pytest puts its own sys.stderr back between a fixture and the test."""
    main, child = pty.openpty()
    stderr = open(child, "w", encoding="utf-8", closefd=True)  # noqa: SIM115 - closed below
    previous, sys.stderr = sys.stderr, stderr

    def read() -> str:
        # A terminal passes on what is written a little later: read up to a marker written last.
        stderr.write(END)
        stderr.flush()
        got = b""
        while END.encode() not in got:
            ready, _, _ = select.select([main], [], [], 10)
            assert ready, f"the terminal got no {END!r} after {got!r}"
            got += os.read(main, 4096)
        return got.decode(errors="replace").removesuffix(END)

    try:
        yield read
    finally:
        sys.stderr = previous
        stderr.close()
        os.close(main)


def test_on_a_terminal_the_bar_shows_the_counts_and_ends_its_line() -> None:
    with bare_terminal() as terminal:
        with progress_bar("rebuilding facts", unit="events") as progress:
            for done in range(0, 12_001, 3_000):
                progress(done, 12_000)
        shown = terminal()
    assert "rebuilding facts" in shown
    assert "100%" in shown
    assert "12,000/12,000 events" in shown
    assert shown.endswith("\n")  # the terminal turns it into \r\n


def test_a_second_pass_gets_a_bar_of_its_own() -> None:
    with bare_terminal() as terminal:
        with progress_bar("verifying") as progress:
            progress(500, 1_000)
            progress(1_000, 1_000)  # bytes hashed
            progress(20, 40)  # then events replayed: `done` went back
            progress(40, 40)
        shown = terminal()
    assert 2 == shown.count("100%")
    assert "/1,000" not in shown  # without a unit, only the percentage


def test_nothing_to_measure_draws_nothing() -> None:
    with bare_terminal() as terminal:
        with progress_bar("exporting", unit="events") as progress:
            progress(0, 0)
        assert "" == terminal()


def test_a_log_or_a_pipe_gets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    with progress_bar("rebuilding facts", unit="events") as progress:
        progress(1, 2)
        progress(2, 2)
    assert "" == captured.getvalue()
