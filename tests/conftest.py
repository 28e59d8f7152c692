"""Shared fixtures: keys made once per session and a factory of small demo rounds.

RSA key generation is the slow part of a round, so every round a test builds reuses the
session's 2048-bit issuer keys (``issuer_keys=``). Rounds built with the same config, keys
and roster counts have the same manifest and therefore the same ``mid``, which the
anonymity tests use to cast the same leaves into two engines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import _hypothesis  # noqa: F401  (registers and loads the Hypothesis profiles)
import pytest

from anonballot.codes import generate_code
from anonballot.engine import Round
from anonballot.manifest import Manifest, RoundConfig, Window
from anonballot.participant import Participant
from anonballot.receipt import Receipt
from anonballot.signing import SigningKey
from anonballot.storage import MemoryStore
from anonballot.testing import DEMO_TRUSTEES, demo_config, random_answers
from anonballot.testing.postgres import NoPostgres, PgCluster
from anonballot.tokens import IssuerKey
from anonballot.trustee import TrusteeKey
from anonballot.witness import WitnessPolicy

# The commands speak Vietnamese unless told otherwise; most tests read their English (the
# tests of the Vietnamese default clear ANONBALLOT_LANG, and docs/ runs as a reader would).
os.environ.setdefault("ANONBALLOT_LANG", "en")

NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
"""The time every demo round is built around: both windows run from NOW - 5 min for 7 days."""

ISSUER_KEY_COUNT = 4
"""Enough for the largest demo round the tests build (3 wards) plus one foreign key."""


class Clock:
    """A settable clock for the engine's windows."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def seeded_codes(count: int, seed: int) -> list[str]:
    """``count`` distinct invitation codes, reproducible from ``seed``."""
    rng = random.Random(seed)
    codes: list[str] = []
    while len(codes) < count:
        code = generate_code(rng.getrandbits)
        if code not in codes:
            codes.append(code)
    return codes


@dataclass
class DemoRound:
    """A round of the first few demo wards with a small roster, and helpers to vote."""

    engine: Round
    store: MemoryStore
    config: RoundConfig
    trustees: list[TrusteeKey]
    roster: list[tuple[str, str]]
    """(invitation code, ward), in roster order."""
    clock: Clock
    issuer_keys: dict[str, IssuerKey]
    signed: dict[str, Any] = field(default_factory=dict)
    """The signed manifest once the round is open."""

    @property
    def manifest(self) -> Manifest:
        return self.engine.manifest

    def open(self) -> dict[str, Any]:
        self.signed = self.engine.open()
        return self.signed

    def participant(self, i: int) -> Participant:
        """Roster entry ``i`` with a token issued by the engine."""
        code, ward = self.roster[i]
        p = Participant(self.signed, self.engine.ward_for_code(code))
        p.finish_token(self.engine.issue(code, p.request_token()))
        assert p.ward == ward
        return p

    def answers(self, ward: str, seed: int = 0) -> dict[str, Any]:
        return random_answers(self.manifest, ward, random.Random(seed))

    def voter(self, i: int, seed: int | None = None) -> tuple[Participant, bytes]:
        """Roster entry ``i`` with a token and a leaf of random honest answers."""
        p = self.participant(i)
        leaf = p.make_leaf(self.answers(p.ward, i if seed is None else seed))
        return p, leaf

    def cast(self, i: int) -> tuple[Participant, Receipt]:
        """Roster entry ``i`` takes part: token, leaf, cast, receipt checked."""
        p, leaf = self.voter(i)
        receipt = self.engine.cast(leaf)
        p.check_receipt(receipt.to_json())
        return p, receipt

    def release(self, count: int | None = None) -> None:
        """The first ``count`` trustees (default: the threshold) release their keys."""
        n = self.config.threshold if count is None else count
        for key in self.trustees[:n]:
            self.engine.add_release(key.release(self.engine.mid))

    def finish(self, releases: int | None = None) -> dict[str, Any]:
        """Close, release and tally; return the results value."""
        self.engine.close()
        self.release(releases)
        results: dict[str, Any] = self.engine.tally().to_json()
        return results


class RoundFactory(Protocol):
    def __call__(
        self,
        *,
        wards: int = 2,
        voters: int = 3,
        threshold: int = 2,
        store: MemoryStore | None = None,
        clock: Clock | None = None,
        codes: Sequence[str] | None = None,
        seed: int = 0,
        open_round: bool = True,
        windows: tuple[Window, Window] | None = None,
    ) -> DemoRound: ...


@pytest.fixture(scope="session")
def issuer_pool() -> tuple[IssuerKey, ...]:
    """2048-bit issuer keys, made once per session (per xdist worker)."""
    return tuple(IssuerKey.generate(2048) for _ in range(ISSUER_KEY_COUNT))


@pytest.fixture(scope="session")
def trustee_keys() -> list[TrusteeKey]:
    return [TrusteeKey.generate(tid) for tid, _ in DEMO_TRUSTEES]


@pytest.fixture(scope="session")
def organizer() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def make_round(
    issuer_pool: tuple[IssuerKey, ...], trustee_keys: list[TrusteeKey], organizer: SigningKey
) -> RoundFactory:
    """Build a demo round: ``voters`` roster entries per ward, opened unless told not to.

    ``windows`` replaces the (issuance, voting) windows, which otherwise both run from
    NOW - 5 minutes for 7 days.

    Rounds built with the same arguments (and ``codes``) have the same manifest and ``mid``.
    """

    def make(
        *,
        wards: int = 2,
        voters: int = 3,
        threshold: int = 2,
        store: MemoryStore | None = None,
        clock: Clock | None = None,
        codes: Sequence[str] | None = None,
        seed: int = 0,
        open_round: bool = True,
        windows: tuple[Window, Window] | None = None,
        witnesses: WitnessPolicy | None = None,
    ) -> DemoRound:
        config, trustees = demo_config(
            wards=wards, trustees=trustee_keys, threshold=threshold, now=NOW
        )
        if witnesses is not None:
            config = dataclasses.replace(config, witnesses=witnesses)
        if windows is not None:
            config = dataclasses.replace(config, issuance=windows[0], voting=windows[1])
        ward_ids = [w.id for w in config.district.wards]
        keys = dict(zip(ward_ids, issuer_pool, strict=False))
        store = MemoryStore() if store is None else store
        clock = Clock() if clock is None else clock
        engine = Round.create(
            store, config, organizer=organizer, key_bits=2048, issuer_keys=keys, clock=clock
        )
        if codes is None:
            codes = seeded_codes(voters * len(ward_ids), seed)
        roster = [(code, ward_ids[i // voters]) for i, code in enumerate(codes)]
        engine.add_invitations(roster)
        demo = DemoRound(engine, store, config, trustees, roster, clock, keys)
        if open_round:
            demo.open()
        return demo

    return make


@pytest.fixture(scope="session")
def foreign_issuer(issuer_pool: tuple[IssuerKey, ...]) -> IssuerKey:
    """An issuer key no demo round uses (demo rounds have at most 3 wards)."""
    return issuer_pool[-1]


def all_answers(manifest: Manifest, ward: str, level: str) -> dict[str, Any]:
    """Every criterion of every subject of ``ward`` rated ``level``, no comments."""
    return {
        s.id: {"ratings": {c.id: level for c in manifest.questionnaire.criteria}, "comments": {}}
        for s in manifest.subjects_of(ward)
    }


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster for this test process. Without PostgreSQL's binaries
    the test is skipped, but fails under ``CI=true``: ``make test`` installs them."""
    try:
        cluster = PgCluster()
    except NoPostgres as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty PostgreSQL schema of the test cluster, as a ``--database`` URL."""
    return pg_cluster.fresh_url()


BACK_ENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=BACK_ENDS)
def new_database(request: pytest.FixtureRequest) -> Callable[[], str | None]:
    """:func:`database` for a module's shared fixtures (the module runs once per back end):
    each call, a new database of the back end (None for SQLite in a new data directory)."""
    if request.param == "sqlite":
        return lambda: None
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.fresh_url


@pytest.fixture(params=BACK_ENDS)
def database(request: pytest.FixtureRequest) -> str | None:
    """Each back end in turn: None (SQLite in the data directory) or a PostgreSQL URL (a
    test of the whole suite, not of the fast subset: its cluster takes a second to start)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url
