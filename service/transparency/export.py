"""`qinglian export`: a bundle an inspector can check with no database and no trust in the service.

The bundle's files are listed in `FILES` below, which its README.txt carries too. It always holds every
event up to the checkpoint (after `--from-size N`, if given): a date never cuts the log, it only chooses the
day status.json gives each community's status for.

leaf-hashes.txt, subtrees.txt and status.json are claims, not evidence: the verifier trusts leaf-hashes.txt
or subtrees.txt only once they fold to the signed root, and then uses them to name the event (or the
16-event block) that differs; it compares status.json with its own replay of the events to catch
projections that do not follow from the log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg

from events.catalogue import CATALOGUE
from projections.audit import status_document, status_rows
from projections.localtime import local_date
from service.read.projector import Projector
from service.read.readmodel import whole_world
from service.transparency.queries import query
from service.transparency.signer import SignedCheckpoint, Signer
from service.transparency.tree import LogTree

EXPORT_BATCH = 10_000
FILES = """\
Files:
    events.jsonl     one line per event in position order: exactly the bytes that were hashed, so
                     leaf i = SHA-256(0x00 || line i) (step 1 below)
    checkpoint       the signed note the events are checked against; its size is the last line's position
                     (step 3)
    key.pub          the signer's C2SP verifier key; check it against one obtained independently (step 3)
    checkpoints/     every earlier checkpoint the same key signed, one note per file, named by tree size
                     (zero-padded); each must be consistent with the newest (step 4)
    leaf-hashes.txt  the leaf hash the database stored when each event was appended, hex, one per line; a
                     claim: trusted only once it folds to the signed root, then used to name an edited line
    subtrees.txt     (not with --from-size) the tree's stored subtrees of 16 leaves and more, one per line
                     as "level index hash" (hex); a claim like leaf-hashes.txt, used to name the 16-event
                     block that differs
    status.json      (not with --from-size) every community's status on one day (its "on") as the service's
                     stored projections give it, as the log stood at its "position" (the checkpoint's size,
                     or an earlier signed size); a claim, to compare with your own replay of events.jsonl
    frontier.txt     (only with --from-size N) N, then the hashes of the complete subtrees of the first N
                     events, largest first, hex (step 2)
    restricted.jsonl (only with --restricted) the restricted text held beside the log, one line per sealed
                     field: position, field, salt (hex) and value (step 5)
    README.txt       this file
"""
README = (
    """\
Qinglian export: the event log up to one signed checkpoint.

Check it with `qinglian verify DIR --key KEY.pub [--previous OLD-CHECKPOINT]`, or by hand:

1. Leaves. Each line of events.jsonl (without its newline) is one event's canonical bytes, in log order.
   Its leaf hash is SHA-256 of the byte 0x00 followed by the line. In Python:
       hashlib.sha256(b"\\x00" + line).digest()
2. Root. The Merkle tree hash of the leaves is RFC 9162 section 2.1.1: with n > 1 leaves, split at k,
   the largest power of two below n, and hash SHA-256(0x01 || MTH(first k) || MTH(the rest)). With
   --from-size N, frontier.txt lists the hashes of the complete subtrees of the first N events (largest
   first); the root of all events is those hashes followed by the new leaves' tree, folded the same way.
3. Checkpoint. The file checkpoint is a C2SP signed note (https://c2sp.org/signed-note): three lines of
   text (origin, tree size, base64 root), a blank line, and a signature line
   "— <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>". The signature is Ed25519 over
   the text before the blank line, including its final newline. key.pub is
   "<name>+<key id hex>+<base64(0x01 || 32-byte public key)>". The tree size must equal the number of
   events (plus N), and the root must equal the root computed in step 2.
4. Consistency. A checkpoint you trusted earlier (size m, root r) is consistent with this one if the root
   of the first m lines equals r.
5. Restricted text (only in a bundle exported with --restricted, for those allowed to read it). Each line
   of restricted.jsonl names an event's position and a payload field, with a salt (hex) and a value; the
   event's payload holds {"commitment": C} in that field, and C must equal the hex SHA-256 of the salt's
   bytes followed by the value's UTF-8 bytes. Text erased since it was recorded is absent; the events
   still verify without it, as they do without this file at all.

"""
    + FILES
)


class ExportError(Exception):
    """The export cannot be made as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Exported:
    directory: Path
    first_position: int
    tree_size: int
    events: int
    signed: SignedCheckpoint | None  # the checkpoint signed for this export, if a key was given
    status_on: date | None  # status.json's day, and the log size it stood at (None: no status.json)
    status_size: int | None


async def export_bundle(
    pool: asyncpg.Pool,
    out: Path,
    *,
    from_size: int = 0,
    signer: Signer | None = None,
    on: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    restricted: bool = False,
    status_at: int | None = None,
) -> Exported:
    """Write a bundle of events `from_size + 1` up to the newest checkpoint (signed now if `signer`);
    with `restricted`, the restricted text held beside the log too. status.json is as the log stood at
    `status_at`, a size this key signed a checkpoint at (default: the newest checkpoint's)."""
    if from_size < 0:
        raise ExportError(f"--from-size must be 0 or more, not {from_size}")
    if status_at is not None and from_size > 0:
        raise ExportError("--status-at needs the whole log: it cannot go with --from-size")
    signed = await signer.sign() if signer is not None else None
    row = await pool.fetchrow(query("latest_checkpoint"))
    if row is None:
        raise ExportError("no checkpoint has been signed yet; run `qinglian checkpoint --key KEY` first")
    size: int = row["tree_size"]
    verifier: str = row["verifier"]
    if from_size > size:
        raise ExportError(
            f"--from-size {from_size} is beyond the newest checkpoint, which covers {size} events"
        )
    earlier_notes = [
        r for r in await pool.fetch(query("checkpoints_upto"), size) if r["verifier"] == verifier
    ]
    sizes = {size, *(r["tree_size"] for r in earlier_notes)}
    if status_at is not None and status_at not in sizes:
        raise ExportError(
            f"--status-at {status_at} is not a size this key signed a checkpoint at "
            f"(it signed {', '.join(str(n) for n in sorted(sizes))})"
        )
    _prepare(out)
    tree = LogTree(pool)
    await tree.seal()
    (out / "checkpoint").write_text(row["note"], encoding="utf-8")
    (out / "key.pub").write_text(verifier + "\n", encoding="utf-8")
    history = out / "checkpoints"
    history.mkdir()
    for earlier in earlier_notes:
        (history / f"{earlier['tree_size']:012d}").write_text(earlier["note"], encoding="utf-8")
    if from_size > 0:
        hashes = await tree.subtree_hashes(from_size)
        (out / "frontier.txt").write_text(
            "".join(f"{line}\n" for line in (str(from_size), *(h.hex() for h in hashes))), encoding="utf-8"
        )
    written = await _write_events(pool, out, from_size, size, progress)
    if from_size == 0:
        subtrees = await pool.fetch(query("subtrees_upto"), size)
        (out / "subtrees.txt").write_text(
            "".join(f"{r['level']} {r['index']} {r['hash'].hex()}\n" for r in subtrees), encoding="utf-8"
        )
    status_on: date | None = None
    status_size: int | None = None
    if from_size == 0 and size > 0:
        status_size = size if status_at is None else status_at
        status_on = await _write_status(pool, out, status_size, on)
    if restricted:
        await _write_restricted(pool, out, from_size, size)
    (out / "README.txt").write_text(README, encoding="utf-8")
    return Exported(out, from_size + 1, size, written, signed, status_on, status_size)


def _prepare(out: Path) -> None:
    try:
        if out.exists():
            if not out.is_dir() or any(out.iterdir()):
                raise ExportError(f"{out} exists and is not an empty folder; an export never overwrites")
        else:
            out.mkdir(parents=True)
    except OSError as exc:
        raise ExportError(f"cannot create {out}: {exc.strerror or exc}") from exc


async def _write_events(
    pool: asyncpg.Pool, out: Path, after: int, size: int, progress: Callable[[int, int], None] | None
) -> int:
    total = size - after
    done = 0
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        with (out / "events.jsonl").open("wb") as events, (out / "leaf-hashes.txt").open("w") as leaves:
            cursor = conn.cursor(query("export_events"), after, size, prefetch=EXPORT_BATCH)
            async for record in cursor:
                if record["position"] != after + done + 1:
                    # Positions are gap-free by construction: a gap is a deleted event, named here.
                    raise ExportError(
                        f"the log has no event at position {after + done + 1} (the next is at "
                        f"{record['position']}): events were deleted from the database"
                    )
                events.write(record["canonical"])
                events.write(b"\n")
                leaves.write(record["leaf_hash"].hex())
                leaves.write("\n")
                done += 1
                if progress is not None and done % EXPORT_BATCH == 0:
                    progress(done, total)
    if progress is not None:
        progress(done, total)
    if done != total:
        raise ExportError(
            f"the log has no event at position {after + done + 1}: it ends at {after + done}, but the "
            f"checkpoint covers {size}"
        )
    return done


async def _write_restricted(pool: asyncpg.Pool, out: Path, after: int, size: int) -> None:
    with (out / "restricted.jsonl").open("w", encoding="utf-8") as lines:
        for row in await pool.fetch(query("restricted_upto"), size):
            if row["position"] > after:
                item = {
                    "position": row["position"],
                    "field": row["field"],
                    "salt": row["salt"].hex(),
                    "value": row["value"],
                }
                lines.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")


async def _write_status(pool: asyncpg.Pool, out: Path, size: int, on: date | None) -> date:
    """The statuses on `on` (default: the local date the last exported event was recorded); returns
    the day written."""
    await Projector(pool, CATALOGUE).catch_up()
    world = await whole_world(pool)
    if on is None:
        on = local_date(await pool.fetchval(query("recorded_at"), size))
    document = status_document(status_rows(world, size, on), size, on)
    (out / "status.json").write_text(
        json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8"
    )
    return on
