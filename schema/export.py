"""Print or rewrite the committed SDL: `python -m schema.export` rewrites `schema/schema.graphql`;
`--check` exits 1 if the file differs from the schema the code builds."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from schema.build import SCHEMA

SDL_PATH = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    return SCHEMA.as_str() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--check"]:
        current = SDL_PATH.read_text(encoding="utf-8") if SDL_PATH.exists() else ""
        if current != sdl():
            print(f"{SDL_PATH} is out of date: run python -m schema.export", file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m schema.export [--check]", file=sys.stderr)
        return 2
    SDL_PATH.write_text(sdl(), encoding="utf-8")
    print(f"wrote {SDL_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
