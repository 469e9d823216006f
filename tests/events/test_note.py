"""Signed notes, note keys and checkpoint bodies against the known answers in tests/fixtures/vectors.

The vectors are read in place from signed-note-and-ed25519.md (sections 6a, 6b, 6d and 7); only the malformed
notes of 6d, which the file states in prose, are rebuilt here from its text and signature line.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from events.note import (
    MAX_SIGNATURES,
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

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "vectors" / "signed-note-and-ed25519.md"


def section(number: str) -> str:
    """The body of the heading `### <number>.` or `## <number>.`, up to the next numbered heading."""
    text = VECTORS.read_text(encoding="utf-8")
    match = re.search(rf"^##+ {re.escape(number)}\. .*?\n(.*?)(?=^##+ [0-9]|\Z)", text, re.M | re.S)
    assert match is not None, f"section {number} not found in {VECTORS}"
    return match.group(1)


def indented_after(body: str, header: str) -> list[str]:
    """The lines indented by two spaces right after the line starting with `header`, unindented."""
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header)) + 1
    block: list[str] = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    return block


def fenced(body: str) -> str:
    """The content of the first ``` fence (exactly three backticks) in body, with its final newline."""
    match = re.search(r"^```(?:text)?\n(.*?)^```$", body, re.M | re.S)
    assert match is not None
    return match.group(1)


# -- 6a: the C2SP signed-note example --------------------------------------------------------------------

C2SP = section("6a")
C2SP_KEY = re.findall(r"^    (\S+\+[0-9a-f]{8}\+\S+)$", C2SP, re.M)[0]
C2SP_NOTE = fenced(C2SP)


def test_the_c2sp_example_key_has_the_published_id() -> None:
    key = parse_verifier_key(C2SP_KEY)
    assert "example.com/foo" == key.name
    assert 0x530D903A == key.key_id
    assert C2SP_KEY == verifier_key_text(key.name, key.public_key)


def test_the_c2sp_example_note_verifies() -> None:
    assert ("This is an example message.\n", ["example.com/foo"]) == open_note(
        C2SP_NOTE, [parse_verifier_key(C2SP_KEY)]
    )


def test_the_c2sp_example_note_fails_with_one_byte_of_text_changed() -> None:
    tampered = C2SP_NOTE.replace("example message", "example massage", 1)
    assert tampered != C2SP_NOTE
    with pytest.raises(NoteError) as caught:
        open_note(tampered, [parse_verifier_key(C2SP_KEY)])
    assert "signature by example.com/foo (530d903a) does not verify" == caught.value.reason


# -- 6d: Go sumdb/note known answers -----------------------------------------------------------------------

GO = section("6d")
SIGNER_TEXT = re.findall(r"^Signer key:\s+(\S+)$", GO, re.M)[0]
PETER_KEY, ENOCH_KEY = indented_after(GO, "Verifier keys:")
GO_TEXT = "".join(f"{line}\n" for line in indented_after(GO, "Note text"))
PETER_LINE, ENOCH_LINE = (f"{line}\n" for line in indented_after(GO, "Signature lines"))
BAD_VERIFIER_KEYS = [line.split()[0] for line in indented_after(GO, "Verifier keys that must be rejected")]


def test_the_vectors_were_read() -> None:
    # A guard against the parsing above silently picking up the wrong lines.
    assert GO_TEXT.startswith("If you think cryptography")
    assert 2 == GO_TEXT.count("\n")
    assert PETER_LINE.startswith("\u2014 PeterNeumann ")
    assert ENOCH_LINE.startswith("\u2014 EnochRoot ")
    assert 2 == len(BAD_VERIFIER_KEYS)


def test_the_go_signer_key_round_trips_and_derives_the_published_verifier_key() -> None:
    signer = parse_signer_key(SIGNER_TEXT)
    assert ("PeterNeumann", 0xC74F20A3) == (signer.name, signer.key_id)
    assert SIGNER_TEXT == signer_key_text(signer.name, signer.seed)
    assert parse_verifier_key(PETER_KEY) == signer.verifier
    assert PETER_KEY == verifier_key_text(signer.name, signer.verifier.public_key)


def test_the_go_verifier_keys_round_trip() -> None:
    for text in (PETER_KEY, ENOCH_KEY):
        key = parse_verifier_key(text)
        assert text == verifier_key_text(key.name, key.public_key)


def test_signing_the_go_text_reproduces_the_published_signature() -> None:
    assert GO_TEXT + "\n" + PETER_LINE == sign_note(GO_TEXT, parse_signer_key(SIGNER_TEXT))


def test_a_note_signed_by_both_go_keys_verifies_with_each() -> None:
    note = GO_TEXT + "\n" + PETER_LINE + ENOCH_LINE
    peter, enoch = parse_verifier_key(PETER_KEY), parse_verifier_key(ENOCH_KEY)
    assert (GO_TEXT, ["PeterNeumann"]) == open_note(note, [peter])
    assert (GO_TEXT, ["EnochRoot"]) == open_note(note, [enoch])
    assert (GO_TEXT, ["PeterNeumann", "EnochRoot"]) == open_note(note, [enoch, peter])


def test_the_go_bad_verifier_keys_are_rejected() -> None:
    reasons = []
    for text in BAD_VERIFIER_KEYS:
        with pytest.raises(NoteError) as caught:
            parse_verifier_key(text)
        reasons.append(caught.value.reason)
    # The first is caught before its length is looked at: "...BADKEY==" leaves stray bits in its last
    # base64 character, which Go tolerates and this module does not.
    assert ["verifier key: key is not canonical base64", "verifier key: unknown algorithm 0x65"] == reasons


# The malformed notes listed in 6d, rebuilt from its text T and signature line P.
GO_MALFORMED = {
    "T alone": (GO_TEXT, "note has no blank line before its signatures"),
    "T + blank line": (GO_TEXT + "\n", "note has no signature lines"),
    "P without its newline": (GO_TEXT + "\n" + PETER_LINE[:-1], "note does not end in a newline"),
    "control character": (
        "\x01" + GO_TEXT + "\n" + PETER_LINE,
        "note contains a control character other than newline",
    ),
    "bad name": (
        GO_TEXT + "\n" + "\u2014 Bad Name " + PETER_LINE.split()[-1] + "\n",
        "signature by Bad is not valid base64",
    ),
    "unexpected line": (
        GO_TEXT + "\n" + PETER_LINE + "Unexpected line.\n",
        "signature line does not start with an em dash and a space",
    ),
}


@pytest.mark.parametrize("case", sorted(GO_MALFORMED))
def test_the_go_malformed_notes_are_rejected(case: str) -> None:
    note, reason = GO_MALFORMED[case]
    with pytest.raises(NoteError) as caught:
        open_note(note, [parse_verifier_key(PETER_KEY)])
    assert reason == caught.value.reason


def test_a_note_that_is_not_utf8_is_rejected() -> None:
    note = b"\xff" + (GO_TEXT + "\n" + PETER_LINE).encode("utf-8")
    with pytest.raises(NoteError) as caught:
        open_note(note, [parse_verifier_key(PETER_KEY)])
    assert "note is not valid UTF-8" == caught.value.reason
    # The same note as valid bytes opens like the str.
    assert (GO_TEXT, ["PeterNeumann"]) == open_note(note[1:], [parse_verifier_key(PETER_KEY)])


# -- 7: RFC 8032 TEST 1 ------------------------------------------------------------------------------------


def test_rfc8032_test1_reproduces() -> None:
    body = section("7")
    seed, public, signature = (
        bytes.fromhex(re.findall(rf"^{label}:\s*([0-9a-f]+)$", body, re.M)[0])
        for label in ("SECRET KEY", "PUBLIC KEY", "SIGNATURE")
    )
    signer = make_signer_key("rfc8032.example/test1", seed)
    assert public == signer.verifier.public_key
    # The note format signs its text; the empty message is not a valid note text, so check the raw Ed25519
    # signature through the same library call sign_note uses, then a note signed with the same key.
    assert signature == Ed25519PrivateKey.from_private_bytes(signer.seed).sign(b"")
    assert ("hello\n", ["rfc8032.example/test1"]) == open_note(
        sign_note("hello\n", signer), [signer.verifier]
    )


# -- other note behaviour ----------------------------------------------------------------------------------

PETER = parse_signer_key(SIGNER_TEXT)


def test_unknown_keys_are_ignored_even_if_they_share_a_name_or_an_id() -> None:
    note = GO_TEXT + "\n" + ENOCH_LINE + PETER_LINE
    peter = parse_verifier_key(PETER_KEY)
    other = make_signer_key("PeterNeumann", bytes(32)).verifier  # same name, another key and id
    assert (GO_TEXT, ["PeterNeumann"]) == open_note(note, [other, peter])
    with pytest.raises(NoteError) as caught:
        open_note(note, [other])
    assert "note has no valid signature from a known key" == caught.value.reason


def test_a_note_with_no_verifiers_is_rejected() -> None:
    with pytest.raises(NoteError) as caught:
        open_note(GO_TEXT + "\n" + PETER_LINE, [])
    assert "note has no valid signature from a known key" == caught.value.reason


def test_a_repeated_signature_counts_once() -> None:
    note = GO_TEXT + "\n" + PETER_LINE + PETER_LINE
    assert (GO_TEXT, ["PeterNeumann"]) == open_note(note, [parse_verifier_key(PETER_KEY)])


def test_a_bad_signature_from_a_known_key_rejects_the_note_even_beside_a_good_one() -> None:
    enoch_signature = base64.b64decode(ENOCH_LINE.split()[-1])[4:]
    forged = base64.b64encode(PETER.key_id.to_bytes(4, "big") + enoch_signature).decode()
    note = GO_TEXT + "\n" + ENOCH_LINE + f"\u2014 PeterNeumann {forged}\n"
    with pytest.raises(NoteError) as caught:
        open_note(note, [parse_verifier_key(PETER_KEY), parse_verifier_key(ENOCH_KEY)])
    assert "signature by PeterNeumann (c74f20a3) does not verify" == caught.value.reason


def test_too_many_signatures_are_refused_before_any_is_checked() -> None:
    unknown = make_signer_key("elsewhere.example", bytes(range(32)))
    line = sign_note(GO_TEXT, unknown)[len(GO_TEXT) + 1 :]
    assert (GO_TEXT, ["PeterNeumann"]) == open_note(
        GO_TEXT + "\n" + line * (MAX_SIGNATURES - 1) + PETER_LINE, [PETER.verifier]
    )
    with pytest.raises(NoteError) as caught:
        open_note(GO_TEXT + "\n" + line * MAX_SIGNATURES + PETER_LINE, [PETER.verifier])
    assert f"note has more than {MAX_SIGNATURES} signatures" == caught.value.reason


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("", "signature by PeterNeumann is too short"),
        ("x08go", "signature by PeterNeumann is not valid base64"),
        ("AAAA", "signature by PeterNeumann is too short"),
        # Peter's key id followed by two bytes: his key, so it must verify, and cannot.
        ("x08go/ZJ", "signature by PeterNeumann (c74f20a3) does not verify"),
    ],
)
def test_malformed_signatures_are_rejected(signature: str, reason: str) -> None:
    with pytest.raises(NoteError) as caught:
        open_note(GO_TEXT + "\n" + f"\u2014 PeterNeumann {signature}\n", [PETER.verifier])
    assert reason == caught.value.reason


def test_the_text_may_contain_blank_lines() -> None:
    text = "one\n\ntwo\n\n"
    assert (text, ["PeterNeumann"]) == open_note(sign_note(text, PETER), [PETER.verifier])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "note text must be non-empty and end in a newline"),
        ("no newline", "note text must be non-empty and end in a newline"),
        ("tab\there\n", "note contains a control character other than newline"),
        ("lone \udc80 surrogate\n", "note is not valid UTF-8"),
    ],
)
def test_sign_note_refuses_text_a_note_cannot_carry(text: str, reason: str) -> None:
    with pytest.raises(NoteError) as caught:
        sign_note(text, PETER)
    assert reason == caught.value.reason


def test_sign_note_with_cosigners_and_no_key_twice() -> None:
    other = make_signer_key("witness.example/w1", bytes(range(32, 64)))
    note = sign_note(GO_TEXT, PETER, other)
    assert GO_TEXT + "\n" + PETER_LINE == note[: len(GO_TEXT) + 1 + len(PETER_LINE)]
    assert (GO_TEXT, ["PeterNeumann", "witness.example/w1"]) == open_note(
        note, [other.verifier, PETER.verifier]
    )
    with pytest.raises(NoteError):
        sign_note(GO_TEXT, PETER, PETER)


def test_verifier_key_checks_its_id_on_construction() -> None:
    with pytest.raises(NoteError):
        VerifierKey("PeterNeumann", PETER.key_id, bytes(32))


# Anything but control characters (newline aside) and lone surrogates, which notes cannot carry.
NOTE_CHARACTERS = st.one_of(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), st.just("\n"))


@given(st.text(NOTE_CHARACTERS))
def test_any_note_text_round_trips(body: str) -> None:
    text = body + "\n"
    assert (text, ["PeterNeumann"]) == open_note(sign_note(text, PETER), [PETER.verifier])


# -- keys --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # uppercase id
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # short id
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+c74f20a3+",  # empty key
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # truncated base64
    ],
)
def test_malformed_verifier_keys_are_rejected(text: str) -> None:
    with pytest.raises(NoteError):
        parse_verifier_key(text)


@pytest.mark.parametrize(
    "text",
    [
        SIGNER_TEXT.removeprefix("PRIVATE+KEY+"),
        SIGNER_TEXT.replace("c74f20a3", "c74f20a4"),  # id of another key
        SIGNER_TEXT.replace("+AYEK", "+AoEK"),  # algorithm 0x02
        SIGNER_TEXT[:-4],  # seed too short
        "PRIVATE+KEY+Peter+Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    ],
)
def test_malformed_signer_keys_are_rejected_without_quoting_them(text: str) -> None:
    with pytest.raises(NoteError) as caught:
        parse_signer_key(text)
    assert "AYEKFALVFGyNhPJEMzD1QIDr" not in caught.value.reason


def test_the_seed_stays_out_of_repr() -> None:
    assert PETER.seed.hex() not in repr(PETER)
    assert "seed" not in repr(PETER)


def test_signer_key_checks_its_id_on_construction() -> None:
    with pytest.raises(NoteError):
        SignerKey(PETER.name, PETER.key_id ^ 1, PETER.seed)


# -- 6b: checkpoint bodies ---------------------------------------------------------------------------------

C2SP_CHECKPOINT = fenced(section("6b"))
CHECKPOINT_TEXT = C2SP_CHECKPOINT[: C2SP_CHECKPOINT.rindex("\n\n") + 1]


def test_the_c2sp_checkpoint_body_parses_and_round_trips() -> None:
    checkpoint = parse_checkpoint_body(CHECKPOINT_TEXT)
    assert "example.com/behind-the-sofa" == checkpoint.origin
    assert 20852163 == checkpoint.size
    assert 32 == len(checkpoint.root)
    assert () == checkpoint.extensions
    assert CHECKPOINT_TEXT == checkpoint_body(checkpoint.origin, checkpoint.size, checkpoint.root)


def test_the_c2sp_checkpoint_note_is_well_formed_but_unverifiable_without_its_key() -> None:
    # 6b publishes no key, so the signature is that of an unknown key: ignored, leaving nothing verified.
    with pytest.raises(NoteError) as caught:
        open_note(C2SP_CHECKPOINT, [PETER.verifier])
    assert "note has no valid signature from a known key" == caught.value.reason


def test_a_signed_checkpoint_round_trips_with_extensions() -> None:
    body = checkpoint_body("example.com/log", 0, bytes(range(32)), ["ext one", "ext+two"])
    assert "example.com/log\n0\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next one\next+two\n" == body
    text, names = open_note(sign_note(body, PETER), [PETER.verifier])
    assert ["PeterNeumann"] == names
    assert Checkpoint(
        "example.com/log", 0, bytes(range(32)), ("ext one", "ext+two")
    ) == parse_checkpoint_body(text)


ROOT_B64 = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"o\n007\n{ROOT_B64}\n", "checkpoint: size '007' is not a decimal without leading zeros"),
        (f"o\n00\n{ROOT_B64}\n", "checkpoint: size '00' is not a decimal without leading zeros"),
        (f"o\n-1\n{ROOT_B64}\n", "checkpoint: size '-1' is not a decimal without leading zeros"),
        (f"o\n+1\n{ROOT_B64}\n", "checkpoint: size '+1' is not a decimal without leading zeros"),
        (f"o\n0x10\n{ROOT_B64}\n", "checkpoint: size '0x10' is not a decimal without leading zeros"),
        (f"o\n\u0661\n{ROOT_B64}\n", "checkpoint: size '\u0661' is not a decimal without leading zeros"),
        (f"o\n 1\n{ROOT_B64}\n", "checkpoint: size ' 1' is not a decimal without leading zeros"),
        (f"o\n\n{ROOT_B64}\n", "checkpoint: size '' is not a decimal without leading zeros"),
        (f"o\n{2**64}\n{ROOT_B64}\n", f"checkpoint: size {2**64} does not fit in a uint64"),
        (f"o\n1\n{base64.b64encode(bytes(31)).decode()}\n", "checkpoint: root is 31 bytes, not 32"),
        (f"o\n1\n{base64.b64encode(bytes(33)).decode()}\n", "checkpoint: root is 33 bytes, not 32"),
        ("o\n1\nnot base64!\n", "checkpoint: root is not valid base64"),
        ("o\n1\n\n", "checkpoint: root is 0 bytes, not 32"),
        ("o\n1\n", "checkpoint: expected at least 3 lines, got 2"),
        ("o\n", "checkpoint: expected at least 3 lines, got 1"),
        (f"o\n1\n{ROOT_B64}", "checkpoint: text must end in a newline"),
        (f"\n1\n{ROOT_B64}\n", "checkpoint: origin is empty"),
        (f"my log\n1\n{ROOT_B64}\n", "checkpoint: origin 'my log' contains spaces or control characters"),
        (f"o\n1\n{ROOT_B64}\n\n", "checkpoint: extension lines must be non-empty"),
        (f"o\n1\n{ROOT_B64}\next\n\nmore\n", "checkpoint: extension lines must be non-empty"),
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(NoteError) as caught:
        parse_checkpoint_body(text)
    assert reason == caught.value.reason


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, bytes(32), ()),
        ("a b", 1, bytes(32), ()),
        ("a\nb", 1, bytes(32), ()),
        ("o", -1, bytes(32), ()),
        ("o", 2**64, bytes(32), ()),
        ("o", True, bytes(32), ()),
        ("o", 1, bytes(31), ()),
        ("o", 1, bytes(32), ("",)),
        ("o", 1, bytes(32), ("two\nlines",)),
    ],
)
def test_checkpoint_body_refuses_what_it_could_not_read_back(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(NoteError):
        checkpoint_body(origin, size, root, extensions)


@given(
    origin=st.text(
        st.characters(min_codepoint=0x21, exclude_categories=("Cs", "Zs", "Zl", "Zp")), min_size=1
    ),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_checkpoint_bodies_round_trip(origin: str, size: int, root: bytes) -> None:
    if any(c.isspace() for c in origin):
        return
    assert Checkpoint(origin, size, root) == parse_checkpoint_body(checkpoint_body(origin, size, root))
