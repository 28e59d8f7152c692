"""A round record whose manifest names witnesses, and its variants for check A13 (a helper
for tests/test_audit_witnesses.py and tests/test_independent.py, not tests).

The record's manifest names three witnesses with a quorum of two, and all three cosigned the
final checkpoint (``checkpoint.txt``). Each variant edits the cosignature lines of that file
only: the log's own signature line stays, so A1 to A12 still pass and A13 decides alone.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _records import RoundRun, run_round

from anonballot.witness import PolicyWitness, WitnessKey, WitnessPolicy

NAMES = ("witness.example/w1", "witness.example/w2", "witness.example/w3")
QUORUM = 2
EM_DASH = "\u2014"


@dataclass
class Witnessed:
    run: RoundRun
    keys: list[WitnessKey]

    @property
    def policy(self) -> WitnessPolicy:
        policy = self.run.engine.manifest.witnesses
        assert policy is not None
        return policy


def witnessed_round(out: Path) -> Witnessed:
    keys = [WitnessKey.generate(name) for name in NAMES]
    policy = WitnessPolicy(
        tuple(PolicyWitness(k.verifier, f"https://{k.name}") for k in keys), QUORUM
    )
    run = run_round(out, wards=2, voters=2, witnesses=policy, cosigners=keys)
    return Witnessed(run, keys)


def note_of(record: Path) -> str:
    return (record / "checkpoint.txt").read_text(encoding="utf-8")


def split_note(note: str) -> tuple[str, list[str]]:
    """The note's body with its blank line, and its signature lines (without newlines)."""
    split = note.index("\n\n") + 2
    return note[:split], note[split:-1].split("\n")


def line_of(note: str, name: str) -> str:
    (line,) = (s for s in split_note(note)[1] if s.startswith(f"{EM_DASH} {name} "))
    return line


def write_note(record: Path, body: str, lines: list[str]) -> None:
    (record / "checkpoint.txt").write_text(body + "".join(s + "\n" for s in lines), "utf-8")


def _drop(*names: str) -> Callable[[Path, Witnessed], None]:
    def change(record: Path, w: Witnessed) -> None:
        body, lines = split_note(note_of(record))
        write_note(record, body, [s for s in lines if s.split(" ")[1] not in names])

    return change


def _one_twice(record: Path, w: Witnessed) -> None:
    body, lines = split_note(note_of(record))
    kept = [s for s in lines if s.split(" ")[1] not in NAMES[1:]]
    write_note(record, body, [*kept, line_of(note_of(record), NAMES[0])])


def _flip_signature(record: Path, w: Witnessed) -> None:
    """w3's line keeps its name and key ID, one bit of its signature flipped."""
    body, lines = split_note(note_of(record))
    line = line_of(note_of(record), NAMES[2])
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[-1] ^= 1
    bad = f"{EM_DASH} {NAMES[2]} {base64.b64encode(bytes(blob)).decode()}"
    write_note(record, body, [bad if s == line else s for s in lines])


def _other_checkpoint(record: Path, w: Witnessed) -> None:
    """w3's line is a valid cosignature, but of an earlier checkpoint (size 1)."""
    body, lines = split_note(note_of(record))
    line = line_of(note_of(record), NAMES[2])
    other = w.keys[2].cosign(w.run.checkpoints[1], 1794279600).removesuffix("\n")
    write_note(record, body, [other if s == line else s for s in lines])


def _unknown_keys(record: Path, w: Witnessed) -> None:
    """w3's line replaced by a valid cosignature of a stranger and one by another key under
    w3's name (another key ID): both are ignored, and w1 and w2 make the quorum."""
    body, lines = split_note(note_of(record))
    note = note_of(record)
    stranger = WitnessKey.generate("witness.example/stranger").cosign(note, 1794279600)
    namesake = WitnessKey.generate(NAMES[2]).cosign(note, 1794279600)
    kept = [s for s in lines if s.split(" ")[1] != NAMES[2]]
    write_note(record, body, [*kept, stranger.rstrip("\n"), namesake.rstrip("\n")])


def _no_checkpoint(record: Path, w: Witnessed) -> None:
    (record / "checkpoint.txt").unlink()


@dataclass(frozen=True)
class Case:
    change: Callable[[Path, Witnessed], None] | None
    passes: bool
    cosigned: tuple[str, ...]
    failing: frozenset[str] = frozenset()
    """Checks that fail (A13 among them when it does not pass)."""


CASES: dict[str, Case] = {
    "three-cosign": Case(None, True, NAMES),
    "two-cosign": Case(_drop(NAMES[2]), True, NAMES[:2]),
    "one-cosigns": Case(_drop(*NAMES[1:]), False, NAMES[:1], frozenset({"A13"})),
    "one-cosigns-twice": Case(_one_twice, False, NAMES[:1], frozenset({"A13"})),
    "tampered-cosignature": Case(_flip_signature, False, NAMES[:2], frozenset({"A13"})),
    "cosignature-of-another-checkpoint": Case(
        _other_checkpoint, False, NAMES[:2], frozenset({"A13"})
    ),
    "unknown-keys-ignored": Case(_unknown_keys, True, NAMES[:2]),
    "no-checkpoint": Case(_no_checkpoint, False, (), frozenset({"A6", "A13"})),
}
