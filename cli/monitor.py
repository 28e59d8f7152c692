"""``anonballot monitor URL --state DIR``: an observer's check of a server, run from cron.

One run looks at every round of the server that is not a draft (or the ones ``--round``
names) and, for each:

1. fetches the signed manifest and verifies it; the first run keeps it in the state folder,
   a later run refuses a manifest with another mid (the round was swapped);
2. fetches the board's latest checkpoint (``/log/<round>/checkpoint``, c2sp.org/
   tlog-checkpoint) and verifies the log's signature; when the manifest names witnesses
   (``M.witnesses``) it counts the cosignatures that verify and refuses one that names a
   witness of the policy but does not verify;
3. checks the new checkpoint against the last one it adopted: the same size must have the
   same root, a smaller one is a rollback, a larger one must extend it. The state keeps
   the *frontier* of the last tree (RFC 9162's compact range: one hash per set bit of the
   size, :class:`~anonballot.hazmat.merkle.CompactRange`); the new leaves' hashes extend it
   and the root they give must be the new checkpoint's: that is the consistency check,
   made from the tiles alone, in O(log n) memory;
4. fetches the new leaves (tlog-tiles entry bundles and the level-0 hash tiles beside them),
   checks that each hashes to its level-0 hash, and makes on each the audit's single-leaf
   checks (:class:`~anonballot.audit.LeafChecker`: A2 shape, A3 token, A4 voter signature)
   and A5 (no voter key twice: the keys seen are kept in the state's SQLite file);
5. when the manifest pins the booth's files (``M.booth``), fetches each (``Accept-Encoding:
   identity``) and compares its SHA-256 with the pin.

The state is the SQLite file ``monitor.sqlite`` in the folder (mode 700, the file 600): a
round's state changes in one transaction, and only when every check of that round passed,
so a crash or a failed check leaves the previous state as it was. ``history.jsonl`` gets one
line per run and round (time, size, root, cosigners, result): nothing personal.

Exit status: 0 when every check passed; 1 when something is wrong (one line per problem on
stderr, the most important first); 2 on bad input (an unreachable server, an unusable state
folder, a round list that is not one).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from anonballot.checkpoint import Checkpoint
from anonballot.encoding import b64u_encode, jcs, parse_json
from anonballot.errors import AnonBallotError, InputError
from anonballot.manifest import Manifest

from .common import ApiClient, ApiError, clean_errors, problem_line, say, t
from .participant import LANG_OPTION
from .transfer import TransferError

__all__ = ["monitor"]

STATE_FILE = "monitor.sqlite"
HISTORY_FILE = "history.jsonl"
MAX_CHECKPOINT = 64 * 1024
"""A checkpoint note with its signatures (at most 32 witnesses': some KiB)."""
MAX_HASH_TILE = 256 * 32
MAX_ENTRY_BUNDLE = 256 * (2 + 0xFFFF)
"""An entry bundle of 256 entries of at most 65,535 bytes each (tlog-tiles)."""
MAX_BOOTH_FILE = 8 * 1024 * 1024
MAX_MANIFEST = 16 * 1024 * 1024
MAX_LISTED = 5
"""Leaves named per check and round; the rest are counted on one line."""
ROUND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
CLOSED_STATES = ("closed", "tallied")

# How important a problem is: the lowest is printed first.
MANIFEST, LOG, LEAVES, BOOTH, WITNESSES, SERVER = range(6)


class StateDirError(InputError):
    """The state folder cannot be used (exit 2)."""

    code = "bad_state"


@dataclass
class Outcome:
    """What the run found: the problems (importance, line) and the warnings."""

    problems: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, rank: int, key: str, **fields: object) -> None:
        self.problems.append((rank, t(key, **fields)))


# -- the state -----------------------------------------------------------------------------------


SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    round_id TEXT PRIMARY KEY,
    mid TEXT NOT NULL,
    manifest BLOB NOT NULL,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    frontier BLOB NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS voter_keys (
    round_id TEXT NOT NULL,
    key BLOB NOT NULL,
    PRIMARY KEY (round_id, key)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Seen:
    """A round as the last successful run left it."""

    mid: str
    manifest: bytes
    size: int
    root: bytes
    frontier: tuple[bytes, ...]


class State:
    """The state folder: ``monitor.sqlite`` and ``history.jsonl``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
                raise StateDirError(t("monitor_state_unusable", path=folder, detail="not writable"))
            path = folder / STATE_FILE
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateDirError(t("monitor_state_unusable", path=folder, detail=exc)) from exc

    def close(self) -> None:
        self.db.close()

    def seen(self, round_id: str) -> Seen | None:
        row = self.db.execute(
            "SELECT mid, manifest, size, root, frontier FROM rounds WHERE round_id = ?",
            (round_id,),
        ).fetchone()
        if row is None:
            return None
        mid, manifest, size, root, frontier = row
        hashes = tuple(frontier[i : i + 32] for i in range(0, len(frontier), 32))
        return Seen(mid, manifest, size, root, hashes)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One round's changes: committed when the block ends, rolled back on an error."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateDirError(t("monitor_state_unusable", path=self.folder, detail=exc)) from exc
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateDirError(t("monitor_state_unusable", path=self.folder, detail=exc)) from exc

    def add_voter_key(self, round_id: str, key: bytes) -> bool:
        """Keep ``key``; False when it was already there (A5)."""
        try:
            self.db.execute("INSERT INTO voter_keys VALUES (?, ?)", (round_id, key))
        except sqlite3.IntegrityError:
            return False
        return True

    def adopt(self, round_id: str, seen: Seen, note: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?)",
            (round_id, seen.mid, seen.manifest, seen.size, seen.root, b"".join(seen.frontier),
             note),
        )  # fmt: skip

    def history(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        try:
            fd = os.open(self.folder / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(line)
        except OSError as exc:
            raise StateDirError(t("monitor_state_unusable", path=self.folder, detail=exc)) from exc


class Rollback(Exception):
    """Undo a round's changes to the state: a check failed."""


# -- one round -----------------------------------------------------------------------------------


class RoundMonitor:
    def __init__(
        self, api: ApiClient, state: State, out: Outcome, round_id: str, require_quorum: bool
    ) -> None:
        self.api = api
        self.state = state
        self.out = out
        self.round_id = round_id
        self.require_quorum = require_quorum
        self.failed = False
        self.log = f"/log/{round_id}"

    def problem(self, rank: int, key: str, **fields: object) -> None:
        self.failed = True
        self.out.problem(rank, key, round=self.round_id, **fields)

    def get(self, path: str, limit: int, **kwargs: Any) -> bytes:
        _, body = self.api.fetch("GET", path, limit=limit, **kwargs)
        return body

    def run(self, listed_mid: str | None) -> dict[str, Any]:
        """Check the round; returns its history line."""
        entry: dict[str, Any] = {"round": self.round_id}
        try:
            with self.state.transaction():
                self._run(listed_mid, entry)
                if self.failed:
                    raise Rollback
        except Rollback:
            pass
        except (ApiError, TransferError) as exc:
            # a refusal or an answer beyond its bounds where the protocol says what to serve
            self.problem(SERVER, "monitor_server_refused", detail=exc.detail)
        entry["result"] = "problem" if self.failed else "ok"
        return entry

    def _run(self, listed_mid: str | None, entry: dict[str, Any]) -> None:
        seen = self.state.seen(self.round_id)
        manifest, signed = self._manifest(seen, listed_mid)
        if manifest is None:
            return
        status = self.api.get(f"/api/rounds/{self.round_id}/status")
        round_state = status.get("state") if isinstance(status, dict) else None
        entry["state"] = round_state
        try:
            raw = self.get(f"{self.log}/checkpoint", MAX_CHECKPOINT)
            note = raw.decode("utf-8")
            cp = Checkpoint.parse(note, manifest.origin, manifest.log_key)
        except ApiError:
            raise
        except (AnonBallotError, UnicodeDecodeError) as exc:
            detail = exc.detail if isinstance(exc, AnonBallotError) else str(exc)
            self.problem(LOG, "monitor_bad_checkpoint", detail=detail)
            return
        entry["size"] = cp.size
        entry["root"] = b64u_encode(cp.root)
        self._witnesses(manifest, note, round_state in CLOSED_STATES, entry)
        frontier = self._board(manifest, signed, seen, cp)
        self._booth(manifest)
        if frontier is not None and not self.failed:
            self.state.adopt(
                self.round_id, Seen(manifest.mid, signed, cp.size, cp.root, frontier), note
            )
            say("monitor_round_ok", round=self.round_id, size=cp.size,
                new=cp.size - (seen.size if seen else 0))  # fmt: skip

    def _manifest(self, seen: Seen | None, listed_mid: str | None) -> tuple[Manifest | None, bytes]:
        try:
            value = parse_json(self.get(f"/api/rounds/{self.round_id}/manifest", MAX_MANIFEST))
            manifest = Manifest.from_signed(value)
        except ApiError:
            raise  # the server refused: said as such (run)
        except AnonBallotError as exc:
            self.problem(MANIFEST, "monitor_bad_manifest", detail=exc.detail)
            return None, b""
        signed = jcs(value)
        if seen is not None and seen.mid != manifest.mid:
            self.problem(MANIFEST, "monitor_manifest_changed", old=seen.mid, new=manifest.mid)
            return None, b""
        if manifest.round_id != self.round_id or listed_mid not in (None, manifest.mid):
            self.problem(MANIFEST, "monitor_manifest_other", mid=manifest.mid)
            return None, b""
        return manifest, seen.manifest if seen is not None else signed

    def _witnesses(
        self, manifest: Manifest, note: str, closed: bool, entry: dict[str, Any]
    ) -> None:
        policy = manifest.witnesses
        if policy is None:
            return
        for witness in policy.bad_cosigners(note):
            self.problem(WITNESSES, "monitor_bad_cosignature", name=witness.name)
        names = [w.name for w in policy.cosigners(note)]
        entry["cosigners"] = names
        entry["quorum"] = policy.quorum
        say("monitor_witnesses", round=self.round_id, count=len(names), quorum=policy.quorum)
        if len(names) >= policy.quorum or not closed:
            return  # an open round's newest checkpoint gets its cosignatures seconds later
        if self.require_quorum:
            self.problem(WITNESSES, "monitor_no_quorum", count=len(names), quorum=policy.quorum)
        else:
            line = t("monitor_no_quorum", round=self.round_id, count=len(names),
                     quorum=policy.quorum)  # fmt: skip
            self.out.warnings.append(line)
            entry["warning"] = "no_quorum"

    def _board(
        self, manifest: Manifest, signed: bytes, seen: Seen | None, cp: Checkpoint
    ) -> tuple[bytes, ...] | None:
        """The new tree's frontier when the new checkpoint extends the one seen (and every
        new leaf passes its checks), else None (each problem said)."""
        from anonballot.audit import LeafChecker
        from anonballot.board import TILE_WIDTH, TilePath
        from anonballot.hazmat.merkle import CompactRange, leaf_hash
        from anonballot.hazmat.tiles import decode_entry_bundle

        old = seen.size if seen is not None else 0
        if cp.size < old:
            self.problem(LOG, "monitor_rollback", old=old, new=cp.size)
            return None
        # A board holds at most one ballot per eligible participant (A9): a checkpoint
        # claiming more is wrong, and it bounds the work a hostile server can ask of a run.
        eligible = sum(w.eligible for w in manifest.wards)
        if cp.size > eligible:
            self.problem(LOG, "monitor_too_many", size=cp.size, eligible=eligible)
            return None
        if seen is not None and cp.size == old:
            if cp.root != seen.root:
                self.problem(LOG, "monitor_fork", size=cp.size)
                return None
            return seen.frontier
        try:
            tree = CompactRange.resume(old, seen.frontier if seen is not None else ())
        except InputError as exc:
            raise StateDirError(t("monitor_state_unusable", path=self.state.folder,
                                  detail=exc.detail)) from exc  # fmt: skip
        checker = LeafChecker(signed, None)
        listed: dict[str, int] = {}
        more: dict[str, int] = {}

        def bad_leaf(check: str, index: int, detail: str) -> None:
            if listed.get(check, 0) < MAX_LISTED:
                listed[check] = listed.get(check, 0) + 1
                self.problem(LEAVES, "monitor_bad_leaf", n=index + 1, check=check, detail=detail)
            else:
                more[check] = more.get(check, 0) + 1
                self.failed = True

        for index in range(old // TILE_WIDTH, -(-cp.size // TILE_WIDTH)):
            width = min(TILE_WIDTH, cp.size - index * TILE_WIDTH)
            partial = None if width == TILE_WIDTH else width
            hashes_tile = TilePath(0, index, partial)
            bundle_tile = TilePath(None, index, partial)
            hashes = self.get(f"{self.log}/{hashes_tile.path()}", MAX_HASH_TILE)
            bundle = self.get(f"{self.log}/{bundle_tile.path()}", MAX_ENTRY_BUNDLE)
            if len(hashes) != 32 * width:
                self.problem(LOG, "monitor_bad_tile", path=hashes_tile.path(),
                             detail=f"{len(hashes)} bytes, not {32 * width}")  # fmt: skip
                return None
            try:
                entries = decode_entry_bundle(bundle)
            except AnonBallotError as exc:
                self.problem(LOG, "monitor_bad_tile", path=bundle_tile.path(), detail=exc.detail)
                return None
            if len(entries) != width:
                self.problem(LOG, "monitor_bad_tile", path=bundle_tile.path(),
                             detail=f"{len(entries)} entries, not {width}")  # fmt: skip
                return None
            start = index * TILE_WIDTH
            lines: list[bytes] = []
            for offset, entry in enumerate(entries):
                digest = leaf_hash(entry)
                if digest != hashes[32 * offset : 32 * offset + 32]:
                    self.problem(LOG, "monitor_entry_hash", n=start + offset + 1,
                                 path=bundle_tile.path())  # fmt: skip
                    return None
                if start + offset >= old:
                    tree.append(digest)
                    lines.append(entry + b"\n")
            first = max(start, old)
            result = checker.check(first, lines)
            for check, failures in result.failures.items():
                for leaf_index, detail in failures:
                    bad_leaf(check, leaf_index, detail)
                unlisted = result.failure_counts[check] - len(failures)  # beyond the audit's list
                more[check] = more.get(check, 0) + unlisted
            for offset, key in enumerate(result.voter_keys):
                if key is not None and not self.state.add_voter_key(self.round_id, key):
                    bad_leaf("A5", first + offset, t("monitor_key_twice"))
        for check, count in sorted(more.items()):
            self.out.problem(LEAVES, "monitor_more_bad_leaves", round=self.round_id,
                             count=count, check=check)  # fmt: skip
        if tree.root() != cp.root:
            if seen is None:
                self.problem(LOG, "monitor_wrong_root", size=cp.size)
            else:
                self.problem(LOG, "monitor_inconsistent", old=old, new=cp.size)
            return None
        return tree.frontier

    def _booth(self, manifest: Manifest) -> None:
        import hashlib

        pins = manifest.booth
        if not pins:
            return
        matched = 0
        for path, pinned in sorted(pins.items()):
            if not path.startswith("/") or path.startswith("//"):
                self.problem(BOOTH, "monitor_booth_missing", path=path, detail="not a path")
                continue
            try:
                body = self.get(path, MAX_BOOTH_FILE, headers={"accept-encoding": "identity"})
            except (ApiError, TransferError) as exc:
                self.problem(BOOTH, "monitor_booth_missing", path=path, detail=exc.detail)
                continue
            if b64u_encode(hashlib.sha256(body).digest()) != pinned:
                self.problem(BOOTH, "monitor_booth_changed", path=path)
                continue
            matched += 1
        if matched == len(pins):
            say("monitor_booth_ok", round=self.round_id, n=matched)


# -- the command ---------------------------------------------------------------------------------


def _rounds(api: ApiClient, wanted: tuple[str, ...]) -> list[tuple[str, str | None, str]]:
    """``(round_id, mid, state)`` of the server's rounds (those ``wanted`` names, by round id
    or mid, when given)."""
    listed = api.get("/api/rounds")
    rounds = []
    if not isinstance(listed, list):
        raise InputError(t("monitor_bad_rounds"))
    for entry in listed:
        if not isinstance(entry, dict):
            raise InputError(t("monitor_bad_rounds"))
        round_id, mid, state = entry.get("round_id"), entry.get("mid"), entry.get("state")
        if (
            not isinstance(round_id, str)
            or not ROUND_ID.fullmatch(round_id)
            or not isinstance(state, str)
            or not (mid is None or isinstance(mid, str))
        ):
            raise InputError(t("monitor_bad_rounds"))
        rounds.append((round_id, mid, state))
    if not wanted:
        return rounds
    chosen = []
    for name in wanted:
        found = [r for r in rounds if name in (r[0], r[1])]
        if not found:
            raise InputError(t("monitor_unknown_round", round=name), code="unknown_round")
        chosen += [r for r in found if r not in chosen]
    return chosen


@click.command()
@click.argument("url")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The monitor's own folder (made with mode 700): what the last runs saw.",
)
@click.option(
    "--round",
    "rounds",
    multiple=True,
    help="Only this round (its round id or mid); repeat for more. Default: every round.",
)
@click.option(
    "--require-quorum",
    is_flag=True,
    help="A closed round's final checkpoint without its witnesses' quorum is a problem "
    "(exit 1), not a warning.",
)
@LANG_OPTION
@clean_errors
def monitor(url: str, state_dir: Path, rounds: tuple[str, ...], require_quorum: bool,
            lang: str) -> None:  # fmt: skip
    """Watch a server's public boards: signatures, consistency, new ballots, booth files.

    URL is the server's address. Run it from cron: each run checks what is new since the
    last one, kept in the --state folder. Exit 0 when every check passes, 1 when something
    is wrong (one line per problem, the most important first), 2 on bad input.
    """
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise InputError(t("monitor_bad_url", url=url))
    state = State(state_dir)
    out = Outcome()
    try:
        with ApiClient(url) as api:
            for round_id, mid, round_state in _rounds(api, rounds):
                if round_state == "draft" or mid is None:
                    say("monitor_draft", round=round_id)
                    continue
                checker = RoundMonitor(api, state, out, round_id, require_quorum)
                entry = checker.run(mid)
                now = dt.datetime.now(dt.UTC).replace(microsecond=0)
                entry["time"] = now.isoformat().replace("+00:00", "Z")
                state.history(entry)
    finally:
        state.close()
    for line in out.warnings:
        click.echo(f"{t('warning_prefix')}: {line}", err=True)
    if out.problems:
        for _, line in sorted(out.problems, key=lambda p: p[0]):
            click.echo(problem_line(line), err=True)
        raise SystemExit(1)
    say("monitor_all_good")


COMMANDS: tuple[click.Command, ...] = (monitor,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
