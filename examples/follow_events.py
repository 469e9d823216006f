"""Follow a Qinglian service's event log over its WebSocket, resuming where the last run stopped.

    python examples/follow_events.py ws://127.0.0.1:8000/graphql --token "$TOKEN" --cursor-file events.cursor

Each event is printed (position, type, leaf hash), then its cursor is stored in the cursor file. A new run,
or a reconnection after a dropped socket or a 4429 close (this consumer fell behind), subscribes after the
stored cursor: nothing is lost, nothing repeated. With no cursor stored yet it follows the events appended
from now on. The token (an inspector's, integrator's or admin's) may come from QINGLIAN_TOKEN instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

EVENTS = """subscription Follow($after: String) {
  events(after: $after) { cursor event { position type leafHash } }
}"""
# The service closes with 4403 for a token that is wrong, expired or revoked: trying again cannot help.
FORBIDDEN = 4403
MAX_BACKOFF = 30.0


def read_cursor(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def store_cursor(path: Path, cursor: str) -> None:
    # Written beside it, then renamed over it: a crash leaves the old cursor or the new one, never a torn one.
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as file:
        file.write(cursor + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def close_code(error: BaseException) -> int | None:
    """The code the server closed the socket with, if that is what ended the connection."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionClosed) and cause.rcvd is not None:
            return cause.rcvd.code
        cause = cause.__cause__ or cause.__context__
    return None


async def follow(url: str, token: str, cursor_file: Path, stop_after: int | None = None) -> None:
    handled = 0
    backoff = 1.0
    while True:
        transport = WebsocketsTransport(
            url=url,
            init_payload={"Authorization": f"Bearer {token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        try:
            async with Client(transport=transport) as session:
                request = GraphQLRequest(EVENTS, variable_values={"after": read_cursor(cursor_file)})
                async for result in session.subscribe(request):
                    delivery = result["events"]
                    event = delivery["event"]
                    print(event["position"], event["type"], event["leafHash"], flush=True)
                    store_cursor(cursor_file, delivery["cursor"])
                    handled += 1
                    backoff = 1.0
                    if handled == stop_after:
                        return
            reason = "the service ended the subscription"
        except TransportQueryError as error:
            raise SystemExit(f"the service refused the subscription: {error}") from error
        except (TransportError, OSError, TimeoutError) as error:
            if close_code(error) == FORBIDDEN:
                raise SystemExit("the service refused the token (4403)") from error
            reason = f"connection lost ({close_code(error) or type(error).__name__})"
        print(f"{reason}; reconnecting in {backoff:.0f} s", file=sys.stderr, flush=True)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(description="Follow a Qinglian service's event log.")
    cli.add_argument("url", help="the service's WebSocket, e.g. ws://127.0.0.1:8000/graphql")
    cli.add_argument("--token", default=os.environ.get("QINGLIAN_TOKEN"), help="default: $QINGLIAN_TOKEN")
    cli.add_argument("--cursor-file", type=Path, default=Path("events.cursor"))
    cli.add_argument("--stop-after", type=int, metavar="N", help="stop after N events")
    return cli


def main() -> None:
    args = parser().parse_args()
    if not args.token:
        raise SystemExit("no token: give --token or set QINGLIAN_TOKEN")
    asyncio.run(follow(args.url, args.token, args.cursor_file, args.stop_after))


if __name__ == "__main__":
    main()
