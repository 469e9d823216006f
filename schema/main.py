"""`qinglian`: the service's command line, serving the GraphQL API beside the service's own routes."""

from __future__ import annotations

from collections.abc import Sequence

from schema.app import create_graphql_app
from service.runtime.cli import main as service_main


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(argv, app_factory=create_graphql_app)


if __name__ == "__main__":
    raise SystemExit(main())
