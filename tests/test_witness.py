"""anonballot.witness: cosignature/v1 lines and the add-checkpoint rules (in memory).

The spec's example (c2sp.org/tlog-cosignature) publishes no witness key, so its line is
checked for its framing only; the signatures are checked against a message and key ID built
here independently, with ``cryptography``'s Ed25519 and hashlib, from the spec's text.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from _hypothesis import examples
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from anonballot.checkpoint import Checkpoint
from anonballot.errors import (
    EncodingError,
    InputError,
    InvalidProof,
    InvalidSignature,
    NotFound,
)
from anonballot.hazmat.merkle import MerkleTree, leaf_hash
from anonballot.signing import SigningKey
from anonballot.witness import (
    COSIGNATURE_TYPE,
    Cosignature,
    MemoryWitnessStore,
    PolicyWitness,
    SizeConflict,
    Witness,
    WitnessKey,
    WitnessPolicy,
    WitnessVerifier,
    cosignature_message,
    log_key,
    verify_cosignature,
)

SEED = bytes(range(32))
NAME = "witness.example/w1"
WKEY = WitnessKey(NAME, SigningKey(SEED))
ORIGIN = "district.example/long-bien-2026-11"
LOG = SigningKey(bytes(range(100, 132)))

SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_NOTE = (
    SPEC_BODY + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOo"
    "RDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
SPEC_COSIGNATURE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
    "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)


def tree(n: int, salt: bytes = b"") -> MerkleTree:
    return MerkleTree(leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n))


def note(t: MerkleTree, size: int | None = None, key: SigningKey = LOG) -> str:
    size = t.size if size is None else size
    return Checkpoint(ORIGIN, size, t.root(size)).sign(key)


def request(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    lines = [f"old {old}"] + [base64.b64encode(p).decode() for p in proof]
    return ("\n".join(lines) + "\n\n" + checkpoint).encode()


# -- cosignatures ---------------------------------------------------------------------------


def test_spec_example_line_framing() -> None:
    cosig = Cosignature.parse(SPEC_COSIGNATURE)
    assert cosig.name == "witness.example.com/w1"
    assert cosig.key_id == bytes.fromhex("8d66cf3f")
    assert cosig.timestamp == 1679315147  # the "time" line of the spec's signed message
    assert cosig.line() == SPEC_COSIGNATURE + "\n"


def test_spec_example_message() -> None:
    expected = (
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    assert cosignature_message(SPEC_BODY, 1679315147) == expected.encode()


def test_independent_key_id_vkey_and_signature() -> None:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    public = private.public_key().public_bytes_raw()
    kid = hashlib.sha256(NAME.encode() + b"\n\x04" + public).digest()[:4]
    assert COSIGNATURE_TYPE == 4
    assert WKEY.verifier.key_id == kid
    key_b64 = base64.b64encode(bytes([4]) + public).decode()
    vkey = f"{NAME}+{kid.hex()}+{key_b64}"
    assert WKEY.vkey() == vkey
    assert WitnessVerifier.parse(vkey) == WKEY.verifier

    line = WKEY.cosign(SPEC_NOTE, 1679315147)
    message = b"cosignature/v1\ntime 1679315147\n" + SPEC_BODY.encode()
    blob = kid + struct.pack(">Q", 1679315147) + private.sign(message)  # Ed25519 is deterministic
    assert line == f"— {NAME} {base64.b64encode(blob).decode()}\n"
    assert verify_cosignature(SPEC_NOTE, line, vkey) == 1679315147
    # a client may concatenate the answer to the note and pass the whole cosigned note
    assert verify_cosignature(SPEC_NOTE + line, line, WKEY.verifier) == 1679315147


def test_the_cosignature_leaves_the_log_signature_valid() -> None:
    checkpoint = note(tree(5))
    cosigned = checkpoint + WKEY.cosign(checkpoint, 1)
    assert Checkpoint.parse(cosigned, ORIGIN, LOG.public_key).size == 5


@settings(max_examples=examples(50))
@given(st.integers(0, (1 << 63) - 1), st.data())
def test_tamper_any_byte(timestamp: int, data: st.DataObject) -> None:
    line = WKEY.cosign(SPEC_NOTE, timestamp)
    assert verify_cosignature(SPEC_NOTE, line, WKEY.verifier) == timestamp
    # another body, another time, another byte of the signature: refused
    body_at = data.draw(st.integers(0, len(SPEC_BODY) - 2))
    changed = SPEC_BODY[:body_at] + ("x" if SPEC_BODY[body_at] != "x" else "y")
    changed += SPEC_BODY[body_at + 1 :]
    with pytest.raises(InvalidSignature):
        verify_cosignature(SPEC_NOTE.replace(SPEC_BODY, changed), line, WKEY.verifier)
    cosig = Cosignature.parse(line)
    other_time = Cosignature(cosig.name, cosig.key_id, timestamp ^ 1, cosig.signature)
    with pytest.raises(InvalidSignature):
        verify_cosignature(SPEC_NOTE, other_time.line(), WKEY.verifier)
    at = data.draw(st.integers(0, 63))
    flipped = bytearray(cosig.signature)
    flipped[at] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(InvalidSignature):
        verify_cosignature(
            SPEC_NOTE, Cosignature(cosig.name, cosig.key_id, timestamp, bytes(flipped)).line(),
            WKEY.verifier,
        )  # fmt: skip


def test_another_witness_is_refused() -> None:
    line = WKEY.cosign(SPEC_NOTE, 5)
    other = WitnessKey(NAME, SigningKey(bytes(32)))
    with pytest.raises(InvalidSignature):
        verify_cosignature(SPEC_NOTE, line, other.verifier)
    renamed = WitnessKey("witness.example/w2", SigningKey(SEED))
    with pytest.raises(InvalidSignature):
        verify_cosignature(SPEC_NOTE, line, renamed.verifier)


@pytest.mark.parametrize(
    "line",
    [
        "witness.example/w1 AAAA",
        "— witness.example/w1",
        "— witness.example/w1 " + base64.b64encode(bytes(75)).decode(),
        "— witness.example/w1 " + base64.b64encode(bytes(77)).decode(),
        "— witness.example/w1 " + base64.b64encode(b"\x80" + bytes(75)).decode()[:-2],
        "— witness.example/w1 " + base64.b64encode(bytes(4) + b"\x80" + bytes(71)).decode(),
    ],
)
def test_malformed_lines(line: str) -> None:
    with pytest.raises(EncodingError):
        Cosignature.parse(line)


def test_timestamps_and_bodies_are_checked() -> None:
    with pytest.raises(EncodingError):
        WKEY.cosign(SPEC_NOTE, 1 << 63)
    with pytest.raises(EncodingError):
        WKEY.cosign(SPEC_NOTE, -1)
    with pytest.raises(EncodingError):
        WKEY.cosign(SPEC_BODY, 1)  # a body without signatures is not a note


@settings(max_examples=examples(20))
@given(st.binary(min_size=32, max_size=32))
def test_key_files_round_trip(seed: bytes) -> None:
    key = WitnessKey(NAME, SigningKey(seed))  # base64 with "+" and "/" in it, sometimes
    assert WitnessKey.from_private_text(key.private_text()) == key
    assert WitnessVerifier.parse(key.vkey()) == key.verifier


def test_vkeys_and_key_files() -> None:
    assert WitnessKey.from_private_text(WKEY.private_text()) == WKEY
    assert WKEY.private_text().startswith(f"PRIVATE+KEY+{NAME}+")
    vkey = WKEY.vkey()
    for bad in (
        vkey.replace("+", "-", 1),
        vkey[:-4] + "AAA=",  # the key ID no longer matches
        vkey.replace(vkey.split("+")[2], base64.b64encode(b"\x01" + bytes(32)).decode()),
        vkey.replace("+", " +", 1),
    ):
        with pytest.raises(EncodingError):
            WitnessVerifier.parse(bad)
    with pytest.raises(EncodingError):
        WitnessKey.from_private_text(vkey)
    with pytest.raises(EncodingError):
        WitnessKey.from_private_text(WKEY.private_text().replace(NAME, "witness.example/w2"))
    with pytest.raises(EncodingError):
        WitnessKey("a name", SigningKey(SEED))


def test_log_keys_are_named_after_their_origin() -> None:
    from anonballot.hazmat.note import verifier_key

    assert log_key(ORIGIN, verifier_key(ORIGIN, LOG.public_key)) == LOG.public_key
    with pytest.raises(EncodingError):
        log_key(ORIGIN, verifier_key("other.example", LOG.public_key))


# -- add-checkpoint -------------------------------------------------------------------------


def witness() -> Witness:
    return Witness(WKEY, {ORIGIN: LOG.public_key}, MemoryWitnessStore())


def test_add_checkpoint_grows_and_cosigns() -> None:
    w, t = witness(), tree(20)
    previous = 0
    for size in (0, 1, 2, 7, 7, 8, 20):
        checkpoint = note(t, size)
        proof = t.consistency_proof(previous, size) if 0 < previous < size else []
        line = w.add_checkpoint(request(previous, proof, checkpoint), 1000 + size)
        assert verify_cosignature(checkpoint, line, WKEY.vkey()) == 1000 + size
        assert w.store.latest(ORIGIN) == checkpoint
        previous = size


def test_split_view_same_size_is_refused() -> None:
    w = witness()
    first, other = tree(5), tree(5, b"other")
    w.add_checkpoint(request(0, [], note(first)), 1)
    with pytest.raises(SizeConflict) as refused:
        w.add_checkpoint(request(5, [], note(other)), 2)
    assert refused.value.size == 5
    with pytest.raises(SizeConflict) as refused:  # a client that pretends to be new
        w.add_checkpoint(request(0, [], note(other)), 2)
    assert refused.value.size == 5
    assert w.store.latest(ORIGIN) == note(first)


def test_split_view_larger_conflicting_tree_is_refused() -> None:
    w = witness()
    first, other = tree(5), tree(9, b"other")
    w.add_checkpoint(request(0, [], note(first)), 1)
    # the other tree's proof from its own size-5 prefix does not start at the witness's root
    with pytest.raises(InvalidProof):
        w.add_checkpoint(request(5, other.consistency_proof(5, 9), note(other)), 2)
    assert w.store.latest(ORIGIN) == note(first)
    grown = tree(9)
    w.add_checkpoint(request(5, grown.consistency_proof(5, 9), note(grown)), 3)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", InputError),
        (b"\xff\xfe", InputError),
        (b"old 0\n", InputError),
        (b"old 01\n\n", InputError),
        (b"old -1\n\n", InputError),
        (b"old  0\n\n", InputError),
        (b"old 0\nnot base64\n\n", InputError),
        (b"old 0\n" + b"AAAA\n" + b"\n", InputError),
        (b"old 0\n\nnot a checkpoint\n", NotFound),
        (f"old 0\n\n{Checkpoint(ORIGIN, 1, bytes(32)).text()}\n".encode(), InputError),
        (f"old 99999999999999999999999\n\n{note(tree(3))}".encode(), InputError),
        (f"old 4\n\n{note(tree(3))}".encode(), InputError),  # old size above the new one
    ],
)
def test_bad_requests(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        witness().add_checkpoint(body, 1)


def test_too_many_proof_lines() -> None:
    t = tree(3)
    with pytest.raises(InputError):
        witness().add_checkpoint(request(0, [bytes(32)] * 64, note(t)), 1)
    with pytest.raises(InvalidProof):  # 63 lines is allowed, and from 0 wrong
        witness().add_checkpoint(request(0, [bytes(32)] * 63, note(t)), 1)


def test_unknown_log_and_wrong_signature() -> None:
    w = witness()
    stranger = Checkpoint("other.example/log", 3, tree(3).root()).sign(LOG)
    with pytest.raises(NotFound):
        w.add_checkpoint(request(0, [], stranger), 1)
    with pytest.raises(InvalidSignature):
        w.add_checkpoint(request(0, [], note(tree(3), key=SigningKey(bytes(32)))), 1)
    assert w.store.latest(ORIGIN) is None


def test_a_lost_race_is_a_conflict() -> None:
    store = MemoryWitnessStore()
    store.replace(ORIGIN, None, 3, note(tree(3)))
    with pytest.raises(SizeConflict) as refused:
        store.replace(ORIGIN, None, 3, note(tree(3)))
    assert refused.value.size == 3


# -- the HTTP endpoint, in process (the live test runs the real process) --------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from anonballot.server.witness import SqliteWitnessStore, create_witness_app

    store = SqliteWitnessStore(tmp_path_factory.mktemp("witness"))
    app = create_witness_app(WKEY, {ORIGIN: LOG.public_key}, store)
    with TestClient(app) as http:  # raises any error of the app: a 500 fails the test
        assert (
            http.post("/add-checkpoint", content=request(0, [], note(tree(6)))).status_code == 200
        )
        yield http
    store.close()


GOOD = request(6, tree(9).consistency_proof(6, 9), note(tree(9)))


@settings(max_examples=examples(200))
@given(st.data())
def test_any_changed_body_is_a_4xx_never_a_500(client: TestClient, data: st.DataObject) -> None:
    changed = bytearray(GOOD)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(changed) - 1))
        action = data.draw(st.sampled_from(["flip", "drop", "insert"]))
        if action == "flip":
            changed[at] ^= data.draw(st.integers(1, 255))
        elif action == "drop":
            del changed[at]
        else:
            changed.insert(at, data.draw(st.sampled_from(b"\n \x00=+/0A\xe2\x80\x94")))
    answer = client.post("/add-checkpoint", content=bytes(changed))
    assert 400 <= answer.status_code < 500 or bytes(changed) == GOOD, answer.text


@settings(max_examples=examples(50))
@given(st.binary(max_size=300))
def test_any_bytes_are_a_4xx(client: TestClient, raw: bytes) -> None:
    assert 400 <= client.post("/add-checkpoint", content=raw).status_code < 500


def test_oversized_and_other_methods(client: TestClient) -> None:
    assert client.post("/add-checkpoint", content=b"x" * (64 * 1024 + 1)).status_code == 413
    refused = client.put("/add-checkpoint", content=b"")
    assert (refused.status_code, refused.headers["allow"]) == (405, "POST")
    assert client.get("/").status_code == 404


def test_protocol_worked_example() -> None:
    """docs/protocol.md section 6.9: the cosignature of section 6.6's checkpoint."""
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text.split("### 6.9 ")[1].split("\n## ")[0]
    checkpoint = text.split("### 6.6 ")[1].split("```text\n")[1].split("```")[0]
    (line,) = [b.split("```")[0] for b in section.split("```text\n")[1:]]
    vkey = "witness.example/w1+20324abe+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X"
    assert vkey in section
    key = WitnessKey("witness.example/w1", SigningKey(bytes(range(32, 64))))
    assert key.vkey() == vkey
    assert key.cosign(checkpoint, 1794279600) == line
    assert verify_cosignature(checkpoint, line, vkey) == 1794279600


def test_bad_cosigners_names_a_forged_line_not_an_absent_one() -> None:
    """A line by a named witness (its name and key ID) that does not verify is a forgery;
    no line, or a line of another key, is not."""
    other = WitnessKey("witness.example/w2", SigningKey(bytes(range(50, 82))))
    policy = WitnessPolicy(
        (PolicyWitness(WKEY.verifier, "https://w1.example"),
         PolicyWitness(other.verifier, "https://w2.example")),
        2,
    )  # fmt: skip
    note = Checkpoint(ORIGIN, 1, leaf_hash(b"x")).sign(LOG)
    signed = note + WKEY.cosign(note, 1_700_000_000)
    assert policy.bad_cosigners(note) == ()
    assert policy.bad_cosigners(signed) == ()
    assert [w.name for w in policy.cosigners(signed)] == [NAME]
    forged = Cosignature(other.name, other.verifier.key_id, 1_700_000_000, bytes(64)).line()
    assert [w.name for w in policy.bad_cosigners(signed + forged)] == [other.name]
    stranger = WitnessKey(other.name, SigningKey(bytes(range(1, 33))))  # same name, other key
    assert policy.bad_cosigners(signed + stranger.cosign(note, 1)) == ()


def test_a_file_of_logs_is_read_again_when_it_changes(tmp_path: Path) -> None:
    """witness serve --logs FILE: a new round's line is followed without a restart; a file
    that stops reading keeps the logs it gave."""
    from anonballot.checkpoint import Checkpoint
    from anonballot.cli.witness import LogsFile
    from anonballot.hazmat.note import verifier_key
    from anonballot.signing import SigningKey
    from anonballot.witness import MemoryWitnessStore, Witness, WitnessKey

    log = SigningKey.generate()
    may, nov = "district.example/log/may", "district.example/log/nov"
    logs_file = tmp_path / "witness-logs.txt"
    logs_file.write_text(f"# the boards we follow\n{may}={verifier_key(may, log.public_key)}\n")
    logs = LogsFile({}, logs_file)
    witness = Witness(WitnessKey.generate("nhan-chung.w"), logs, MemoryWitnessStore())
    body = b"old 0\n\n" + Checkpoint(nov, 0, bytes(32)).sign(log).encode()
    with pytest.raises(NotFound):
        witness.add_checkpoint(body, 1)
    logs_file.write_text(logs_file.read_text() + f"\n{nov}={verifier_key(nov, log.public_key)}\n")
    assert witness.add_checkpoint(body, 1).startswith("\u2014 nhan-chung.w ")
    logs_file.write_text("not a line of logs\n")
    assert set(logs) == {may, nov}  # kept: the file no longer reads
