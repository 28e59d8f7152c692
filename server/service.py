"""The district office's state on disk: district, roster, rounds, admin token, keys.

:class:`Service` is what the HTTP layer and the CLI's local commands call. It owns one
:class:`~server.store.Database` in the data directory and one
:class:`~anonballot.engine.Round` per round, each over its
:class:`~server.store.SqliteRoundStore`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from anonballot.codes import format_code, generate_code
from anonballot.district import District
from anonballot.encoding import b64u_decode, b64u_encode, jcs, parse_json
from anonballot.engine import Round
from anonballot.errors import (
    AnonBallotError,
    Conflict,
    InputError,
    ManifestError,
    NotFound,
    StateError,
)
from anonballot.manifest import RESTRICTED, PreviousRound, RoundConfig, Window
from anonballot.series import Series
from anonballot.signing import SigningKey
from anonballot.statements import Results

from .roster import RosterEntry
from .store import Database, SqlDatabase

__all__ = ["DB_NAME", "LEADER_KEY_BYTES", "MAX_SERIES", "Invitation", "Service", "utc_now"]

DB_NAME = "anonballot.db"
LEADER_KEY_BYTES = 16
MAX_SERIES = 12
"""Earlier rounds of a series that the server's reports look back on (six years)."""
"""The random key of a personal link: 128 bits, in the link's fragment (b64u)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_database(data_dir: Path, database: str | None) -> SqlDatabase:
    """The district's database: PostgreSQL at ``database`` (a ``postgresql://`` URL), or the
    SQLite file ``DB_NAME`` in ``data_dir``."""
    if not database:
        return Database(data_dir / DB_NAME)
    from .store_pg import PgDatabase, is_postgres_url

    if not is_postgres_url(database):
        raise InputError("--database: expected a postgresql:// URL", code="bad_database")
    return PgDatabase(database)


def is_initialized(data_dir: Path, database: str | None) -> bool:
    """Whether ``init`` already ran for this data directory or database."""
    if not database:
        return (data_dir / DB_NAME).exists()
    service = Service(data_dir, database=database)
    try:
        return service.db.get_meta("admin_token_sha256") is not None
    finally:
        service.close()


@dataclass(frozen=True)
class Invitation:
    """One printed slip: the code is shown once and stored only as a hash."""

    ward: str
    participant: str
    code: str

    @property
    def printed(self) -> str:
        return format_code(self.code)


class Service:
    """Everything a data directory holds, behind one lock per operation kind."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        key_bits: int = 3072,
        clock: Callable[[], datetime] = utc_now,
        database: str | None = None,
    ) -> None:
        """``clock`` is the time every round of this service sees (its issuance and voting
        windows, protocol sections 5.2 and 6.4) and the report pages print; tests move it.

        ``database``: a ``postgresql://`` URL, where several server instances share the
        district's state (:mod:`server.store_pg`); by default SQLite, ``DB_NAME`` in
        ``data_dir``. The data directory keeps the files the CLI writes either way."""
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.database = database
        self.db: SqlDatabase = open_database(self.data_dir, database)
        self.key_bits = key_bits
        self._rounds: dict[str, Round] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    @property
    def shared(self) -> bool:
        """Whether other server instances may write the same database (PostgreSQL)."""
        return self.database is not None

    # -- admin token and organizer key ---------------------------------------------------------

    def new_admin_token(self) -> str:
        """Make a fresh admin token, store only its hash, and return it (shown once)."""
        token = secrets.token_urlsafe(32)
        self.db.put_meta("admin_token_sha256", hashlib.sha256(token.encode()).digest())
        return token

    def check_admin(self, token: str | None) -> bool:
        stored = self.db.get_meta("admin_token_sha256")
        if stored is None or not token:
            return False
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), stored)

    # -- access tokens: the readers of restricted rounds (protocol section 4.2) -------------

    def grant_access(self, name: str) -> tuple[int, str]:
        """A new access token for ``name`` (the standing committee, the auditors): its id and
        the token, shown once; only its SHA-256 is stored."""
        name = unicodedata.normalize("NFC", name).strip()
        if not name or len(name) > 200 or any(unicodedata.category(c) == "Cc" for c in name):
            raise InputError("name: expected one line of text, 1 to 200 characters")
        token = secrets.token_urlsafe(32)
        token_id = self.db.add_access_token(name, hashlib.sha256(token.encode()).digest())
        return token_id, token

    def access_tokens(self) -> list[tuple[int, str]]:
        """Every access token's ``(id, name)``: never the token, which is not stored."""
        return [(token_id, name) for token_id, name, _ in self.db.access_tokens()]

    def revoke_access(self, token_id: int) -> None:
        if not self.db.delete_access_token(token_id):
            raise NotFound(f"there is no access token {token_id}", code="unknown_access_token")

    def check_reader(self, token: str | None) -> bool:
        """Whether ``token`` may read restricted rounds: the admin token or an access token.

        Every stored hash is compared (``hmac.compare_digest``), so the time taken does not
        tell how far a guess got."""
        if not token:
            return False
        if self.check_admin(token):
            return True
        digest = hashlib.sha256(token.encode()).digest()
        found = False
        for _, _, stored in self.db.access_tokens():
            found |= hmac.compare_digest(digest, stored)
        return found

    # -- personal links of the people rated ----------------------------------------------------

    def make_leader_keys(self, round_id: str) -> list[tuple[str, str]]:
        """A fresh random key for each person rated of a tallied round, ``(subject, key in
        b64u)``, shown once: only their SHA-256 is stored, and the keys made before stop
        working."""
        engine = self.round(round_id)
        if engine.state != "tallied":
            raise StateError(
                "personal links are made once the round is tallied", code="not_tallied"
            )
        keys = [(s.id, secrets.token_bytes(LEADER_KEY_BYTES)) for s in engine.manifest.subjects]
        self.db.set_leader_keys(round_id, [(sid, hashlib.sha256(k).digest()) for sid, k in keys])
        return [(sid, b64u_encode(k)) for sid, k in keys]

    def leader_subject(self, round_id: str, key: str | None) -> str | None:
        """The person rated whose personal link holds ``key``, or None."""
        try:
            raw = b64u_decode((key or "").strip(), length=LEADER_KEY_BYTES, what="key")
        except AnonBallotError:
            return None
        digest = hashlib.sha256(raw).digest()
        found = None
        for subject, stored in self.db.leader_keys(round_id):
            if hmac.compare_digest(digest, stored):
                found = subject
        return found

    def organizer_key(self) -> SigningKey:
        seed = self.db.get_meta("organizer_seed")
        if seed is None:
            key = SigningKey.generate()
            self.db.put_meta("organizer_seed", key.seed)
            return key
        return SigningKey(seed)

    # -- district and roster -------------------------------------------------------------------

    def set_district(self, district: District) -> None:
        self.db.put_meta("district", jcs(district.to_json()))

    def district(self) -> District:
        data = self.db.get_meta("district")
        if data is None:
            raise NotFound(
                "no district is set up yet (anonballot district set FILE)", code="no_district"
            )
        return District.from_json(parse_json(data))

    def import_roster(
        self, entries: Sequence[RosterEntry], *, replace: bool = False, append: bool = False
    ) -> int:
        """Add roster entries, all or nothing.

        ``replace``: the old roster goes first. ``append``: added to the wards' people already
        on the roster. Neither: refused (``roster_exists``) when a ward of ``entries`` already
        has people, which is what importing the same file twice looks like. A row that is
        already on the roster (same ward, name and position) is refused when appending, and
        the same row twice in ``entries`` always (``duplicate_rows``).
        """
        wards = {w.id for w in self.district().wards}
        unknown = sorted({e.ward for e in entries} - wards)
        if unknown:
            raise InputError(f"unknown ward(s): {', '.join(unknown)}", code="unknown_ward")
        if len(set(entries)) != len(entries):
            raise InputError(
                "the same person (ward, name and position) appears twice in the rows",
                code="bad_roster",
            )
        if not replace:
            present = self.roster()
            counts = {w: n for w, n in self.roster_counts().items() if n}
            busy = sorted({e.ward for e in entries} & set(counts))
            if busy and not append:
                listed = ", ".join(f"{w} ({counts[w]})" for w in busy)
                raise Conflict(
                    f"the roster already has people in {listed}: to add these to them, "
                    "import with append (--append); to replace the whole roster, with replace "
                    "(--replace)",
                    code="roster_exists",
                )
            again = set(entries) & set(present)
            if again:
                example = min(again, key=lambda e: (e.ward, e.name))
                raise Conflict(
                    f"{len(again)} row(s) are already on the roster (for example {example.name}, "
                    f"{example.ward}): the same file imported twice?",
                    code="duplicate_rows",
                )
        self.db.add_roster([(e.ward, e.name, e.position) for e in entries], replace=replace)
        return len(entries)

    def roster(self) -> list[RosterEntry]:
        return [RosterEntry(ward, name, position) for ward, name, position in self.db.roster()]

    def roster_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.roster():
            counts[entry.ward] = counts.get(entry.ward, 0) + 1
        return counts

    # -- rounds ----------------------------------------------------------------------------------

    def round_ids(self) -> list[tuple[str, str]]:
        return self.db.round_ids()

    def round(self, round_id: str) -> Round:
        with self._lock:
            return self._round_unlocked(round_id)

    def forget_issuance_answers(self) -> list[str]:
        """For every round whose issuance window has ended, delete what was kept only for
        retried token requests and the order of issuance at rest
        (:meth:`Round.forget_issuance_answers`); the server runs it every
        :data:`TEND_INTERVAL` seconds. The ids of the rounds where it is done."""
        done = []
        for round_id, state in self.round_ids():
            # an open round only: a closed one forgot them at its close (or in schema 3),
            # and loading every old round's board here would cost for nothing
            if state == "open" and self.round(round_id).forget_issuance_answers():
                done.append(round_id)
        return done

    def series(self, round_id: str) -> Series:
        """The tallied round and the earlier rounds of its series that this server tallied,
        oldest first (at most :data:`MAX_SERIES` before it): the series its reports compare.
        The chain stops at a predecessor this server does not hold, has not tallied, or
        holds under another ``mid`` than the manifest names (protocol section 4.2)."""

        def results(engine: Round) -> Results:
            data = engine.store.get_document("results")
            if data is None:  # a tallied round has its results: a damaged data directory
                raise NotFound("the round has no results", code="no_results")
            return Results.from_signed(parse_json(data), engine.manifest)

        engine = self.round(round_id)
        pairs = [(engine.manifest, results(engine))]
        previous = engine.manifest.previous
        while previous is not None and len(pairs) <= MAX_SERIES:
            try:
                earlier = self.round(previous.round_id)
            except NotFound:
                break
            if earlier.state != "tallied" or earlier.mid != previous.mid:
                break
            pairs.insert(0, (earlier.manifest, results(earlier)))
            previous = earlier.manifest.previous
        return Series(pairs)

    def create_round(self, config: RoundConfig) -> Round:
        with self._lock:
            self._check_previous(config.previous)
            store = self.db.add_round(config.round_id)
            engine = Round.create(
                store,
                config,
                organizer=self.organizer_key(),
                key_bits=self.key_bits,
                clock=self.clock,
            )
            self._rounds[config.round_id] = engine
            return engine

    def _check_previous(self, previous: PreviousRound | None) -> None:
        """A predecessor that is a round of this server must be named with its own mid.

        One from elsewhere (an older server, another district office) is taken as given:
        its record is what a reader checks it against (protocol section 4.2).
        """
        if previous is None:
            return
        states = dict(self.db.round_ids())
        if states.get(previous.round_id, "draft") == "draft":
            return
        mid = self._round_unlocked(previous.round_id).mid
        if mid != previous.mid:
            raise ManifestError(
                f"previous: round {previous.round_id} on this server has mid {mid}, "
                f"not {previous.mid}"
            )

    def _round_unlocked(self, round_id: str) -> Round:
        engine = self._rounds.get(round_id)
        if engine is None:
            engine = Round(self.db.round_store(round_id), clock=self.clock)
            self._rounds[round_id] = engine
        return engine

    def clone_round(
        self,
        previous: str,
        new_id: str,
        *,
        title: dict[str, str],
        issuance: Window,
        voting: Window,
    ) -> Round:
        """A new draft round like ``previous``, with a new title and windows.

        It rates the district as it is now (``district set``), not as it was in
        ``previous``: office holders change between rounds. A server without a district
        keeps the previous round's. When ``previous`` has closed (closed or tallied), the
        new round names it as its predecessor (``M.previous``, protocol section 4.2); a
        draft has no mid yet and an open round no final board, so they are copied only.
        """
        source = self.round(previous)
        old = source.config
        try:
            district = self.district()
        except NotFound:
            district = old.district
        predecessor = (
            PreviousRound(old.round_id, source.mid)
            if source.state in ("closed", "tallied")
            else None
        )
        config = RoundConfig(
            round_id=new_id,
            title=title,
            origin=old.origin.rsplit("/", 1)[0] + "/" + new_id if "/" in old.origin else new_id,
            issuance=issuance,
            voting=voting,
            questionnaire=old.questionnaire,
            district=district,
            trustees=old.trustees,
            threshold=old.threshold,
            min_group=old.min_group,
            results_access=old.results_access or RESTRICTED,
            previous=predecessor,
        )
        return self.create_round(config)

    def make_invitations(self, round_id: str) -> list[Invitation]:
        """One fresh code per roster entry of the round's wards; only in draft, only once."""
        engine = self.round(round_id)
        if engine.state != "draft":
            raise StateError("invitations are made while the round is a draft", code="wrong_state")
        if engine.store.invitation_counts():
            raise Conflict(
                "this round already has invitation codes; codes are shown only once",
                code="invitations_exist",
            )
        wards = {w.id for w in engine.config.district.wards}
        invitations = [
            Invitation(e.ward, e.name, generate_code()) for e in self.roster() if e.ward in wards
        ]
        if not invitations:
            raise StateError("the roster has nobody in this round's wards", code="empty_roster")
        engine.add_invitations([(i.code, i.ward) for i in invitations])
        return invitations
