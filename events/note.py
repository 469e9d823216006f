"""Signed notes (c2sp.org/signed-note) with Ed25519 keys, and checkpoint bodies (c2sp.org/tlog-checkpoint).

A checkpoint is the text a log signs to commit to its tree head: `origin\\nsize\\nbase64(root)\\n`, optionally
followed by extension lines. A signed note is that text, a blank line, and one line per signature:
`— <key name> base64(key id || signature)\\n`. The formats match Go's golang.org/x/mod/sumdb/note, so notes
and keys made here can be checked by the Go tooling and the other way round.

Keys are spelled as in Go:

- verifier key: `name+hex(key id)+base64(0x01 || public key)`
- signer key:   `PRIVATE+KEY+name+hex(key id)+base64(0x01 || seed)`

where key id = SHA-256(name || 0x0A || 0x01 || public key)[:4], read as a big-endian uint32.

Everything here is pure: keys arrive as arguments (generating one needs randomness, which lives in the
service), and Ed25519 signing is deterministic (RFC 8032), so `sign_note` gives the same note every time.

Parsing is strict where the specs leave room: base64 must be canonical (the spelling `b64encode` would give)
and key ids lowercase hex, so every key, note and checkpoint has exactly one accepted spelling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from events.errors import QinglianError

# The signature type byte c2sp.org/signed-note assigns to Ed25519.
ALG_ED25519 = 0x01
ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4
# The spec asks verifiers to cap the signature count (and accept at least 16); Go's sumdb/note stops at 100.
MAX_SIGNATURES = 100
ROOT_SIZE = 32
# RFC 6962 tree sizes are uint64.
MAX_TREE_SIZE = 2**64 - 1

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
SIGNER_PREFIX = "PRIVATE+KEY+"

_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
# ASCII digits only (str.isdigit would take other scripts' digits), no leading zeros except "0" itself.
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


class NoteError(QinglianError):
    """A key, note or checkpoint is malformed, or a note carries no valid signature from a trusted key."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# -- small checks ---------------------------------------------------------------------------------------


def _has_control(text: str) -> bool:
    # Signed notes must not contain ASCII control characters other than newline.
    return any(c < " " and c != "\n" for c in text)


def _is_valid_utf8(text: str) -> bool:
    # A Python str can hold lone surrogates, which have no UTF-8 spelling; such text cannot be a note.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode spaces, no plus (which separates the fields of a key), no control characters."""
    return (
        name != ""
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _has_control(name)
        and _is_valid_utf8(name)
    )


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: RFC 4648 alphabet, padded, and canonical (so one value has one spelling)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_id(name: str, public_key: bytes) -> int:
    """SHA-256(name || "\\n" || 0x01 || public key)[:4] as a big-endian uint32: the Ed25519 key id."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:KEY_ID_SIZE], "big")


def _public_key_of(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


# -- keys -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A named Ed25519 public key; construction checks the name, the key length and the key id."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteError(f"invalid key name {self.name!r}")
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise NoteError(f"public key is {len(self.public_key)} bytes, not {ED25519_KEY_SIZE}")
        if self.key_id != key_id(self.name, self.public_key):
            raise NoteError(f"key id {self.key_id:08x} does not match the name and public key")


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A named Ed25519 private key (its 32-byte seed), kept out of repr so it never reaches a log."""

    name: str
    key_id: int
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteError(f"invalid key name {self.name!r}")
        if len(self.seed) != ED25519_KEY_SIZE:
            raise NoteError(f"seed is {len(self.seed)} bytes, not {ED25519_KEY_SIZE}")
        # The id hashes the public key, so it can only be checked once the public key is derived.
        if self.key_id != key_id(self.name, _public_key_of(self.seed)):
            raise NoteError(f"key id {self.key_id:08x} does not match the name and seed")

    @property
    def verifier(self) -> VerifierKey:
        """The matching verifier key, for publishing."""
        return VerifierKey(self.name, self.key_id, _public_key_of(self.seed))


def make_verifier_key(name: str, public_key: bytes) -> VerifierKey:
    """A verifier key for `name`, with its key id computed."""
    if not is_valid_key_name(name):
        raise NoteError(f"invalid key name {name!r}")
    return VerifierKey(name, key_id(name, public_key), public_key)


def make_signer_key(name: str, seed: bytes) -> SignerKey:
    """A signer key for `name` from a 32-byte Ed25519 seed, with its key id computed."""
    if not is_valid_key_name(name):
        raise NoteError(f"invalid key name {name!r}")
    if len(seed) != ED25519_KEY_SIZE:
        raise NoteError(f"seed is {len(seed)} bytes, not {ED25519_KEY_SIZE}")
    return SignerKey(name, key_id(name, _public_key_of(seed)), seed)


def _parse_key_fields(name: str, rest: str, what: str) -> tuple[int, bytes]:
    """Split `hex(key id)+base64(0x01 || key)`, checking the name, the id's spelling and the algorithm."""
    if not is_valid_key_name(name):
        raise NoteError(f"{what}: invalid key name {name!r}")
    id_hex, sep, key_b64 = rest.partition("+")
    if not sep or not _KEY_ID_HEX.fullmatch(id_hex):
        raise NoteError(f"{what}: key id must be 8 lowercase hex digits")
    raw = _b64decode(key_b64, f"{what}: key")
    if not raw:
        raise NoteError(f"{what}: key is empty")
    return int(id_hex, 16), raw


def parse_verifier_key(text: str) -> VerifierKey:
    """Read `name+hex(key id)+base64(0x01 || public key)`. Raises NoteError if anything is off."""
    name, sep, rest = text.partition("+")
    if not sep:
        raise NoteError("verifier key: expected name+keyid+key")
    id_, raw = _parse_key_fields(name, rest, "verifier key")
    # Same order as Go: the id covers the algorithm byte too, so check it before trusting that byte.
    if id_ != int.from_bytes(
        hashlib.sha256(name.encode("utf-8") + b"\n" + raw).digest()[:KEY_ID_SIZE], "big"
    ):
        raise NoteError("verifier key: key id does not match the name and key")
    if raw[0] != ALG_ED25519:
        raise NoteError(f"verifier key: unknown algorithm 0x{raw[0]:02x}")
    if len(raw) - 1 != ED25519_KEY_SIZE:
        raise NoteError(f"verifier key: wrong key length {len(raw) - 1}")
    return VerifierKey(name, id_, raw[1:])


def verifier_key_text(name: str, public_key: bytes) -> str:
    """`name+hex(key id)+base64(0x01 || public key)`, the text parse_verifier_key reads."""
    key = make_verifier_key(name, public_key)
    return f"{key.name}+{key.key_id:08x}+{_b64encode(bytes([ALG_ED25519]) + key.public_key)}"


def parse_signer_key(text: str) -> SignerKey:
    """Read `PRIVATE+KEY+name+hex(key id)+base64(0x01 || seed)`. Raises NoteError if anything is off.

    The reasons never quote the text, since it holds the private key.
    """
    if not text.startswith(SIGNER_PREFIX):
        raise NoteError("signer key: must start with PRIVATE+KEY+")
    name, sep, rest = text[len(SIGNER_PREFIX) :].partition("+")
    if not sep:
        raise NoteError("signer key: expected PRIVATE+KEY+name+keyid+key")
    id_, raw = _parse_key_fields(name, rest, "signer key")
    if raw[0] != ALG_ED25519:
        raise NoteError(f"signer key: unknown algorithm 0x{raw[0]:02x}")
    if len(raw) - 1 != ED25519_KEY_SIZE:
        raise NoteError(f"signer key: wrong seed length {len(raw) - 1}")
    seed = raw[1:]
    if id_ != key_id(name, _public_key_of(seed)):
        raise NoteError("signer key: key id does not match the name and key")
    return SignerKey(name, id_, seed)


def signer_key_text(name: str, seed: bytes) -> str:
    """`PRIVATE+KEY+name+hex(key id)+base64(0x01 || seed)`, the text parse_signer_key reads."""
    key = make_signer_key(name, seed)
    return f"{SIGNER_PREFIX}{key.name}+{key.key_id:08x}+{_b64encode(bytes([ALG_ED25519]) + key.seed)}"


# -- checkpoint bodies ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head as a checkpoint states it: which log (origin), how many leaves, and the root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def _check_origin(origin: str) -> None:
    # The spec only requires non-empty; spaces would be ambiguous in signature lines, control characters
    # are banned from notes anyway. A plus is allowed: clients must not assume the origin's shape.
    if origin == "":
        raise NoteError("checkpoint: origin is empty")
    if any(c.isspace() for c in origin) or _has_control(origin) or not _is_valid_utf8(origin):
        raise NoteError(f"checkpoint: origin {origin!r} contains spaces or control characters")


def _check_extension(line: str) -> None:
    if line == "":
        raise NoteError("checkpoint: extension lines must be non-empty")
    if "\n" in line or _has_control(line) or not _is_valid_utf8(line):
        raise NoteError("checkpoint: extension line contains a newline or control characters")


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The checkpoint note text `origin\\nsize\\nbase64(root)\\n`, then any extension lines, one per line."""
    _check_origin(origin)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
        raise NoteError(f"checkpoint: size {size!r} is not a uint64")
    if len(root) != ROOT_SIZE:
        raise NoteError(f"checkpoint: root is {len(root)} bytes, not {ROOT_SIZE}")
    for line in extensions:
        _check_extension(line)
    return "".join(f"{line}\n" for line in (origin, str(size), _b64encode(root), *extensions))


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Read checkpoint note text (as open_note returns it). Raises NoteError if it is malformed."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint: text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError(f"checkpoint: expected at least 3 lines, got {len(lines)}")
    origin, size_text, root_text, *extensions = lines
    _check_origin(origin)
    if not _TREE_SIZE.fullmatch(size_text):
        raise NoteError(f"checkpoint: size {size_text!r} is not a decimal without leading zeros")
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        raise NoteError(f"checkpoint: size {size_text} does not fit in a uint64")
    root = _b64decode(root_text, "checkpoint: root")
    if len(root) != ROOT_SIZE:
        raise NoteError(f"checkpoint: root is {len(root)} bytes, not {ROOT_SIZE}")
    for line in extensions:
        _check_extension(line)
    return Checkpoint(origin, size, root, tuple(extensions))


# -- signed notes ---------------------------------------------------------------------------------------


def _check_text(text: str) -> None:
    if text == "" or not text.endswith("\n"):
        raise NoteError("note text must be non-empty and end in a newline")
    if not _is_valid_utf8(text):
        raise NoteError("note is not valid UTF-8")
    if _has_control(text):
        raise NoteError("note contains a control character other than newline")


def _signature_line(text: str, signer: SignerKey) -> str:
    signature = Ed25519PrivateKey.from_private_bytes(signer.seed).sign(text.encode("utf-8"))
    payload = signer.key_id.to_bytes(KEY_ID_SIZE, "big") + signature
    return f"{SIGNATURE_PREFIX}{signer.name} {_b64encode(payload)}\n"


def sign_note(text: str, signer: SignerKey, *cosigners: SignerKey) -> str:
    """text + a blank line + one signature line per signer, in the order given.

    Pure: Ed25519 signatures are deterministic. Raises NoteError for text a note cannot carry, or if the
    same key would sign twice.
    """
    _check_text(text)
    signers = (signer, *cosigners)
    if len({(s.name, s.key_id) for s in signers}) != len(signers):
        raise NoteError("the same key is listed twice among the signers")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(_signature_line(text, s) for s in signers)


def _index_verifiers(verifiers: Sequence[VerifierKey]) -> dict[tuple[str, int], VerifierKey]:
    known: dict[tuple[str, int], VerifierKey] = {}
    for verifier in verifiers:
        seen = known.setdefault((verifier.name, verifier.key_id), verifier)
        # Two different keys under one name and id would make a signature's meaning depend on list order.
        if seen != verifier:
            raise NoteError(
                f"two different verifier keys share name {verifier.name!r} and id {verifier.key_id:08x}"
            )
    return known


def _as_text(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    return note


def open_note(note: str | bytes, verifiers: Sequence[VerifierKey]) -> tuple[str, list[str]]:
    """Check a signed note; return its text and the names of the given keys whose signatures verified.

    Per c2sp.org/signed-note: signatures by keys not among `verifiers` (name and id both must match) are
    ignored; a signature by a known key that does not verify rejects the whole note; a note with no verified
    signature is rejected. A repeated signature by one key counts once. Raises NoteError in every failure.
    """
    known = _index_verifiers(verifiers)
    msg = _as_text(note)
    if not _is_valid_utf8(msg):
        raise NoteError("note is not valid UTF-8")
    if _has_control(msg):
        raise NoteError("note contains a control character other than newline")
    # The text ends at the last blank line: the text may hold blank lines, signature lines never are.
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if block == "":
        raise NoteError("note has no signature lines")
    if not block.endswith("\n"):
        raise NoteError("note does not end in a newline")
    lines = block[:-1].split("\n")
    # Count before verifying anything, so a huge note costs no signature checks.
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")

    verified: list[str] = []
    done: set[tuple[str, int]] = set()
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("signature line does not start with an em dash and a space")
        name, _, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not is_valid_key_name(name):
            raise NoteError(f"signature line has an invalid key name {name!r}")
        raw = _b64decode(sig_b64, f"signature by {name}")
        if len(raw) <= KEY_ID_SIZE:
            raise NoteError(f"signature by {name} is too short")
        id_, signature = int.from_bytes(raw[:KEY_ID_SIZE], "big"), raw[KEY_ID_SIZE:]
        verifier = known.get((name, id_))
        if verifier is None or (name, id_) in done:
            continue
        done.add((name, id_))
        if not _verifies(verifier, text, signature):
            raise NoteError(f"signature by {name} ({id_:08x}) does not verify")
        verified.append(name)
    if not verified:
        raise NoteError("note has no valid signature from a known key")
    return text, verified


def _verifies(verifier: VerifierKey, text: str, signature: bytes) -> bool:
    if len(signature) != ED25519_SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(signature, text.encode("utf-8"))
    except (InvalidSignature, ValueError):  # ValueError: a 32-byte string that is not a curve point
        return False
    return True
