"""The inspectors' commands: keygen, checkpoint, proof, export and verify.

`verify` needs no database at all: it reads a bundle and the key the inspector trusts. The others work on
the database like every other command (DATABASE_URL, or the embedded server in the data folder).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

from events.catalogue import CATALOGUE
from events.merkle import leaf_hash
from service.log.pool import create_pool
from service.log.store import EventStore
from service.read.paging import QueryError
from service.runtime.access import grant_json
from service.runtime.app import DatabaseUrls
from service.runtime.arguments import as_of
from service.runtime.progress import progress_bar
from service.runtime.settings import Settings
from service.runtime.target import apply_migrations, database
from service.transparency.export import Exported, export_bundle
from service.transparency.proofs import consistency, inclusion
from service.transparency.signer import (
    Signer,
    SigningKeyError,
    generate_key,
    latest_checkpoint,
    load_signing_key,
    write_key_pair,
)
from service.transparency.tree import LogTree
from service.transparency.verify import VerifyFailed, read_key, verify_bundle


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """Register the commands; returns those that use a database (they take --data-dir)."""
    keygen = commands.add_parser("keygen", help="make a checkpoint signing key: PREFIX.key and PREFIX.pub")
    keygen.add_argument("--origin", required=True, help="the log's name, the first line of every checkpoint")
    keygen.add_argument(
        "--out", required=True, metavar="PREFIX", help="where to write PREFIX.key and PREFIX.pub"
    )
    keygen.set_defaults(run=_keygen)

    checkpoint = commands.add_parser(
        "checkpoint", help="sign the log's current tree, store and print the note"
    )
    checkpoint.add_argument("--key", help="the signing key file (default: QINGLIAN_SIGNING_KEY)")
    checkpoint.set_defaults(run=_checkpoint)

    proof = commands.add_parser("proof", help="an inclusion or consistency proof from the database, as JSON")
    kinds = proof.add_subparsers(title="proofs", required=True, metavar="PROOF")
    inclusion = kinds.add_parser("inclusion", help="that the event at POSITION is in the tree of SIZE")
    inclusion.add_argument("position", type=int)
    inclusion.add_argument("size", type=int, help="tree size (default: the newest checkpoint's)", nargs="?")
    inclusion.set_defaults(run=_inclusion)
    consistency = kinds.add_parser("consistency", help="that the tree of FROM is a prefix of the tree of TO")
    consistency.add_argument("from_size", type=int, metavar="FROM")
    consistency.add_argument("to_size", type=int, metavar="TO")
    consistency.set_defaults(run=_consistency)

    export = commands.add_parser("export", help="write a bundle any inspector can check without the database")
    export.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    export.add_argument("--from-size", type=int, default=0, metavar="N", help="only the events after N")
    export.add_argument("--key", help="sign a fresh checkpoint first with this key (or QINGLIAN_SIGNING_KEY)")
    # Only the statuses' day: the bundle always holds the log up to a signed checkpoint. `--as-of`, its
    # first name, read as if it cut the log; it is still accepted.
    export.add_argument(
        "--status-on",
        "--as-of",
        dest="status_on",
        type=as_of,
        metavar="DATE",
        help="the day status.json gives each community's status for (default: the last event's day); "
        "every event up to the checkpoint is exported whatever the day",
    )
    export.add_argument(
        "--restricted",
        action="store_true",
        help="include the restricted text held beside the log (for those allowed to read it)",
    )
    export.add_argument(
        "--status-at",
        type=int,
        metavar="N",
        help="status.json as the log stood at N events, a size a checkpoint was signed at "
        "(default: the newest checkpoint's)",
    )
    export.set_defaults(run=_export)

    verify = commands.add_parser("verify", help="check an export bundle, with no database")
    verify.add_argument("directory", metavar="DIR")
    verify.add_argument("--key", required=True, metavar="KEY", help="the verifier key you trust (PREFIX.pub)")
    verify.add_argument("--previous", metavar="CHECKPOINT", help="a checkpoint you trusted before")
    verify.add_argument("--json", action="store_true", help="print the outcome as JSON")
    verify.add_argument(
        "--no-replay",
        action="store_true",
        help="check the bytes, the tree and the signatures only, not the projections",
    )
    verify.add_argument(
        "--status-on",
        "--as-of",
        dest="status_on",
        type=as_of,
        metavar="DATE",
        help="the status table's day (default: status.json's)",
    )
    verify.set_defaults(run=_verify)
    return [checkpoint, inclusion, consistency, export]


def _urls(settings: Settings) -> Iterator[DatabaseUrls]:
    """The database's URLs, migrated, for as long as the command runs."""
    with database(settings) as target:
        asyncio.run(apply_migrations(target.urls.owner))
        yield target.urls


def _keygen(settings: Settings, args: argparse.Namespace) -> int:
    pair = generate_key(args.origin)
    private, public = write_key_pair(Path(args.out).expanduser(), pair)
    print(f"wrote {private} (private: keep it off the database server) and {public}")
    print(pair.verifier_text)
    return 0


def _key_value(settings: Settings, args: argparse.Namespace, *, required: bool) -> str | None:
    value = getattr(args, "key", None) or settings.signing_key
    if value is None and required:
        raise SigningKeyError("no signing key: pass --key PREFIX.key or set QINGLIAN_SIGNING_KEY")
    return value


def _checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    value = _key_value(settings, args, required=True)
    assert value is not None
    key = load_signing_key(value, settings.data_dir)

    async def run(urls: DatabaseUrls) -> str:
        pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=4)
        try:
            return (await Signer(pool, LogTree(pool), key).sign()).note
        finally:
            await pool.close()

    for urls in _urls(settings):
        print(asyncio.run(run(urls)), end="")
    return 0


def _hex(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


class InputError(Exception):
    """A command was given something it cannot use (a missing file, the wrong kind of key, a size the log
    cannot answer for); the message says what. Exit status 2, like every other expected failure."""


def _inclusion(settings: Settings, args: argparse.Namespace) -> int:
    async def run(urls: DatabaseUrls) -> dict[str, object]:
        pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=2)
        try:
            size = args.size
            if size is None:
                stored = await latest_checkpoint(pool)
                if stored is None:
                    raise InputError(
                        "no checkpoint has been signed yet: give SIZE, or run `qinglian checkpoint`"
                    )
                size = stored.checkpoint.size
            found = await inclusion(LogTree(pool), args.position, size)
            # The leaf hash of the bytes as they are now, not as stored: what an inspector recomputes.
            (event,) = await EventStore(pool, CATALOGUE).read_all(after_position=args.position - 1, limit=1)
            return {
                "position": found.position,
                "leaf_index": found.leaf_index,
                "tree_size": found.tree_size,
                "leaf_hash": leaf_hash(event.canonical).hex(),
                "root": found.root.hex(),
                "proof": _hex(found.proof),
            }
        except QueryError as exc:
            raise InputError(exc.reason.replace("treeSize", "SIZE")) from exc
        finally:
            await pool.close()

    for urls in _urls(settings):
        print(json.dumps(asyncio.run(run(urls)), indent=1))
    return 0


def _consistency(settings: Settings, args: argparse.Namespace) -> int:
    async def run(urls: DatabaseUrls) -> dict[str, object]:
        pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=2)
        try:
            found = await consistency(LogTree(pool), args.from_size, args.to_size)
        except QueryError as exc:
            raise InputError(exc.reason) from exc
        finally:
            await pool.close()
        return {
            "from_size": found.from_size,
            "to_size": found.to_size,
            "from_root": found.from_root.hex(),
            "to_root": found.to_root.hex(),
            "proof": _hex(found.proof),
        }

    for urls in _urls(settings):
        print(json.dumps(asyncio.run(run(urls)), indent=1))
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    value = _key_value(settings, args, required=False)
    key = load_signing_key(value, settings.data_dir) if value is not None else None
    out = Path(args.out).expanduser()

    async def run(urls: DatabaseUrls) -> str:
        pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=4)
        try:
            signer = Signer(pool, LogTree(pool), key) if key is not None else None
            with progress_bar("exporting", unit="events") as progress:
                done = await export_bundle(
                    pool,
                    out,
                    from_size=args.from_size,
                    signer=signer,
                    on=args.status_on,
                    progress=progress,
                    restricted=args.restricted,
                    status_at=args.status_at,
                )
        finally:
            await pool.close()
        return "\n".join(exported_lines(done))

    for urls in _urls(settings):
        print(asyncio.run(run(urls)))
    return 0


def exported_lines(done: Exported) -> list[str]:
    """What an export wrote, and what it signed to do so, in words."""
    lines = []
    if done.signed is not None:
        checkpoint, verifier = done.signed.checkpoint, done.signed.verifier
        lines.append(
            f"signed a checkpoint of {checkpoint.size:,} events with {verifier.name} "
            f"(key id {verifier.key_id:08x}): root {checkpoint.root.hex()} "
            f"(base64 in the note: {base64.b64encode(checkpoint.root).decode()})"
        )
    lines.append(
        f"exported events {done.first_position:,} to {done.tree_size:,} ({done.events:,}) to {done.directory}"
    )
    if done.status_on is not None and done.status_size is not None:
        lines.append(
            f"status.json: every community's status on {done.status_on.isoformat()}, "
            f"as the log stood at {done.status_size:,} events"
        )
    return lines


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    directory = Path(args.directory).expanduser()
    # Mistakes in what was typed are exit 2, like every command's; exit 1 means the bundle does not hold.
    try:
        key = read_key(_read(Path(args.key).expanduser(), "--key"))
    except VerifyFailed as exc:
        raise InputError(f"--key: {exc.message}") from exc
    previous = _read(Path(args.previous).expanduser(), "--previous") if args.previous else None
    if not (directory / "events.jsonl").is_file():
        raise InputError(f"{directory} is not an export bundle (it has no events.jsonl)")
    try:
        # Its passes count different things (bytes hashed, then events replayed): a percentage only.
        with progress_bar("verifying") as progress:
            verified = verify_bundle(
                directory,
                key,
                previous_note=previous,
                on=args.status_on,
                replay=not args.no_replay,
                progress=progress,
            )
    except VerifyFailed as failure:
        if args.json:
            print(json.dumps({"verified": False, "position": failure.position, "problem": failure.message}))
        else:
            print(f"NOT VERIFIED: {failure}")
        return 1
    checkpoint = verified.checkpoint
    root = base64.b64encode(checkpoint.root).decode()
    rows = verified.rows or []
    if args.json:
        document = {
            "verified": True,
            "origin": checkpoint.origin,
            "tree_size": checkpoint.size,
            "root": root,
            "first_position": verified.first_position,
            "previous_size": verified.previous.size if verified.previous else None,
            "on": verified.on.isoformat() if verified.on else None,
            "communities": [row.as_json() for row in rows],
            "grants": [grant_json(g) for g in verified.grants],
            "restricted_values": verified.restricted_values,
            "erasures": [
                {"position": p, "community_id": c, "record_id": r, "reason": why}
                for p, c, r, why in verified.erasures
            ],
            "notes": verified.notes,
        }
        print(json.dumps(document, ensure_ascii=False))
        return 0
    print(f"checkpoint   {checkpoint.origin}, {checkpoint.size:,} events, root {root}: signature good")
    print(f"leaves       events {verified.first_position:,} to {checkpoint.size:,} hash to that root")
    if verified.previous is not None:
        print(f"consistency  extends the previous checkpoint of {verified.previous.size:,} events")
    if verified.rows is not None and verified.on is not None:
        standardized = sum(row.standardized for row in rows)
        compared = "the service's projections agree" if verified.compared else "not compared (see the notes)"
        print(f"replay       {len(rows)} communities on {verified.on}: {standardized} standardized;")
        print(f"             {compared}")
        revoked = sum(g.revoked_at is not None for g in verified.grants)
        print(f"grants       {len(verified.grants)} tokens granted in the log, {revoked} of them revoked")
        records = len({(c, r) for _, c, r, _ in verified.erasures})
        erased = len(verified.erasures)
        print(f"erasures     {erased} Erased events: the sealed text of {records} records forgotten")
        print()
        print(f"{'community':<14} {'town':<14} {'standardized':<12} {'met':>7}  unmet")
        for row in rows:
            mark = "yes" if row.standardized else "no"
            met = f"{row.met}/{row.applicable}"
            print(f"{row.community_id:<14} {row.town_id:<14} {mark:<12} {met:>7}  {', '.join(row.unmet)}")
    if verified.restricted_values is not None:
        print(f"restricted   {verified.restricted_values} values open their events' commitments")
    for note in verified.notes:
        print(f"note         {note}")
    print("VERIFIED")
    return 0


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
