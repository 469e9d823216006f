"""The checkpoint signer: signs (origin, size, root) as a C2SP signed note, and never a fork.

The key lives in a file or in QINGLIAN_SIGNING_KEY, never in the database (DESIGN §4). The signer
remembers the last checkpoint it signed in a file beside its key, not only in the database: someone who can
rewrite the database could otherwise delete the newest checkpoints and get an older, shorter history
signed afresh. Before signing, it proves the new tree extends the remembered one with a consistency proof
from the database, and refuses if it does not.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import structlog

from events.errors import QinglianError
from events.merkle import verify_consistency
from events.note import (
    Checkpoint,
    NoteError,
    SignerKey,
    VerifierKey,
    checkpoint_body,
    make_signer_key,
    open_note,
    parse_checkpoint_body,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    signer_key_text,
    verifier_key_text,
)
from service.log.clock import utc_now
from service.log.queries import query as log_query
from service.log.reads import Conn
from service.transparency.queries import query
from service.transparency.tree import LogTree, TreeIntegrityError

SIGN_LOCK = 0x716C_7369_676E  # "qlsign"
log = structlog.get_logger(__name__)


class SigningKeyError(Exception):
    """The signing key cannot be read or used; the message says which and why."""


class SigningRefused(QinglianError):
    """The log is not an extension of what this signer signed before: nothing is signed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A signed note and what it says."""

    note: str
    checkpoint: Checkpoint
    verifier: VerifierKey
    signed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyPair:
    signer_text: str
    verifier_text: str


def generate_key(origin: str) -> KeyPair:
    """A new Ed25519 key named `origin` (the log's origin line in every checkpoint it signs)."""
    try:
        signer = make_signer_key(origin, os.urandom(32))
    except NoteError as exc:
        raise SigningKeyError(f"--origin: {exc.reason}") from exc
    return KeyPair(
        signer_text=signer_key_text(signer.name, signer.seed),
        verifier_text=verifier_key_text(signer.name, signer.verifier.public_key),
    )


def write_key_pair(prefix: Path, pair: KeyPair) -> tuple[Path, Path]:
    """PREFIX.key (owner read/write only) and PREFIX.pub; refuses to overwrite either."""
    private, public = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for path in (private, public):
        if path.exists():
            raise SigningKeyError(f"{path} already exists; a key is never overwritten")
    try:
        # Created 0600 from the start (O_EXCL, no window where another user could read it).
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(pair.signer_text + "\n")
        public.write_text(pair.verifier_text + "\n", encoding="utf-8")
    except OSError as exc:
        raise SigningKeyError(
            f"cannot write the key: {exc.strerror or exc} ({exc.filename or prefix})"
        ) from exc
    return private, public


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A loaded signer key and where the signer keeps its memory of the last checkpoint."""

    signer: SignerKey
    state_path: Path


def load_signing_key(value: str, data_dir: Path) -> SigningKey:
    """The key from QINGLIAN_SIGNING_KEY or --key: the key text itself, or the path of a key file."""
    path: Path | None = None
    if value.startswith("PRIVATE+KEY+"):
        text = value
    else:
        path = Path(value).expanduser()
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise SigningKeyError(f"cannot read the signing key {path}: {reason}") from exc
        if not text.startswith("PRIVATE+KEY+") and _is_verifier_key(text):
            raise SigningKeyError(
                f"{path} is a public (verifier) key; signing takes the private key, PREFIX.key"
            )
        if mode & 0o077:
            raise SigningKeyError(
                f"the signing key {path} is readable by other users (mode {mode & 0o777:o}); "
                f"make it private: chmod 600 {path}"
            )
    try:
        signer = parse_signer_key(text)
    except NoteError as exc:
        raise SigningKeyError(f"the signing key is not a C2SP signer key: {exc.reason}") from exc
    if path is not None:
        state = path.with_name(path.name.removesuffix(".key") + ".last-checkpoint")
    else:
        state = data_dir / "checkpoints" / f"{signer.key_id:08x}.last-checkpoint"
    return SigningKey(signer, state)


def _is_verifier_key(text: str) -> bool:
    try:
        parse_verifier_key(text)
    except NoteError:
        return False
    return True


def _opened(note: str, verifier: VerifierKey) -> Checkpoint:
    text, _ = open_note(note, [verifier])
    return parse_checkpoint_body(text)


class Signer:
    """Signs the log's current tree, after proving it extends the last tree this key signed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        tree: LogTree,
        key: SigningKey,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._pool = pool
        self._tree = tree
        self._key = key
        self._clock = clock
        self._verifier = key.signer.verifier
        self._verifier_text = verifier_key_text(self._verifier.name, self._verifier.public_key)

    async def sign(self) -> SignedCheckpoint:
        """Sign the tree of every event so far (or return the last checkpoint if nothing was added)."""
        await self._tree.seal()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(query("take_sign_lock"), SIGN_LOCK)
            size: int = await conn.fetchval(log_query("head_position"))
            try:
                root = await self._tree.root(size, conn=conn)
                last = await self._last(conn)
                if last is not None:
                    await self._check_extends(conn, last, size, root)
            except TreeIntegrityError as exc:
                raise SigningRefused(f"the log's tree cannot be computed: {exc}") from exc
            note = sign_note(checkpoint_body(self._verifier.name, size, root), self._key.signer)
            signed_at = self._clock()
            await conn.execute(query("save_checkpoint"), size, root, note, self._verifier_text, signed_at)
            self._remember(note)
        checkpoint = Checkpoint(self._verifier.name, size, root)
        log.info("checkpoint signed", tree_size=size, root=root.hex(), key_id=f"{self._verifier.key_id:08x}")
        return SignedCheckpoint(note, checkpoint, self._verifier, signed_at)

    async def _check_extends(self, conn: Conn, last: Checkpoint, size: int, root: bytes) -> None:
        if size < last.size:
            raise SigningRefused(
                f"the log has {size} events, fewer than the {last.size} this key signed: events were removed"
            )
        if size == last.size:
            if root != last.root:
                raise SigningRefused(
                    f"the tree of {size} events has another root than the one this key signed: "
                    "events were changed"
                )
            return
        if last.size == 0:
            return  # every tree extends the empty one
        proof = await self._tree.consistency_proof(last.size, size, conn=conn)
        if not verify_consistency(last.size, size, proof, last.root, root):
            raise SigningRefused(
                f"the tree of {size} events does not extend the tree of {last.size} this key signed: "
                f"events at or before position {last.size} were changed"
            )

    async def _last(self, conn: Conn) -> Checkpoint | None:
        """The last checkpoint this key signed: from its own file, else the newest one it signed in the
        database (its signature proves it genuine, though not that it is the newest)."""
        remembered = self._recall()
        if remembered is not None:
            return remembered
        row = await conn.fetchrow(query("latest_checkpoint_of"), self._verifier_text)
        if row is None:
            return None
        try:
            return _opened(row["note"], self._verifier)
        except NoteError as exc:
            raise SigningRefused(
                f"the newest checkpoint in the database is not signed by this key: {exc}"
            ) from exc

    def _recall_note(self) -> str | None:
        try:
            return self._key.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SigningKeyError(f"cannot read {self._key.state_path}: {exc.strerror or exc}") from exc

    def _recall(self) -> Checkpoint | None:
        note = self._recall_note()
        if note is None:
            return None
        try:
            return _opened(note, self._verifier)
        except NoteError as exc:
            raise SigningRefused(
                f"{self._key.state_path} does not hold a checkpoint signed by this key ({exc.reason}); "
                "restore it, or move it away to trust the database's newest checkpoint"
            ) from exc

    def _remember(self, note: str) -> None:
        # Write then rename: a crash leaves the old checkpoint or the new one, never half of either.
        path = self._key.state_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            partial.write_text(note, encoding="utf-8")
            os.replace(partial, path)
        except OSError as exc:
            raise SigningKeyError(f"cannot remember the checkpoint in {path}: {exc.strerror or exc}") from exc


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """The newest checkpoint as the database holds it, opened with the key it names."""

    note: str
    checkpoint: Checkpoint
    verifier_text: str
    key_id: int
    signed_at: datetime


async def latest_checkpoint(pool: asyncpg.Pool) -> StoredCheckpoint | None:
    """The newest signed checkpoint, its signature checked with the verifier key stored beside it.

    That check proves only that the row is self-consistent; inspectors check with a key they hold.
    """
    row = await pool.fetchrow(query("latest_checkpoint"))
    if row is None:
        return None
    verifier = parse_verifier_key(row["verifier"])
    checkpoint = _opened(row["note"], verifier)
    return StoredCheckpoint(row["note"], checkpoint, row["verifier"], verifier.key_id, row["signed_at"])


async def latest_note(pool: asyncpg.Pool) -> str | None:
    """The newest signed checkpoint, as served at GET /checkpoint."""
    row = await pool.fetchrow(query("latest_checkpoint"))
    return None if row is None else str(row["note"])


async def sign_periodically(signer: Signer, pool: asyncpg.Pool, every: float) -> None:
    """Sign whenever the log has grown, at most once per `every` seconds, for as long as the task lives."""
    while True:
        try:
            head: int = await pool.fetchval(log_query("head_position"))
            row = await pool.fetchrow(query("latest_checkpoint"))
            if row is None or head > row["tree_size"]:
                await signer.sign()
        except SigningRefused as exc:
            # Loud and repeated: an operator must look. The last good checkpoint stays the one served.
            log.error("checkpoint refused", reason=exc.reason)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, SigningKeyError) as exc:
            log.warning("checkpoint signing failed; will retry", error=str(exc))
        await asyncio.sleep(every)


async def signed_at_size(pool: asyncpg.Pool, size: int) -> bool:
    """Whether any checkpoint was signed for the log at `size` events."""
    found: bool = await pool.fetchval(query("signed_at_size"), size)
    return found
