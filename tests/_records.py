"""Round records for the record, audit, tamper, CLI and end-to-end tests (a helper, not tests).

:func:`run_round` runs a small round on the engine, like :func:`anonballot.testing.simulate`,
but keeps every private key (organizer, log, trustees) so that tests can re-sign a file and
make exactly one check fail, and collects the checkpoints the engine signed on the way.
"""

from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from anonballot.audit import AuditReport, audit_record
from anonballot.codes import generate_code
from anonballot.encoding import jcs, parse_json
from anonballot.engine import Round
from anonballot.participant import Participant
from anonballot.record import write_record
from anonballot.signing import SigningKey, sign_object
from anonballot.storage import MemoryStore
from anonballot.testing import demo_config, random_answers
from anonballot.trustee import TrusteeKey
from anonballot.witness import WitnessKey, WitnessPolicy

TRUSTEE_IDS = ("tuyen-giao", "to-chuc", "kiem-tra")


@dataclass
class RoundRun:
    """A finished round, its record and the keys that made it."""

    path: Path
    engine: Round
    organizer: SigningKey
    log: SigningKey
    trustees: list[TrusteeKey]
    checkpoints: dict[int, str]
    """Checkpoint notes the engine returned while the round was open, by tree size."""
    participants: list[Participant]
    """In board order: participant i cast leaf i."""

    @property
    def mid(self) -> str:
        return self.engine.mid


def run_round(
    out: Path,
    *,
    wards: int = 2,
    voters: int = 3,
    seed: int = 0,
    releases: int = 2,
    key_bits: int = 2048,
    results_access: str = "restricted",
    witnesses: WitnessPolicy | None = None,
    cosigners: Sequence[WitnessKey] = (),
) -> RoundRun:
    """Every participant casts; the first ``releases`` of three trustees release. With
    ``witnesses`` the manifest names them, and ``cosigners`` cosign the final checkpoint."""
    rng = random.Random(seed)
    organizer, log = SigningKey.generate(), SigningKey.generate()
    trustees = [TrusteeKey.generate(t) for t in TRUSTEE_IDS]
    config, _ = demo_config(
        wards=wards, trustees=trustees, threshold=2, results_access=results_access
    )
    if witnesses is not None:
        config = replace(config, witnesses=witnesses)
    engine = Round.create(MemoryStore(), config, organizer=organizer, log=log, key_bits=key_bits)
    roster = [(generate_code(), w.id) for w in config.district.wards for _ in range(voters)]
    engine.add_invitations(roster)
    signed = engine.open()
    checkpoints = {0: engine.checkpoint()}
    participants = []
    for code, ward in roster:
        participant = Participant(signed, engine.ward_for_code(code))
        participant.finish_token(engine.issue(code, participant.request_token()))
        participant.make_leaf(random_answers(engine.manifest, ward, rng))
        assert participant.leaf is not None
        engine.cast(participant.leaf)
        participants.append(participant)
        note = engine.checkpoint()
        checkpoints[engine.board.size] = note
    engine.close()
    if cosigners:
        size = engine.board.size
        final = engine.checkpoint()
        engine.add_cosignatures(size, [k.cosign(final, 1794279600 + i) for i, k in
                                       enumerate(cosigners)])  # fmt: skip
    for key in trustees[:releases]:
        engine.add_release(key.release(engine.mid))
    engine.tally()
    write_record(out, config.round_id, engine.record_files(), engine.board_leaves())
    return RoundRun(out, engine, organizer, log, trustees, checkpoints, participants)


def copy_record(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


def audit(path: Path, workers: int = 1) -> AuditReport:
    return audit_record(path, workers=workers)


def board_lines(record: Path) -> list[bytes]:
    """The board's lines, each with its newline."""
    return (record / "board.jsonl").read_bytes().splitlines(keepends=True)


def write_board(record: Path, lines: Iterable[bytes]) -> None:
    (record / "board.jsonl").write_bytes(b"".join(lines))


def read_json(record: Path, name: str) -> Any:
    return parse_json((record / name).read_bytes())


def write_json(record: Path, name: str, value: Any) -> None:
    (record / name).write_bytes(jcs(value))


def resign(
    record: Path, name: str, kind: str, key: SigningKey, change: Callable[[Any], None]
) -> None:
    """Change the value of the signed object in ``name`` in place and sign it again."""
    value = read_json(record, name)[kind]
    change(value)
    write_json(record, name, sign_object(kind, value, key))


def failures(report: AuditReport, check: str) -> list[dict[str, Any]]:
    return list(report.checks[check].failures)


def pdf_text(path: Path) -> str:
    """A PDF's text on one line (white space collapsed), read back with Debian's ``pdftotext``
    (poppler-utils, which ``make test`` installs)."""
    text = subprocess.run(  # noqa: S603 (a fixed program on the test's own file)
        ["pdftotext", str(path), "-"],  # noqa: S607
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return re.sub(r"\s+", " ", text)


def patch_zip_member(path: Path, name: str, *, flag_bits: int = 0, method: int | None = None,
               file_size: int | None = None) -> None:  # fmt: skip
    """Rewrite ``name``'s local header and central directory entry in place: add
    ``flag_bits``, set the compression method or the declared (inflated) size."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    encoded = name.encode()
    local = info.header_offset
    entries = [(local, 6)]  # (offset of the header, offset of its flag bits)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == encoded:
            entries.append((at, 8))
        at = data.find(b"PK\x01\x02", at + 4)
    assert len(entries) == 2
    for offset, flags in entries:
        struct.pack_into("<H", data, offset + flags, info.flag_bits | flag_bits)
        if method is not None:
            struct.pack_into("<H", data, offset + flags + 2, method)
        if file_size is not None:
            struct.pack_into("<I", data, offset + flags + 16, file_size)
    path.write_bytes(bytes(data))
