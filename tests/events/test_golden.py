"""Every (TYPE, VERSION) ever shipped keeps a golden payload that must always decode."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from uuid import UUID

import pytest

from events.catalogue import CATALOGUE
from events.codec import canonical_json
from events.envelope import envelope_json
from events.merkle import leaf_hash

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
FIXTURES = sorted(GOLDEN.glob("*.v*.json"))


def test_every_registered_type_and_version_has_a_golden_fixture() -> None:
    shipped = {(cls.TYPE, version) for cls in CATALOGUE.types() for version in range(1, cls.VERSION + 1)}
    found = {(path.name.split(".v")[0], int(path.name.split(".v")[1].split(".")[0])) for path in FIXTURES}
    assert shipped == found


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_golden_payload_decodes_and_current_versions_reencode_identically(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    event = CATALOGUE.decode(fixture["type"], fixture["schema_version"], fixture["payload"])
    assert fixture["type"] == type(event).TYPE
    if fixture["schema_version"] == type(event).VERSION:
        type_, version, payload = CATALOGUE.encode(event)
        assert (fixture["type"], fixture["schema_version"]) == (type_, version)
        assert canonical_json(fixture["payload"]) == canonical_json(payload)


def test_the_envelope_bytes_and_leaf_hash_of_a_known_event_never_change() -> None:
    """A pinned envelope: if its bytes change, every checkpoint ever signed stops verifying."""
    from datetime import UTC, datetime

    canonical = envelope_json(
        position=1,
        stream_id="community-shuyuan",
        stream_version=1,
        event_id=UUID("0190d4a0-0000-7000-8000-000000000001"),
        type_="CommunityRegistered",
        schema_version=1,
        payload_json=canonical_json({"community_id": "shuyuan", "name": "舒苑社区"}),
        metadata_json=canonical_json({"actor": "admin", "idempotency_key": "k"}),
        recorded_at=datetime(2022, 6, 8, 1, 2, 3, 456789, tzinfo=UTC),
    ).encode()
    expected = (
        '{"event_id":"0190d4a0-0000-7000-8000-000000000001","metadata":{"actor":"admin","idempotency_key":"k"},'
        '"payload":{"community_id":"shuyuan","name":"舒苑社区"},"position":1,'
        '"recorded_at":"2022-06-08T01:02:03.456789Z","schema_version":1,"stream_id":"community-shuyuan",'
        '"stream_version":1,"type":"CommunityRegistered"}'
    ).encode()
    assert expected == canonical
    assert hashlib.sha256(b"\x00" + expected).digest() == leaf_hash(canonical)
