"""Logs for the tree, signer and verifier tests: many small events fast, and a signing key in a folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from events.codec import JSON
from events.hierarchy import CommunityRenamed
from events.registry import Event
from service.log.store import EventStore
from service.transparency.signer import SigningKey, generate_key, load_signing_key, write_key_pair

ORIGIN = "cixi.example/qinglian"


async def fill(store: EventStore, count: int, key: str = "fill", *, streams: int = 3) -> None:
    """`count` renamings over `streams` communities, by bulk import under idempotency key `key`; the
    names are `key` followed by the event's number, so a test can find one in the bytes."""
    entries: list[tuple[str, Event, dict[str, JSON]]] = [
        (
            f"community-c{i % streams}",
            CommunityRenamed(community_id=f"c{i % streams}", name=f"{key}{i}", effective_on=date(2022, 1, 1)),
            {},
        )
        for i in range(count)
    ]
    await store.bulk_import(entries, idempotency_key=key)


def signing_key(folder: Path, origin: str = ORIGIN) -> SigningKey:
    """A new key written to folder/log.key (mode 0600) and folder/log.pub, loaded for signing."""
    private, _ = write_key_pair(folder / "log", generate_key(origin))
    return load_signing_key(str(private), folder / "data")
