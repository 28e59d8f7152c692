"""Made-up rounds for the series, disclosure and plan tests (a helper, not tests).

A round here is a manifest of a small district and results whose counts are consistent the
way the tally makes them (protocol section 7.5): each person rated has, per criterion, as many
ratings as their ward has valid ballots, and the roles and the district add up the people
rated. No ballot is cast: the modules under test read the results only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric import rsa

from anonballot.district import District, Subject, Ward
from anonballot.manifest import Manifest
from anonballot.signing import SigningKey
from anonballot.statements import (
    DistrictResult,
    Results,
    RoleResult,
    SubjectResult,
    WardCounts,
)
from anonballot.testing import DEMO_TRUSTEES, demo_config
from anonballot.testing.district import ROLES
from anonballot.tokens import IssuerPublicKey
from anonballot.trustee import HpkePrivateKey, TrusteeKey

ORGANIZER = SigningKey(bytes(range(32)))
"""The organizer key of every made-up round (fixed, so that tests are reproducible)."""

BASE_CONFIG, _ = demo_config(
    wards=1,
    round_id="base",
    trustees=[
        TrusteeKey(
            tid, HpkePrivateKey.from_bytes(bytes([i + 1]) * 32), SigningKey(bytes([i + 101]) * 32)
        )
        for i, (tid, _) in enumerate(DEMO_TRUSTEES)
    ],
    now=dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC),
)
# The default form as it was when docs/plans.md's example was signed (2,000 characters a
# comment field, before the cap on leaves of protocol section 6.3): the manifests here are
# made by Manifest.build, which takes a form from before the cap, so their mids stay.
BASE_CONFIG = dataclasses.replace(
    BASE_CONFIG,
    questionnaire=dataclasses.replace(
        BASE_CONFIG.questionnaire,
        comments=tuple(
            dataclasses.replace(c, max_chars=2000) for c in BASE_CONFIG.questionnaire.comments
        ),
    ),
)
"""The demo questionnaire, trustees and windows, fixed: a round's ``mid`` is reproducible."""
LEVELS = BASE_CONFIG.questionnaire.answer_ids
CRITERIA = tuple(c.id for c in BASE_CONFIG.questionnaire.criteria)
COMMENT_FIELDS = tuple(c.id for c in BASE_CONFIG.questionnaire.comments)

Posts = Mapping[str, Sequence[tuple[str, str]]]
"""Ward id to its people rated, each ``(subject id, role id)``; roles: secretary, chairman."""


def _unused_issuer_key(n: int) -> IssuerPublicKey:
    """A well-formed RSA public key that is never used (no ballots are cast here)."""
    return IssuerPublicKey.from_cryptography(
        rsa.RSAPublicNumbers(65537, (1 << 2047) | (2 * n + 1)).public_key()
    )


def make_manifest(round_id: str, posts: Posts, *, min_group: int = 5) -> Manifest:
    """The manifest of a round of the wards and people rated of ``posts``."""
    wards = tuple(Ward(w, {"vi": f"Phường {w}", "en": f"{w} ward"}) for w in posts)
    subjects = tuple(
        Subject(sid, w, role, {"vi": f"Ông/bà {sid}", "en": f"Person {sid}"})
        for w, people in posts.items()
        for sid, role in people
    )
    district = District(BASE_CONFIG.district.name, wards, ROLES, subjects)
    config = dataclasses.replace(
        BASE_CONFIG,
        round_id=round_id,
        origin=f"district.example/{round_id}",
        district=district,
        min_group=min_group,
    )
    return Manifest.build(
        config,
        eligible=dict.fromkeys(posts, 100),
        issuer_keys={w: _unused_issuer_key(i) for i, w in enumerate(posts)},
        organizer_key=ORGANIZER.public_key,
        log_key=ORGANIZER.public_key,
    )


def _partition(total: int, parts: int, rng: random.Random) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def make_results(manifest: Manifest, valid: Mapping[str, int], seed: int = 0) -> Results:
    """Results with ``valid[ward]`` valid ballots per ward and random consistent counts."""
    rng = random.Random(seed)
    q = manifest.questionnaire
    levels = q.answer_ids
    wards = {
        w.id: WardCounts(w.eligible, valid[w.id] + 1, valid[w.id] + 1, valid[w.id], 1)
        for w in manifest.wards
    }
    subjects: dict[str, SubjectResult] = {}
    for s in manifest.subjects:
        n = valid[s.ward]
        criteria = {
            c.id: dict(zip(levels, _partition(n, len(levels), rng), strict=True))
            for c in q.criteria
        }
        comments = {
            f.id: tuple(sorted(f"{f.id} {s.id} {i}" for i in range(rng.randint(0, 2))))
            for f in q.comments
        }
        subjects[s.id] = SubjectResult(s.ward, s.role, n, criteria, comments)

    def added(keep: Sequence[str]) -> dict[str, dict[str, int]]:
        return {
            c.id: {lv: sum(subjects[s].criteria[c.id][lv] for s in keep) for lv in levels}
            for c in q.criteria
        }

    roles = {}
    for r in manifest.roles:
        mine = [s.id for s in manifest.subjects if s.role == r.id]
        roles[r.id] = RoleResult(len(mine), sum(subjects[s].ballots for s in mine), added(mine))
    district = DistrictResult(sum(valid.values()), added([s.id for s in manifest.subjects]))
    return Results(
        round=manifest.mid,
        tree_size=sum(c.ballots for c in wards.values()),
        root=bytes(32),
        trustees=(manifest.trustees[0].id,),
        wards=wards,
        subjects=subjects,
        roles=roles,
        district=district,
        invalid=(),
    )
