"""Command-line values that need more than a builtin type."""

from __future__ import annotations

import argparse
from datetime import date

from service.read.asof import parse_as_of


def as_of(text: str) -> date:
    """`--as-of`: argparse shows an ArgumentTypeError's own message, which says what was expected."""
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
